// English and Simplified Chinese, switchable; the default follows the
// browser's language.
import { createContext, useContext } from "react";

const en = {
  appName: "Paradise Console",
  login: "Log in", logout: "Log out", username: "Username", password: "Password",
  loginTitle: "Staff login", required: "Required",
  dashboard: "Dashboard", users: "Users", devices: "Devices", deviceTypes: "Device types",
  conversations: "Conversations", auditLog: "Audit log",
  language: "Language", search: "Search", all: "All", yes: "Yes", no: "No",
  create: "Create", edit: "Edit", save: "Save", cancel: "Cancel", delete: "Delete", view: "View",
  actions: "Actions", confirmTitle: "Are you sure?", loading: "Loading…", empty: "Nothing here yet",
  id: "ID", nickname: "Nickname", staff: "Staff", active: "Active", joined: "Joined", lastLogin: "Last login",
  favorability: "Favorability", gender: "Gender", mbti: "MBTI",
  enable: "Enable", disable: "Disable", disabled: "Disabled", resetPassword: "Reset password", newPassword: "New password",
  createUser: "Create user", editUser: "Edit user",
  confirmDisable: "Disable this user? All their tokens are revoked.",
  confirmDeleteUser: "Delete this user, their bindings and conversations? This cannot be undone.",
  confirmReset: "Their tokens are revoked; they and their devices log in again.",
  mac: "MAC address", name: "Name", type: "Type", status: "Status", owner: "Owner", firmware: "Firmware",
  battery: "Battery", wifi: "Wi-Fi", lastSeen: "Last seen", boundAt: "Bound at", unboundAt: "Unbound at",
  connected: "connected", disconnected: "disconnected", online: "Online", offline: "Offline",
  bound: "Bound", unbound: "Unbound", history: "Binding history", presence: "Presence",
  unbind: "Unbind", disconnect: "Disconnect", push: "Push a message", importCsv: "Import CSV",
  confirmUnbind: "End this device's binding? Its sessions close and its token stops working.",
  confirmDisconnect: "Close this device's hub sessions? It will reconnect.",
  confirmDeleteDevice: "Delete this device and its binding history?",
  frameType: "Frame type", payload: "Payload (JSON)", send: "Send", sent: "Sent",
  csvHelp: "Header line first: mac_address (required), type, name.", importDo: "Import",
  line: "Line", message: "Message", created: "Created", updated: "Updated", failed: "Failed",
  description: "Description", personaName: "Persona name", personaDescription: "Persona description",
  promptTemplate: "Prompt template", voice: "Voice", createType: "Create device type", editType: "Edit device type",
  confirmDeleteType: "Delete this device type?",
  user: "User", device: "Device", title: "Title", messages: "Messages", lastMessage: "Last message",
  text: "Text", from: "From", to: "To", role: "Role", content: "Content",
  actor: "Who", action: "Action", target: "Target", when: "When", before: "Before", after: "After",
  changes: "Changes", noChange: "No field changed", createdObj: "New:", deletedObj: "Removed:",
  totalUsers: "Users", activeUsers: "Active users", totalDevices: "Devices", devicesOnline: "Devices connected",
  boundDevices: "Bound devices", hubSessions: "Hub sessions", newUsers: "New users per day",
  messagesPerDay: "Messages per day", byType: "Devices by type", byFirmware: "Devices by firmware",
  liveEvents: "Live events", liveOn: "live", liveOff: "reconnecting…", onlineNow: "Online now",
  noType: "(none)", saved: "Saved", done: "Done", detail: "Device",
  commands: "Commands", issueCommand: "Issue a command", commandName: "Command", params: "Parameters (JSON)",
  ttlSeconds: "Time to live (seconds)", idempotencyKey: "Idempotency key (optional)", attempts: "Attempts",
  paramsCol: "Parameters", sentAt: "Last sent", createdAt: "Created", idemKey: "Idempotency key", issuer: "Issuer", expiresAt: "Expires", completedAt: "Completed", result: "Result", pending: "Pending",
  cancelCommand: "Cancel", confirmCancelCommand: "Cancel this command? It is no longer sent; if it was already sent, the device may have run it.",
  commandCancelled: "Command cancelled", queued: "Queued", refresh: "Refresh", needsOwner: "Only a bound device takes commands",
  imp_created: "created", imp_updated: "updated", imp_unchanged: "unchanged", imp_error: "error",
  cmd_queued: "queued", cmd_sent: "sent", cmd_acknowledged: "acknowledged", cmd_failed: "failed", cmd_expired: "expired",
} as const;

export type Key = keyof typeof en;

