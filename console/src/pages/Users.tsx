import { useState } from "react";
import { App, Button, Form, Input, InputNumber, Modal, Select, Space, Switch, Table, Tag } from "antd";
import { api, call, type Schemas } from "../api";
import { useT } from "../i18n";
import { bool, num, str, useQuery } from "../router";
import { ErrorBanner, fmt, ordering, sortOrder, useAction, useLoad } from "./common";

type User = Schemas["User"];

export default function Users() {
  const t = useT();
  const { modal } = App.useApp();
  const act = useAction();
  const [q, setQ] = useQuery();
  const page = num(q, "page") ?? 1;
  const pageSize = num(q, "page_size") ?? 10;
  const order = str(q, "ordering") as Schemas["UserOrdering"] | undefined;
  const query = {
    page,
    page_size: pageSize,
    search: str(q, "search"),
    is_active: bool(q, "is_active"),
    is_staff: bool(q, "is_staff"),
    ordering: order,
  };
  const { data, error, loading, reload } = useLoad(
    () => call(api.GET("/api/v1/admin/users/", { params: { query } })),
    [q.toString()],
  );
  const [editing, setEditing] = useState<User | "new" | null>(null);
  const [resetting, setResetting] = useState<User | null>(null);

  const setActive = (u: User, active: boolean) => {
    const run = () =>
      act(() =>
        call(
          active
            ? api.POST("/api/v1/admin/users/{id}/enable/", { params: { path: { id: u.id } } })
            : api.POST("/api/v1/admin/users/{id}/disable/", { params: { path: { id: u.id } } }),
        ),
      ).then(reload);
    if (active) void run();
    else modal.confirm({ title: t("confirmTitle"), content: t("confirmDisable"), onOk: run });
  };
  const remove = (u: User) =>
    modal.confirm({
      title: t("confirmTitle"),
      content: t("confirmDeleteUser"),
      okButtonProps: { danger: true },
      onOk: () => act(() => call(api.DELETE("/api/v1/admin/users/{id}/", { params: { path: { id: u.id } } }))).then(reload),
    });
  const bools = [
    { value: "", label: t("all") },
    { value: "true", label: t("yes") },
    { value: "false", label: t("no") },
  ];
  return (
    <>
      <Space wrap style={{ marginBottom: 16 }}>
        <Input.Search
          placeholder={t("search")}
          defaultValue={query.search}
          allowClear
          onSearch={(v) => setQ({ search: v })}
          style={{ width: 240 }}
          data-testid="user-search"
        />
        <Select style={{ width: 140 }} value={q.get("is_active") ?? ""} options={bools} onChange={(v) => setQ({ is_active: v })}
          prefix={`${t("active")}:`} />
        <Select style={{ width: 140 }} value={q.get("is_staff") ?? ""} options={bools} onChange={(v) => setQ({ is_staff: v })}
          prefix={`${t("staff")}:`} />
        <Button type="primary" onClick={() => setEditing("new")}>
          {t("createUser")}
        </Button>
      </Space>
      <ErrorBanner error={error} />
      <Table<User>
        rowKey="id"
        loading={loading}
        dataSource={data?.results ?? []}
        locale={{ emptyText: t("empty") }}
        pagination={{ current: page, pageSize, total: data?.count ?? 0, showSizeChanger: true }}
        onChange={(p, _f, s) =>
          setQ({ page: p.current, page_size: p.pageSize, ordering: ordering(s) })
        }
        columns={[
          { title: t("id"), dataIndex: "id", sorter: true, sortOrder: sortOrder(order, "id") },
          { title: t("username"), dataIndex: "username", sorter: true, sortOrder: sortOrder(order, "username") },
          { title: t("nickname"), dataIndex: "nickname" },
          { title: t("favorability"), dataIndex: "favorability", sorter: true, sortOrder: sortOrder(order, "favorability") },
          {
            title: t("status"),
            render: (_, u) => (
              <Space>
                {u.is_active ? <Tag color="green">{t("active")}</Tag> : <Tag>{t("disabled")}</Tag>}
                {u.is_staff && <Tag color="blue">{t("staff")}</Tag>}
              </Space>
            ),
          },
          { title: t("joined"), dataIndex: "date_joined", render: fmt, sorter: true, sortOrder: sortOrder(order, "date_joined") },
          { title: t("lastLogin"), dataIndex: "last_login", render: fmt, sorter: true, sortOrder: sortOrder(order, "last_login") },
          {
            title: t("actions"),
            render: (_, u) => (
              <Space wrap>
                <Button size="small" onClick={() => setEditing(u)}>{t("edit")}</Button>
                <Button size="small" onClick={() => setActive(u, !u.is_active)} data-testid={`toggle-${u.username}`}>
                  {u.is_active ? t("disable") : t("enable")}
                </Button>
                <Button size="small" onClick={() => setResetting(u)}>{t("resetPassword")}</Button>
                <Button size="small" danger onClick={() => remove(u)}>{t("delete")}</Button>
              </Space>
            ),
          },
        ]}
      />
      {editing && <UserForm user={editing === "new" ? null : editing} onClose={(changed) => { setEditing(null); if (changed) reload(); }} />}
      {resetting && <ResetPassword user={resetting} onClose={() => setResetting(null)} />}
    </>
  );
}

