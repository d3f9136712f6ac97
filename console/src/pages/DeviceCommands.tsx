import { useState } from "react";
import { App, Button, Card, Descriptions, Form, Input, InputNumber, Modal, Select, Space, Table, Tag, Tooltip, Typography } from "antd";
import { api, call, type Schemas } from "../api";
import { useT, type Key } from "../i18n";
import { num, str, useQuery } from "../router";
import { fmt, Json, useAction, useLoad } from "./common";

type Command = Schemas["DeviceCommand"];
type Status = Schemas["DeviceCommandStatus"];

const statuses: Status[] = ["queued", "sent", "acknowledged", "failed", "expired"];
const colors: Record<Status, string> = { queued: "gold", sent: "blue", acknowledged: "green", failed: "red", expired: "default" };
const pending = (c: Command) => c.status === "queued" || c.status === "sent";
const json = (v: unknown) => (v && Object.keys(v as object).length ? JSON.stringify(v) : "—");

/**
 * A device's persistent commands (adminListDeviceCommands), newest first:
 * filter by status and the page are in the URL (cmd_status, cmd_page).
 * An operator issues a command and cancels a pending one.
 */
export default function DeviceCommands({ id, bound }: { id: number; bound: boolean }) {
  const t = useT();
  const { modal } = App.useApp();
  const act = useAction();
  const [q, setQ] = useQuery();
  const page = num(q, "cmd_page") ?? 1;
  const status = str(q, "cmd_status") as Status | undefined;
  const { data, loading, error, reload } = useLoad(
    () => call(api.GET("/api/v1/admin/devices/{id}/commands/", { params: { path: { id }, query: { status, page, page_size: 10 } } })),
    [id, status, page],
  );
  // How many are pending (queued or sent), whatever the filter shows.
  const pendingCount = useLoad(async () => {
    const count = (s: Status) =>
      call(api.GET("/api/v1/admin/devices/{id}/commands/", { params: { path: { id }, query: { status: s, page_size: 1 } } })).then((p) => p.count);
    const [queued, sent] = await Promise.all([count("queued"), count("sent")]);
    return queued + sent;
  }, [id, data]);
  const [issuing, setIssuing] = useState(false);
  const cancel = (c: Command) =>
    modal.confirm({
      title: t("confirmTitle"), content: t("confirmCancelCommand"), okButtonProps: { danger: true },
      onOk: () =>
        act(() => call(api.POST("/api/v1/admin/devices/{id}/commands/{command_id}/cancel/", {
          params: { path: { id, command_id: c.id } },
        })), t("commandCancelled")).then((ok) => ok && reload()),
    });
  return (
    <Card data-testid="commands"
      title={
        <Space>
          {t("commands")}
          <Tag color={pendingCount.data ? "gold" : undefined} data-testid="pending-count">{t("pending")}: {pendingCount.data ?? "…"}</Tag>
        </Space>
      }
      extra={
        <Space wrap>
          <Select style={{ width: 200 }} value={status ?? ""} prefix={`${t("status")}:`} data-testid="command-status"
            onChange={(v) => setQ({ cmd_status: v, cmd_page: undefined })}
            options={[{ value: "", label: t("all") }, ...statuses.map((s) => ({ value: s, label: t(`cmd_${s}` as Key) }))]} />
          <Button onClick={reload}>{t("refresh")}</Button>
          <Tooltip title={bound ? undefined : t("needsOwner")}>
            <Button type="primary" disabled={!bound} onClick={() => setIssuing(true)} data-testid="issue-command">{t("issueCommand")}</Button>
          </Tooltip>
        </Space>
      }>
      {error && <Typography.Text type="danger">{error}</Typography.Text>}
      <Table<Command> rowKey="id" size="small" loading={loading} dataSource={data?.results ?? []} locale={{ emptyText: t("empty") }}
        tableLayout="fixed"
        pagination={{ current: page, pageSize: 10, total: data?.count ?? 0, hideOnSinglePage: true,
          onChange: (p) => setQ({ cmd_page: p, page: undefined }) }}
        expandable={{ expandedRowRender: (c) => <CommandDetail command={c} /> }}
        columns={[
          { title: t("id"), dataIndex: "id", width: 64 },
          { title: t("commandName"), dataIndex: "name", width: 150, ellipsis: true,
            render: (n: string) => <Typography.Text code>{n}</Typography.Text> },
          { title: t("paramsCol"), dataIndex: "params", render: json, ellipsis: true },
          { title: t("status"), dataIndex: "status", width: 120,
            render: (s: Status) => <Tag color={colors[s]}>{t(`cmd_${s}` as Key)}</Tag> },
          { title: t("attempts"), dataIndex: "attempts", width: 90 },
          { title: t("createdAt"), dataIndex: "created_at", render: fmt, width: 190 },
          { title: t("result"), dataIndex: "result", render: json, ellipsis: true },
          { title: t("actions"), width: 100, render: (_, c) => pending(c) && (
            <Button size="small" danger onClick={() => cancel(c)} data-testid={`cancel-command-${c.id}`}>{t("cancelCommand")}</Button>
          ) },
        ]} />
      {issuing && <IssueCommand id={id} onClose={(changed) => { setIssuing(false); if (changed) reload(); }} />}
    </Card>
  );
}

