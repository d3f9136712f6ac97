import { Input, InputNumber, Select, Space, Table, Typography } from "antd";
import { api, call, type Schemas } from "../api";
import { useT } from "../i18n";
import { num, str, useQuery } from "../router";
import { ErrorBanner, fmt, useLoad } from "./common";

type Entry = Schemas["AuditEntry"];

export default function AuditLog() {
  const t = useT();
  const [q, setQ] = useQuery();
  const page = num(q, "page") ?? 1;
  const pageSize = num(q, "page_size") ?? 10;
  const query = { page, page_size: pageSize, actor_id: num(q, "actor_id"), action: str(q, "action"),
    target_type: str(q, "target_type") as Schemas["AuditTargetType"] | undefined, target_id: str(q, "target_id") };
  const { data, error, loading } = useLoad(
    () => call(api.GET("/api/v1/admin/audit-log/", { params: { query } })),
    [q.toString()],
  );
  const json = (v: unknown) =>
    v ? <Typography.Text code style={{ whiteSpace: "pre-wrap", fontSize: 11 }}>{JSON.stringify(v)}</Typography.Text> : "—";
  return (
    <>
      <Space wrap style={{ marginBottom: 16 }}>
        <InputNumber placeholder={t("actor")} min={1} defaultValue={query.actor_id} onChange={(v) => setQ({ actor_id: v ?? undefined })} />
        <Input.Search placeholder={t("action")} defaultValue={query.action} allowClear onSearch={(v) => setQ({ action: v })} style={{ width: 200 }} />
        <Select style={{ width: 180 }} value={q.get("target_type") ?? ""} prefix={`${t("target")}:`} onChange={(v) => setQ({ target_type: v, target_id: v ? q.get("target_id") : undefined })}
          options={[{ value: "", label: t("all") }, ...["user", "device", "device_type"].map((v) => ({ value: v, label: v }))]} />
        {q.get("target_type") && (
          <Input.Search placeholder={t("id")} defaultValue={query.target_id} allowClear onSearch={(v) => setQ({ target_id: v })} style={{ width: 120 }} />
        )}
      </Space>
      <ErrorBanner error={error} />
      <Table<Entry>
        rowKey="id" loading={loading} dataSource={data?.results ?? []} locale={{ emptyText: t("empty") }}
        pagination={{ current: page, pageSize, total: data?.count ?? 0, showSizeChanger: true }}
        onChange={(p) => setQ({ page: p.current, page_size: p.pageSize })}
        columns={[
          { title: t("when"), dataIndex: "created_at", render: fmt, width: 180 },
          { title: t("actor"), render: (_, e) => e.actor.username },
          { title: t("action"), dataIndex: "action" },
          { title: t("target"), render: (_, e) => `${e.target_type} ${e.target_id}` },
          { title: t("before"), dataIndex: "before", render: json },
          { title: t("after"), dataIndex: "after", render: json },
        ]}
      />
    </>
  );
}