const zh: Record<Key, string> = {
  appName: "Paradise 控制台",
  login: "登录", logout: "退出登录", username: "用户名", password: "密码",
  loginTitle: "管理员登录", required: "必填",
  dashboard: "仪表盘", users: "用户", devices: "设备", deviceTypes: "设备类型",
  conversations: "对话", auditLog: "审计日志",
  language: "语言", search: "搜索", all: "全部", yes: "是", no: "否",
  create: "新建", edit: "编辑", save: "保存", cancel: "取消", delete: "删除", view: "查看",
  actions: "操作", confirmTitle: "确定吗？", loading: "加载中…", empty: "暂无数据",
  id: "ID", nickname: "昵称", staff: "管理员", active: "启用", joined: "注册时间", lastLogin: "最近登录",
  favorability: "好感度", gender: "性别", mbti: "MBTI",
  enable: "启用", disable: "停用", disabled: "已停用", resetPassword: "重置密码", newPassword: "新密码",
  createUser: "新建用户", editUser: "编辑用户",
  confirmDisable: "停用该用户？其所有令牌将被撤销。",
  confirmDeleteUser: "删除该用户及其绑定和对话？此操作不可撤销。",
  confirmReset: "其令牌将被撤销，用户及其设备需要重新登录。",
  mac: "MAC 地址", name: "名称", type: "类型", status: "状态", owner: "所有者", firmware: "固件",
  battery: "电量", wifi: "Wi-Fi", lastSeen: "最后在线", boundAt: "绑定时间", unboundAt: "解绑时间",
  connected: "已连接", disconnected: "未连接", online: "在线", offline: "离线",
  bound: "已绑定", unbound: "未绑定", history: "绑定历史", presence: "在线状态",
  unbind: "解绑", disconnect: "断开连接", push: "推送消息", importCsv: "导入 CSV",
  confirmUnbind: "解除该设备的绑定？其会话将关闭，令牌失效。",
  confirmDisconnect: "关闭该设备的连接？设备会自动重连。",
  confirmDeleteDevice: "删除该设备及其绑定历史？",
  frameType: "帧类型", payload: "内容 (JSON)", send: "发送", sent: "已发送",
  csvHelp: "第一行为表头：mac_address（必填）、type、name。", importDo: "导入",
  line: "行", message: "消息", created: "新建", updated: "更新", failed: "失败",
  description: "描述", personaName: "角色名", personaDescription: "角色描述",
  promptTemplate: "提示词模板", voice: "音色", createType: "新建设备类型", editType: "编辑设备类型",
  confirmDeleteType: "删除该设备类型？",
  user: "用户", device: "设备", title: "标题", messages: "消息数", lastMessage: "最后消息",
  text: "文本", from: "起始", to: "截止", role: "角色", content: "内容",
  actor: "操作人", action: "动作", target: "对象", when: "时间", before: "之前", after: "之后",
  changes: "变更", noChange: "无字段变化", createdObj: "新建：", deletedObj: "删除：",
  totalUsers: "用户", activeUsers: "活跃用户", totalDevices: "设备", devicesOnline: "在线设备",
  boundDevices: "已绑定设备", hubSessions: "连接会话", newUsers: "每日新增用户",
  messagesPerDay: "每日消息", byType: "按类型", byFirmware: "按固件",
  liveEvents: "实时事件", liveOn: "实时", liveOff: "重新连接中…", onlineNow: "当前在线",
  noType: "（无）", saved: "已保存", done: "完成", detail: "设备",
  commands: "指令", issueCommand: "下发指令", commandName: "指令", params: "参数 (JSON)",
  ttlSeconds: "有效期（秒）", idempotencyKey: "幂等键（可选）", attempts: "尝试次数",
  paramsCol: "参数", sentAt: "最近发送", createdAt: "创建时间", idemKey: "幂等键", issuer: "发起人", expiresAt: "过期时间", completedAt: "完成时间", result: "结果", pending: "待处理",
  cancelCommand: "取消", confirmCancelCommand: "取消该指令？它将不再下发；若已发送，设备可能已执行。",
  commandCancelled: "指令已取消", queued: "已排队", refresh: "刷新", needsOwner: "仅已绑定的设备可接收指令",
  imp_created: "已新建", imp_updated: "已更新", imp_unchanged: "无变化", imp_error: "错误",
  cmd_queued: "排队中", cmd_sent: "已发送", cmd_acknowledged: "已确认", cmd_failed: "失败", cmd_expired: "已过期",
};

export type Lang = "en" | "zh";
export const dictionaries: Record<Lang, Record<Key, string>> = { en, zh };

const LANG_KEY = "paradise.console.lang";
export function initialLang(): Lang {
  const saved = localStorage.getItem(LANG_KEY);
  if (saved === "en" || saved === "zh") return saved;
  return navigator.language.toLowerCase().startsWith("zh") ? "zh" : "en";
}
export function saveLang(l: Lang) {
  localStorage.setItem(LANG_KEY, l);
}

export const LangContext = createContext<{ lang: Lang; setLang: (l: Lang) => void }>({ lang: "en", setLang: () => {} });
export function useT(): (k: Key) => string {
  const { lang } = useContext(LangContext);
  return (k) => dictionaries[lang][k];
}