// CommandDetail is a command's row expanded: every field, the JSON in full.
function CommandDetail({ command: c }: { command: Command }) {
  const t = useT();
  return (
    <Descriptions size="small" column={2} bordered>
      <Descriptions.Item label={t("issuer")}>#{c.issuer_id}</Descriptions.Item>
      <Descriptions.Item label={t("idemKey")}>{c.idempotency_key ?? "—"}</Descriptions.Item>
      <Descriptions.Item label={t("sentAt")}>{fmt(c.sent_at)}</Descriptions.Item>
      <Descriptions.Item label={t("expiresAt")}>{fmt(c.expires_at)}</Descriptions.Item>
      <Descriptions.Item label={t("completedAt")} span={2}>{fmt(c.completed_at)}</Descriptions.Item>
      <Descriptions.Item label={t("paramsCol")} span={2}><Json value={c.params} /></Descriptions.Item>
      <Descriptions.Item label={t("result")} span={2}><Json value={c.result} /></Descriptions.Item>
    </Descriptions>
  );
}

function IssueCommand({ id, onClose }: { id: number; onClose: (changed: boolean) => void }) {
  const t = useT();
  const act = useAction();
  const [form] = Form.useForm();
  const send = async () => {
    const v = await form.validateFields();
    let params: Record<string, unknown> = {};
    if (v.params?.trim()) {
      try {
        params = JSON.parse(v.params);
      } catch (e) {
        form.setFields([{ name: "params", errors: [(e as Error).message] }]);
        return;
      }
    }
    const ok = await act(() => call(api.POST("/api/v1/admin/devices/{id}/commands/", {
      params: { path: { id } },
      body: { name: v.name, params, ttl_seconds: v.ttl_seconds ?? undefined, idempotency_key: v.idempotency_key || undefined },
    })), t("queued"));
    if (ok) onClose(true);
  };
  return (
    <Modal open title={t("issueCommand")} onOk={send} onCancel={() => onClose(false)} okText={t("send")} cancelText={t("cancel")}>
      <Form form={form} layout="vertical" initialValues={{ params: "{}", ttl_seconds: 3600 }}>
        <Form.Item name="name" label={t("commandName")} rules={[{ required: true, message: t("required") }]}>
          <Input maxLength={64} placeholder="play_sound" />
        </Form.Item>
        <Form.Item name="params" label={t("params")}>
          <Input.TextArea rows={4} style={{ fontFamily: "monospace" }} />
        </Form.Item>
        <Form.Item name="ttl_seconds" label={t("ttlSeconds")}>
          <InputNumber min={1} max={2592000} style={{ width: "100%" }} />
        </Form.Item>
        <Form.Item name="idempotency_key" label={t("idempotencyKey")}>
          <Input maxLength={64} />
        </Form.Item>
      </Form>
    </Modal>
  );
}
