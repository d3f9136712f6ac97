import { useState } from "react";
import { Button, Input, Modal, Select, Space, Table, Tag, Typography } from "antd";
import { api, call, type Schemas } from "../api";
import { useT } from "../i18n";
import { bool, navigate, num, str, useQuery } from "../router";
import { ErrorBanner, fmt, ordering, sortOrder, useAction, useLoad } from "./common";

type Device = Schemas["AdminDevice"];

export function useTypes() {
  return useLoad(() => call(api.GET("/api/v1/admin/device-types/", { params: { query: { page_size: 100 } } })), []);
}

export default function Devices() {
  const t = useT();
  const [q, setQ] = useQuery();
  const page = num(q, "page") ?? 1;
  const pageSize = num(q, "page_size") ?? 10;
  const order = str(q, "ordering") as Schemas["DeviceOrdering"] | undefined;
  const query = {
    page,
    page_size: pageSize,
    search: str(q, "search"),
    status: str(q, "status") as Schemas["DeviceStatus"] | undefined,
    device_type_id: num(q, "device_type_id"),
    owner_id: num(q, "owner_id"),
    bound: bool(q, "bound"),
    firmware_version: str(q, "firmware_version"),
    ordering: order,
  };
  const { data, error, loading, reload } = useLoad(
    () => call(api.GET("/api/v1/admin/devices/", { params: { query } })),
    [q.toString()],
  );
  const types = useTypes();
  const [importing, setImporting] = useState(false);
  return (
    <>
      <Space wrap style={{ marginBottom: 16 }}>
        <Input.Search placeholder={t("search")} defaultValue={query.search} allowClear onSearch={(v) => setQ({ search: v })} style={{ width: 220 }} />
        <Select style={{ width: 170 }} value={q.get("status") ?? ""} prefix={`${t("status")}:`} onChange={(v) => setQ({ status: v })}
          options={[{ value: "", label: t("all") }, { value: "connected", label: t("connected") }, { value: "disconnected", label: t("disconnected") }]} />
        <Select style={{ width: 160 }} value={q.get("bound") ?? ""} prefix={`${t("bound")}:`} onChange={(v) => setQ({ bound: v })}
          options={[{ value: "", label: t("all") }, { value: "true", label: t("yes") }, { value: "false", label: t("no") }]} />
        <Select style={{ width: 200 }} value={q.get("device_type_id") ?? ""} prefix={`${t("type")}:`} onChange={(v) => setQ({ device_type_id: v })}
          options={[{ value: "", label: t("all") }, ...(types.data?.results ?? []).map((ty) => ({ value: String(ty.id), label: ty.name }))]} />
        <Input placeholder={t("firmware")} defaultValue={query.firmware_version} allowClear style={{ width: 140 }}
          onPressEnter={(e) => setQ({ firmware_version: (e.target as HTMLInputElement).value })} />
        <Button onClick={() => setImporting(true)}>{t("importCsv")}</Button>
      </Space>
      <ErrorBanner error={error} />
      <Table<Device>
        rowKey="id"
        loading={loading}
        dataSource={data?.results ?? []}
        locale={{ emptyText: t("empty") }}
        pagination={{ current: page, pageSize, total: data?.count ?? 0, showSizeChanger: true }}
        onChange={(p, _f, s) => setQ({ page: p.current, page_size: p.pageSize, ordering: ordering(s) })}
        columns={[
          { title: t("id"), dataIndex: "id", sorter: true, sortOrder: sortOrder(order, "id") },
          { title: t("mac"), dataIndex: "mac_address", sorter: true, sortOrder: sortOrder(order, "mac_address"),
            render: (m: string, d) => <a onClick={() => navigate(`devices/${d.id}`)}>{m}</a> },
          { title: t("name"), dataIndex: "name", sorter: true, sortOrder: sortOrder(order, "name") },
          { title: t("type"), render: (_, d) => d.device_type?.name ?? t("noType") },
          { title: t("owner"), render: (_, d) => d.owner?.username ?? <Tag>{t("unbound")}</Tag> },
          { title: t("status"), dataIndex: "status",
            render: (s: string) => <Tag color={s === "connected" ? "green" : undefined}>{s === "connected" ? t("connected") : t("disconnected")}</Tag> },
          { title: t("firmware"), dataIndex: "firmware_version" },
          { title: t("lastSeen"), dataIndex: "last_seen", render: fmt, sorter: true, sortOrder: sortOrder(order, "last_seen") },
          { title: t("actions"), render: (_, d) => <Button size="small" onClick={() => navigate(`devices/${d.id}`)}>{t("view")}</Button> },
        ]}
      />
      {importing && <ImportDevices onClose={() => { setImporting(false); reload(); }} />}
    </>
  );
}

function ImportDevices({ onClose }: { onClose: () => void }) {
  const t = useT();
  const act = useAction();
  const [csv, setCsv] = useState("mac_address,type,name\n");
  const [report, setReport] = useState<Schemas["DeviceImportReport"] | null>(null);
  const run = () =>
    act(async () => setReport(await call(api.POST("/api/v1/admin/devices/import/", { body: { csv } }))));
  return (
    <Modal open width={760} title={t("importCsv")} onCancel={onClose} cancelText={t("cancel")} okText={t("importDo")} onOk={run}>
      <Typography.Paragraph type="secondary">{t("csvHelp")}</Typography.Paragraph>
      <input type="file" accept=".csv,text/csv" onChange={async (e) => { const f = e.target.files?.[0]; if (f) setCsv(await f.text()); }} />
      <Input.TextArea data-testid="csv" rows={8} value={csv} onChange={(e) => setCsv(e.target.value)} style={{ marginTop: 8, fontFamily: "monospace" }} />
      {report && (
        <>
          <Space style={{ margin: "12px 0" }}>
            <Tag color="green">{t("created")}: {report.created}</Tag>
            <Tag color="blue">{t("updated")}: {report.updated}</Tag>
            <Tag color="red">{t("failed")}: {report.failed}</Tag>
          </Space>
          <Table<Schemas["DeviceImportRow"]> size="small" rowKey="line" pagination={false} dataSource={report.rows}
            columns={[
              { title: t("line"), dataIndex: "line" },
              { title: t("mac"), dataIndex: "mac_address" },
              { title: t("status"), dataIndex: "status", render: (s: Schemas["DeviceImportStatus"]) => <Tag color={s === "error" ? "red" : "green"}>{t(`imp_${s}`)}</Tag> },
              { title: t("message"), dataIndex: "message" },
            ]} />
        </>
      )}
    </Modal>
  );
}
