import { useState } from "react";
import { Button, DatePicker, Drawer, Input, InputNumber, Space, Table, Tag } from "antd";
import dayjs from "dayjs";
import { api, call, type Schemas } from "../api";
import { useT } from "../i18n";
import { num, str, useQuery } from "../router";
import { ErrorBanner, fmt, useLoad } from "./common";

type Conv = Schemas["AuditConversation"];

export default function Conversations() {
  const t = useT();
  const [q, setQ] = useQuery();
  const page = num(q, "page") ?? 1;
  const pageSize = num(q, "page_size") ?? 10;
  const query = { page, page_size: pageSize, user_id: num(q, "user_id"), device_id: num(q, "device_id"),
    text: str(q, "text"), from: str(q, "from"), to: str(q, "to") };
  const { data, error, loading } = useLoad(
    () => call(api.GET("/api/v1/admin/conversations/", { params: { query } })),
    [q.toString()],
  );
  const [open, setOpen] = useState<Conv | null>(null);
  return (
    <>
      <Space wrap style={{ marginBottom: 16 }}>
        <InputNumber placeholder={t("user")} min={1} defaultValue={query.user_id} onChange={(v) => setQ({ user_id: v ?? undefined })} />
        <InputNumber placeholder={t("device")} min={1} defaultValue={query.device_id} onChange={(v) => setQ({ device_id: v ?? undefined })} />
        <Input.Search placeholder={t("text")} defaultValue={query.text} allowClear onSearch={(v) => setQ({ text: v })} style={{ width: 220 }} />
        <DatePicker.RangePicker
          value={query.from && query.to ? [dayjs(query.from), dayjs(query.to)] : null}
          onChange={(r) => setQ({ from: r?.[0]?.format("YYYY-MM-DD"), to: r?.[1]?.format("YYYY-MM-DD") })}
        />
      </Space>
      <ErrorBanner error={error} />
      <Table<Conv>
        rowKey="id" loading={loading} dataSource={data?.results ?? []} locale={{ emptyText: t("empty") }}
        pagination={{ current: page, pageSize, total: data?.count ?? 0, showSizeChanger: true }}
        onChange={(p) => setQ({ page: p.current, page_size: p.pageSize })}
        columns={[
          { title: t("id"), dataIndex: "id" },
          { title: t("title"), dataIndex: "title", render: (v: string, c) => <a onClick={() => setOpen(c)}>{v || "—"}</a> },
          { title: t("user"), render: (_, c) => c.owner.username },
          { title: t("device"), render: (_, c) => c.device?.mac_address ?? "—" },
          { title: t("messages"), dataIndex: "message_count" },
          { title: t("lastMessage"), dataIndex: "last_message_at", render: fmt },
          { title: t("actions"), render: (_, c) => <Button size="small" onClick={() => setOpen(c)}>{t("view")}</Button> },
        ]}
      />
      {open && <Messages conv={open} onClose={() => setOpen(null)} />}
    </>
  );
}

function Messages({ conv, onClose }: { conv: Conv; onClose: () => void }) {
  const t = useT();
  const { data, error, loading } = useLoad(
    () => call(api.GET("/api/v1/admin/conversations/{id}/messages/", { params: { path: { id: conv.id }, query: { page_size: 100 } } })),
    [conv.id],
  );
  return (
    <Drawer open width={640} title={conv.title || `#${conv.id}`} onClose={onClose}>
      <ErrorBanner error={error} />
      <Table<Schemas["ChatMessage"]> rowKey="id" size="small" loading={loading} pagination={false} dataSource={data?.results ?? []}
        columns={[
          { title: t("role"), dataIndex: "role", render: (r: string) => <Tag color={r === "user" ? "blue" : "purple"}>{r}</Tag> },
          { title: t("content"), dataIndex: "content" },
          { title: t("when"), dataIndex: "created_at", render: fmt },
        ]} />
    </Drawer>
  );
}
