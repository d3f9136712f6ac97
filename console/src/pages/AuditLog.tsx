import type { ReactNode } from "react";
import { Col, Input, InputNumber, Row, Select, Space, Table, Typography } from "antd";
import { api, call, type Schemas } from "../api";
import { useT } from "../i18n";
import { num, str, useQuery } from "../router";
import { ErrorBanner, fmt, Json, useLoad } from "./common";

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
        expandable={{ expandedRowRender: (e) => (
          <Row gutter={16}>
            <Col span={12}><Typography.Text strong>{t("before")}</Typography.Text><Json value={e.before} /></Col>
            <Col span={12}><Typography.Text strong>{t("after")}</Typography.Text><Json value={e.after} /></Col>
          </Row>
        ) }}
        columns={[
          { title: t("when"), dataIndex: "created_at", render: fmt, width: 180 },
          { title: t("actor"), render: (_, e) => e.actor.username },
          { title: t("action"), dataIndex: "action" },
          { title: t("target"), render: (_, e) => `${e.target_type} ${e.target_id}` },
          { title: t("changes"), render: (_, e) => <Changes entry={e} /> },
        ]}
      />
    </>
  );
}

type Snapshot = Record<string, unknown> | null;

// The fields an entry's summary names an object by, when it was created
// or deleted (an import's counts included).
const identity = ["username", "name", "mac_address", "status", "created", "updated", "failed"];

const short = (v: unknown) => {
  const s = JSON.stringify(v) ?? "—";
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
};

/**
 * Changes sums an entry up: the fields a write changed (before → after),
 * or what a write created or deleted; the full snapshots are in the
 * expanded row.
 */
function Changes({ entry }: { entry: Entry }) {
  const t = useT();
  const before = entry.before as Snapshot;
  const after = entry.after as Snapshot;
  const line = (k: string, v: ReactNode) => (
    <div key={k}><Typography.Text code>{k}</Typography.Text> {v}</div>
  );
  if (before && after) {
    const keys = [...new Set([...Object.keys(after), ...Object.keys(before)])].filter(
      (k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]),
    );
    if (!keys.length) return <Typography.Text type="secondary">{t("noChange")}</Typography.Text>;
    return <>{keys.map((k) => line(k, `${short(before[k])} → ${short(after[k])}`))}</>;
  }
  const one = after ?? before;
  if (!one) return <>—</>;
  return (
    <>
      <Typography.Text type="secondary">{after ? t("createdObj") : t("deletedObj")}</Typography.Text>
      {identity.filter((k) => k in one).map((k) => line(k, short(one[k])))}
    </>
  );
}
