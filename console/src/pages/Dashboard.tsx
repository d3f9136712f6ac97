import { useEffect, useState } from "react";
import { Badge, Card, Col, List, Row, Statistic, Table, Tag, Typography } from "antd";
import { api, call, followEvents, type AdminEvent, type Schemas } from "../api";
import { useT } from "../i18n";
import { navigate } from "../router";
import { ErrorBanner, fmt, useLoad } from "./common";

// Per-day series as simple bars: no chart library, nothing to load.
function Bars({ days }: { days: Schemas["DayCount"][] }) {
  const max = Math.max(1, ...days.map((d) => d.count));
  return (
    <div style={{ display: "flex", alignItems: "flex-end", gap: 4, height: 90 }}>
      {days.map((d) => (
        <div key={d.date} title={`${d.date}: ${d.count}`} style={{ flex: 1, display: "flex", flexDirection: "column", alignItems: "center" }}>
          <span style={{ fontSize: 10 }}>{d.count || ""}</span>
          <div style={{ width: "100%", background: "#1677ff", height: `${(d.count / max) * 70}px`, minHeight: 1 }} />
          <span style={{ fontSize: 9, color: "#999" }}>{d.date.slice(5)}</span>
        </div>
      ))}
    </div>
  );
}

export default function Dashboard() {
  const t = useT();
  const stats = useLoad(() => call(api.GET("/api/v1/admin/stats/", { params: { query: { days: 14 } } })), []);
  const online = useLoad(
    () => call(api.GET("/api/v1/admin/devices/", { params: { query: { status: "connected", page_size: 100, ordering: "-last_seen" } } })),
    [],
  );
  const [events, setEvents] = useState<AdminEvent[]>([]);
  const [live, setLive] = useState(false);
  const { reload: reloadStats } = stats;
  const { reload: reloadOnline } = online;
  useEffect(() => {
    const ctl = new AbortController();
    void followEvents(
      (ev) => {
        setEvents((list) => [ev, ...list].slice(0, 50));
        reloadOnline();
        reloadStats();
      },
      setLive,
      ctl.signal,
    );
    return () => ctl.abort();
  }, [reloadOnline, reloadStats]);
  const s = stats.data;
  return (
    <>
      <ErrorBanner error={stats.error ?? online.error} />
      <Row gutter={[16, 16]}>
        {[
          [t("totalUsers"), s?.users.total],
          [t("activeUsers"), s?.users.active],
          [t("totalDevices"), s?.devices.total],
          [t("devicesOnline"), s?.devices.connected],
          [t("boundDevices"), s?.devices.bound],
          [t("hubSessions"), s?.hub_sessions],
        ].map(([label, value]) => (
          <Col xs={12} md={8} xl={4} key={String(label)}>
            {/* Full height: a label that wraps does not make one card taller than its row. */}
            <Card loading={stats.loading && !s} style={{ height: "100%" }}>
              <Statistic title={label} value={value ?? 0} />
            </Card>
          </Col>
        ))}
        <Col xs={24} xl={12}>
          <Card title={t("newUsers")}>{s && <Bars days={s.users.new_per_day} />}</Card>
        </Col>
        <Col xs={24} xl={12}>
          <Card title={t("messagesPerDay")}>{s && <Bars days={s.messages_per_day} />}</Card>
        </Col>
        <Col xs={24} xl={12}>
          <Card title={t("onlineNow")} data-testid="online-now">
            <Table<Schemas["AdminDevice"]> size="small" rowKey="id" pagination={false} dataSource={online.data?.results ?? []}
              locale={{ emptyText: t("empty") }}
              columns={[
                { title: t("mac"), dataIndex: "mac_address", render: (m: string, d) => <a onClick={() => navigate(`devices/${d.id}`)}>{m}</a> },
                { title: t("owner"), render: (_, d) => d.owner?.username ?? "—" },
                { title: t("lastSeen"), dataIndex: "last_seen", render: fmt },
              ]} />
          </Card>
        </Col>
        <Col xs={24} xl={12}>
          <Card title={t("liveEvents")} extra={<Badge status={live ? "processing" : "warning"} text={live ? t("liveOn") : t("liveOff")} />}>
            <List size="small" dataSource={events} locale={{ emptyText: t("empty") }} data-testid="events"
              renderItem={(ev) => (
                <List.Item>
                  <Tag color={ev.type === "device_online" ? "green" : ev.type === "device_offline" ? "default" : "blue"}>{ev.type}</Tag>
                  <Typography.Text>{ev.mac_address ?? ""} {ev.user_id ? `user #${ev.user_id}` : ""} {ev.conversation_id ? `#${ev.conversation_id}` : ""}</Typography.Text>
                  <Typography.Text type="secondary">{fmt(ev.at)}</Typography.Text>
                </List.Item>
              )} />
          </Card>
        </Col>
        <Col xs={24} xl={12}>
          <Card title={t("byType")}>
            <Table size="small" rowKey={(r) => String(r.device_type_id)} pagination={false} dataSource={s?.devices.by_type ?? []}
              columns={[{ title: t("type"), render: (_, r) => r.name || t("noType") }, { title: "#", dataIndex: "count" }]} />
          </Card>
        </Col>
        <Col xs={24} xl={12}>
          <Card title={t("byFirmware")}>
            <Table size="small" rowKey="firmware_version" pagination={false} dataSource={s?.devices.by_firmware ?? []}
              columns={[{ title: t("firmware"), render: (_, r) => r.firmware_version || "—" }, { title: "#", dataIndex: "count" }]} />
          </Card>
        </Col>
      </Row>
    </>
  );
}
