import { useState } from "react";
import { App, Button, Form, Input, Modal, Space, Table } from "antd";
import { api, call, type Schemas } from "../api";
import { useT } from "../i18n";
import { num, useQuery } from "../router";
import { ErrorBanner, fmt, useAction, useLoad } from "./common";

type DeviceType = Schemas["AdminDeviceType"];

export default function DeviceTypes() {
  const t = useT();
  const { modal } = App.useApp();
  const act = useAction();
  const [q, setQ] = useQuery();
  const page = num(q, "page") ?? 1;
  const pageSize = num(q, "page_size") ?? 10;
  const { data, error, loading, reload } = useLoad(
    () => call(api.GET("/api/v1/admin/device-types/", { params: { query: { page, page_size: pageSize } } })),
    [q.toString()],
  );
  const [editing, setEditing] = useState<DeviceType | "new" | null>(null);
  const remove = (ty: DeviceType) =>
    modal.confirm({
      title: t("confirmTitle"), content: t("confirmDeleteType"), okButtonProps: { danger: true },
      onOk: () => act(() => call(api.DELETE("/api/v1/admin/device-types/{id}/", { params: { path: { id: ty.id } } }))).then(reload),
    });
  return (
    <>
      <Space style={{ marginBottom: 16 }}>
        <Button type="primary" onClick={() => setEditing("new")} data-testid="create-type">{t("createType")}</Button>
      </Space>
      <ErrorBanner error={error} />
      <Table<DeviceType>
        rowKey="id" loading={loading} dataSource={data?.results ?? []} locale={{ emptyText: t("empty") }}
        pagination={{ current: page, pageSize, total: data?.count ?? 0 }}
        onChange={(p) => setQ({ page: p.current, page_size: p.pageSize })}
        columns={[
          { title: t("id"), dataIndex: "id" },
          { title: t("name"), dataIndex: "name" },
          { title: t("description"), dataIndex: "description", ellipsis: true },
          { title: t("personaName"), dataIndex: "persona_name" },
          { title: t("voice"), dataIndex: "voice" },
          { title: t("joined"), dataIndex: "created_at", render: fmt },
          { title: t("actions"), render: (_, ty) => (
            <Space>
              <Button size="small" onClick={() => setEditing(ty)}>{t("edit")}</Button>
              <Button size="small" danger onClick={() => remove(ty)}>{t("delete")}</Button>
            </Space>
          ) },
        ]}
      />
      {editing && <TypeForm type={editing === "new" ? null : editing} onClose={(changed) => { setEditing(null); if (changed) reload(); }} />}
    </>
  );
}

function TypeForm({ type, onClose }: { type: DeviceType | null; onClose: (changed: boolean) => void }) {
  const t = useT();
  const act = useAction();
  const [form] = Form.useForm();
  const save = async () => {
    const v = await form.validateFields();
    const body = { name: v.name, description: v.description ?? "", persona_name: v.persona_name ?? "",
      persona_description: v.persona_description ?? "", prompt_template: v.prompt_template ?? "", voice: v.voice ?? "" };
    const ok = await act(() => call(type
      ? api.PATCH("/api/v1/admin/device-types/{id}/", { params: { path: { id: type.id } }, body })
      : api.POST("/api/v1/admin/device-types/", { body })), t("saved"));
    if (ok) onClose(true);
  };
  return (
    <Modal open width={640} title={type ? t("editType") : t("createType")} onOk={save} onCancel={() => onClose(false)} okText={t("save")} cancelText={t("cancel")}>
      <Form form={form} layout="vertical" initialValues={type ?? {}}>
        <Form.Item name="name" label={t("name")} rules={[{ required: true, message: t("required") }]}><Input maxLength={100} /></Form.Item>
        <Form.Item name="description" label={t("description")}><Input.TextArea rows={2} maxLength={1000} /></Form.Item>
        <Form.Item name="persona_name" label={t("personaName")}><Input maxLength={64} /></Form.Item>
        <Form.Item name="persona_description" label={t("personaDescription")}><Input.TextArea rows={3} maxLength={1000} /></Form.Item>
        <Form.Item name="prompt_template" label={t("promptTemplate")}><Input.TextArea rows={4} maxLength={8000} style={{ fontFamily: "monospace" }} /></Form.Item>
        <Form.Item name="voice" label={t("voice")}><Input maxLength={100} /></Form.Item>
      </Form>
    </Modal>
  );
}