function UserForm({ user, onClose }: { user: User | null; onClose: (changed: boolean) => void }) {
  const t = useT();
  const act = useAction();
  const [form] = Form.useForm();
  const save = async () => {
    const v = await form.validateFields();
    const ok = user
      ? await act(() =>
          call(api.PATCH("/api/v1/admin/users/{id}/", {
            params: { path: { id: user.id } },
            body: { nickname: v.nickname, favorability: v.favorability, mbti: v.mbti ?? "", is_staff: v.is_staff, is_active: v.is_active },
          })),
          t("saved"),
        )
      : await act(() =>
          call(api.POST("/api/v1/admin/users/", {
            body: { username: v.username, password: v.password, nickname: v.nickname, is_staff: v.is_staff, is_active: v.is_active },
          })),
          t("saved"),
        );
    if (ok) onClose(true);
  };
  return (
    <Modal open title={user ? t("editUser") : t("createUser")} onOk={save} onCancel={() => onClose(false)} okText={t("save")} cancelText={t("cancel")}>
      <Form form={form} layout="vertical" initialValues={user ?? { is_active: true, is_staff: false }}>
        {!user && (
          <>
            <Form.Item name="username" label={t("username")} rules={[{ required: true, message: t("required") }]}>
              <Input />
            </Form.Item>
            <Form.Item name="password" label={t("password")} rules={[{ required: true, min: 8, message: t("required") }]}>
              <Input.Password autoComplete="new-password" />
            </Form.Item>
          </>
        )}
        <Form.Item name="nickname" label={t("nickname")}>
          <Input maxLength={64} />
        </Form.Item>
        {user && (
          <>
            <Form.Item name="favorability" label={t("favorability")}>
              <InputNumber min={0} max={100} />
            </Form.Item>
            <Form.Item name="mbti" label={t("mbti")}>
              <Input maxLength={4} />
            </Form.Item>
          </>
        )}
        <Space>
          <Form.Item name="is_staff" label={t("staff")} valuePropName="checked">
            <Switch />
          </Form.Item>
          <Form.Item name="is_active" label={t("active")} valuePropName="checked">
            <Switch />
          </Form.Item>
        </Space>
      </Form>
    </Modal>
  );
}

function ResetPassword({ user, onClose }: { user: User; onClose: () => void }) {
  const t = useT();
  const act = useAction();
  const [form] = Form.useForm();
  const save = async () => {
    const v = await form.validateFields();
    const ok = await act(() =>
      call(api.POST("/api/v1/admin/users/{id}/password/", { params: { path: { id: user.id } }, body: { password: v.password } })),
    );
    if (ok) onClose();
  };
  return (
    <Modal open title={`${t("resetPassword")}: ${user.username}`} onOk={save} onCancel={onClose} okText={t("save")} cancelText={t("cancel")}>
      <p>{t("confirmReset")}</p>
      <Form form={form} layout="vertical">
        <Form.Item name="password" label={t("newPassword")} rules={[{ required: true, min: 8, message: t("required") }]}>
          <Input.Password autoComplete="new-password" />
        </Form.Item>
      </Form>
    </Modal>
  );
}
