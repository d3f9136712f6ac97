import { useState, type ReactNode } from "react";
import { Alert, Button, Card, Form, Input, Space } from "antd";
import { api, call, session } from "../api";
import { useT } from "../i18n";

export default function Login({ onLogin, lang }: { onLogin: () => void; lang: ReactNode }) {
  const t = useT();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (v: { username: string; password: string }) => {
    setBusy(true);
    setError(null);
    try {
      const data = await call(api.POST("/api/v1/admin/login/", { body: v }));
      session.set(data.token, data.user);
      onLogin();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div style={{ display: "flex", justifyContent: "center", paddingTop: "12vh" }}>
      <Card title={t("loginTitle")} extra={lang} style={{ width: 380 }}>
        <Form layout="vertical" onFinish={submit}>
          <Form.Item name="username" label={t("username")} rules={[{ required: true, message: t("required") }]}>
            <Input autoComplete="username" />
          </Form.Item>
          <Form.Item name="password" label={t("password")} rules={[{ required: true, message: t("required") }]}>
            <Input.Password autoComplete="current-password" />
          </Form.Item>
          <Space direction="vertical" style={{ width: "100%" }}>
            {error && <Alert type="error" message={error} showIcon />}
            <Button type="primary" htmlType="submit" loading={busy} block>
              {t("login")}
            </Button>
          </Space>
        </Form>
      </Card>
    </div>
  );
}
