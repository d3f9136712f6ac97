import { useEffect, useState } from "react";
import { App as AntApp, Button, ConfigProvider, Layout, Menu, Select, Space, Typography } from "antd";
import enUS from "antd/locale/en_US";
import zhCN from "antd/locale/zh_CN";
import { api, session } from "./api";
import { initialLang, LangContext, saveLang, useT, type Lang } from "./i18n";
import { nonce } from "./nonce";
import { navigate, useLocation } from "./router";
import Login from "./pages/Login";
import Dashboard from "./pages/Dashboard";
import Users from "./pages/Users";
import Devices from "./pages/Devices";
import DeviceDetail from "./pages/DeviceDetail";
import DeviceTypes from "./pages/DeviceTypes";
import Conversations from "./pages/Conversations";
import AuditLog from "./pages/AuditLog";


export default function App() {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const setLang = (l: Lang) => {
    saveLang(l);
    setLangState(l);
  };
  useEffect(() => {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  }, [lang]);
  return (
    <LangContext.Provider value={{ lang, setLang }}>
      {/* antd's run-time <style> elements carry the page's CSP nonce (the
          rest of rc-util's get it from src/dynamicCSS.ts). */}
      <ConfigProvider csp={{ nonce }} locale={lang === "zh" ? zhCN : enUS}>
        <AntApp>
          <Shell />
        </AntApp>
      </ConfigProvider>
    </LangContext.Provider>
  );
}

function LangSwitch() {
  const t = useT();
  return (
    <LangContext.Consumer>
      {({ lang, setLang }) => (
        <span data-testid="lang">
          <Select
            aria-label={t("language")}
            size="small"
            value={lang}
            onChange={setLang}
            options={[
              { value: "en", label: "English" },
              { value: "zh", label: "简体中文" },
            ]}
          />
        </span>
      )}
    </LangContext.Consumer>
  );
}

function Shell() {
  const t = useT();
  const loc = useLocation();
  const [token, setToken] = useState(session.token());
  useEffect(() => {
    const out = () => setToken(null);
    window.addEventListener("paradise:logout", out);
    return () => window.removeEventListener("paradise:logout", out);
  }, []);
  if (!token) {
    return <Login lang={<LangSwitch />} onLogin={() => setToken(session.token())} />;
  }
  const section = loc.path.split("/")[0] || "dashboard";
  const logout = async () => {
    await api.POST("/api/v1/admin/logout/").catch(() => undefined);
    session.clear();
  };
  let page;
  if (section === "devices" && loc.path.split("/")[1]) {
    page = <DeviceDetail id={Number(loc.path.split("/")[1])} />;
  } else {
    page = {
      dashboard: <Dashboard />,
      users: <Users />,
      devices: <Devices />,
      "device-types": <DeviceTypes />,
      conversations: <Conversations />,
      audit: <AuditLog />,
    }[section] ?? <Dashboard />;
  }
  return (
    <Layout style={{ minHeight: "100vh" }}>
      <Layout.Sider breakpoint="lg" collapsedWidth={0} theme="light">
        <Typography.Title level={4} style={{ padding: "16px 16px 0" }}>
          {t("appName")}
        </Typography.Title>
        <Menu
          mode="inline"
          style={{ borderInlineEnd: "none" }}
          selectedKeys={[section]}
          onClick={(e) => navigate(e.key === "dashboard" ? "" : e.key)}
          items={[
            { key: "dashboard", label: t("dashboard") },
            { key: "users", label: t("users") },
            { key: "devices", label: t("devices") },
            { key: "device-types", label: t("deviceTypes") },
            { key: "conversations", label: t("conversations") },
            { key: "audit", label: t("auditLog") },
          ]}
        />
      </Layout.Sider>
      <Layout>
        <Layout.Header style={{ background: "#fff", display: "flex", justifyContent: "flex-end", alignItems: "center" }}>
          <Space>
            <Typography.Text>{session.user()?.username}</Typography.Text>
            <LangSwitch />
            <Button onClick={logout} data-testid="logout">
              {t("logout")}
            </Button>
          </Space>
        </Layout.Header>
        <Layout.Content style={{ margin: 24 }}>{page}</Layout.Content>
      </Layout>
    </Layout>
  );
}
