import { useState } from "react";
import { App, Badge, Button, Card, Descriptions, Form, Input, Modal, Select, Space, Table, Tag } from "antd";
import { api, call, type Schemas } from "../api";
import { useT } from "../i18n";
import { navigate } from "../router";
import { ErrorBanner, fmt, useAction, useLoad } from "./common";
import { useTypes } from "./Devices";
import DeviceCommands from "./DeviceCommands";

export default function DeviceDetail({ id }: { id: number }) {
  const t = useT();
  const { modal } = App.useApp();
  const act = useAction();
  const { data, error, loading, reload } = useLoad(
    () => call(api.GET("/api/v1/admin/devices/{id}/", { params: { path: { id } } })),
    [id],
  );
  const types = useTypes();
  const [editing, setEditing] = useState(false);
  const [pushing, setPushing] = useState(false);
  const path = { params: { path: { id } } };
  const confirm = (content: string, run: () => Promise<unknown>, after?: () => void) =>
    modal.confirm({ title: t("confirmTitle"), content, okButtonProps: { danger: true },
      onOk: () => act(run).then((ok) => ok && (after ?? reload)()) });
  const d = data?.device;
  return (
    <Space direction="vertical" style={{ width: "100%" }} size="large">
      <ErrorBanner error={error} />
      <Card loading={loading && !data} title={d ? `${t("detail")} ${d.mac_address}` : t("loading")}
        extra={d && (
          <Space wrap>
            <Button onClick={() => setEditing(true)}>{t("edit")}</Button>
            <Button onClick={() => setPushing(true)} disabled={!d.owner}>{t("push")}</Button>
            <Button data-testid="unbind" disabled={!d.owner} onClick={() => confirm(t("confirmUnbind"), () => call(api.POST("/api/v1/admin/devices/{id}/unbind/", path)))}>{t("unbind")}</Button>
            <Button onClick={() => confirm(t("confirmDisconnect"), () => call(api.POST("/api/v1/admin/devices/{id}/disconnect/", path)))}>{t("disconnect")}</Button>
            <Button danger onClick={() => confirm(t("confirmDeleteDevice"), () => call(api.DELETE("/api/v1/admin/devices/{id}/", path)), () => navigate("devices"))}>{t("delete")}</Button>
          </Space>
        )}>
        {d && data && (
          <Descriptions column={2} bordered size="small">
            <Descriptions.Item label={t("presence")}>
              <Badge status={data.online ? "success" : "default"} text={data.online ? t("online") : t("offline")} />
            </Descriptions.Item>
            <Descriptions.Item label={t("status")}>{d.status === "connected" ? t("connected") : t("disconnected")}</Descriptions.Item>
            <Descriptions.Item label={t("name")}>{d.name || "—"}</Descriptions.Item>
            <Descriptions.Item label={t("type")}>{d.device_type?.name ?? t("noType")}</Descriptions.Item>
            <Descriptions.Item label={t("owner")}>{d.owner ? `${d.owner.username} (#${d.owner.id})` : <Tag>{t("unbound")}</Tag>}</Descriptions.Item>
            <Descriptions.Item label={t("boundAt")}>{fmt(d.bound_at)}</Descriptions.Item>
            <Descriptions.Item label={t("battery")}>{d.battery_level ?? "—"}</Descriptions.Item>
            <Descriptions.Item label={t("firmware")}>{d.firmware_version || "—"}</Descriptions.Item>
            <Descriptions.Item label={t("wifi")}>{d.wifi_name || "—"}</Descriptions.Item>
            <Descriptions.Item label={t("lastSeen")}>{fmt(d.last_seen)}</Descriptions.Item>
          </Descriptions>
        )}
      </Card>
      {d && <DeviceCommands id={id} bound={!!d.owner} />}
      <Card title={t("history")}>
        <Table<Schemas["Binding"]> rowKey="id" size="small" pagination={false} dataSource={data?.bindings ?? []} locale={{ emptyText: t("empty") }}
          columns={[
            { title: t("user"), render: (_, b) => `${b.user.username} (#${b.user.id})` },
            { title: t("boundAt"), dataIndex: "bound_at", render: fmt },
            { title: t("unboundAt"), dataIndex: "unbound_at", render: (v: string | null) => (v ? fmt(v) : <Tag color="green">{t("active")}</Tag>) },
          ]} />
      </Card>
      {editing && d && (
        <EditDevice device={d} types={types.data?.results ?? []} onClose={(changed) => { setEditing(false); if (changed) reload(); }} />
      )}
      {pushing && <PushMessage id={id} onClose={() => setPushing(false)} />}
    </Space>
  );
}

function EditDevice({ device, types, onClose }: { device: Schemas["AdminDevice"]; types: Schemas["AdminDeviceType"][]; onClose: (changed: boolean) => void }) {
  const t = useT();
  const act = useAction();
  const [form] = Form.useForm();
  const save = async () => {
    const v = await form.validateFields();
    const ok = await act(() => call(api.PATCH("/api/v1/admin/devices/{id}/", {
      params: { path: { id: device.id } },
      body: { name: v.name ?? "", device_type_id: v.device_type_id ?? null },
    })), t("saved"));
    if (ok) onClose(true);
  };
  return (
    <Modal open title={t("edit")} onOk={save} onCancel={() => onClose(false)} okText={t("save")} cancelText={t("cancel")}>
      <Form form={form} layout="vertical" initialValues={{ name: device.name, device_type_id: device.device_type?.id }}>
        <Form.Item name="name" label={t("name")}><Input maxLength={100} /></Form.Item>
        <Form.Item name="device_type_id" label={t("type")}>
          <Select allowClear options={types.map((ty) => ({ value: ty.id, label: ty.name }))} />
        </Form.Item>
      </Form>
    </Modal>
  );
}

function PushMessage({ id, onClose }: { id: number; onClose: () => void }) {
  const t = useT();
  const act = useAction();
  const [form] = Form.useForm();
  const send = async () => {
    const v = await form.validateFields();
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(v.message);
    } catch (e) {
      form.setFields([{ name: "message", errors: [(e as Error).message] }]);
      return;
    }
    const ok = await act(() => call(api.POST("/api/v1/admin/devices/{id}/messages/", {
      params: { path: { id } },
      body: { type: v.type, message } as Schemas["DeviceMessage"],
    })), t("sent"));
    if (ok) onClose();
  };
  return (
    <Modal open title={t("push")} onOk={send} onCancel={onClose} okText={t("send")} cancelText={t("cancel")}>
      <Form form={form} layout="vertical" initialValues={{ type: "notification", message: '{"title": "Hello", "body": "From the console"}' }}>
        <Form.Item name="type" label={t("frameType")}>
          <Select options={["notification", "command", "weather", "chat"].map((v) => ({ value: v, label: v }))} />
        </Form.Item>
        <Form.Item name="message" label={t("payload")} rules={[{ required: true, message: t("required") }]}>
          <Input.TextArea rows={5} style={{ fontFamily: "monospace" }} />
        </Form.Item>
      </Form>
    </Modal>
  );
}
