// End-to-end walk of the product's main flows through the generated SDK:
// REST through openapi-fetch typed by dist/sdk/ts/rest (openapi-typescript),
// WebSocket through `ws` with the frame types of dist/sdk/ts/ws (Modelina).
// Run by sdk/run.sh against a live `paradise serve`:
//   PARADISE_URL=http://127.0.0.1:PORT [PARADISE_ADMIN_USER=.. PARADISE_ADMIN_PASSWORD=..] node e2e.js
import createClient, { type Middleware } from 'openapi-fetch';
import WebSocket from 'ws';
import type { paths, components } from '@paradise/rest';
import type { ClientFrame, ServerFrame, ChatFrame, CommandResultFrame, ConnectedFrame, NotificationFrame } from '@paradise/ws';

type ErrorEnvelope = components['schemas']['Error'];
type User = components['schemas']['User'];
type Device = components['schemas']['Device'];

const base = process.env.PARADISE_URL ?? 'http://127.0.0.1:8000';
const adminUser = process.env.PARADISE_ADMIN_USER;
const adminPassword = process.env.PARADISE_ADMIN_PASSWORD;

let passed = 0;
let failed = 0;
async function step(name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
function check(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}
function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`${what}: an earlier step failed`);
  return v;
}

// One client per token; the middleware adds `Authorization: Token <token>`.
function client(token?: string) {
  const c = createClient<paths>({ baseUrl: base });
  if (token !== undefined) {
    const auth: Middleware = {
      onRequest({ request }) {
        request.headers.set('Authorization', `Token ${token}`);
        return request;
      },
    };
    c.use(auth);
  }
  return c;
}

const suffix = Date.now().toString(36);
const username = `ts_${suffix}`;
const password = 'correct-horse-battery';
const hex = (n: number) => n.toString(16).toUpperCase().padStart(2, '0');
const r = Math.floor(Math.random() * 0xffffff);
const mac = `AA:B0:${hex(r >> 16)}:${hex((r >> 8) & 0xff)}:${hex(r & 0xff)}:01`;

let appToken: string | undefined;
let deviceToken: string | undefined;
let device: Device | undefined;
let user: User | undefined;

await step('register (201, AuthEnvelope)', async () => {
  const res = await client().POST('/api/user/register/', { body: { username, password, nickname: 'TS' } });
  check(res.data && res.response.status === 201, `status ${res.response.status}: ${JSON.stringify(res.error)}`);
  check(res.data.success && res.data.code === 201 && res.data.data.user.username === username, JSON.stringify(res.data));
});

await step('login', async () => {
  const res = await client().POST('/api/user/login/', { body: { username, password } });
  check(res.data, `status ${res.response.status}: ${JSON.stringify(res.error)}`);
  appToken = res.data.data.token;
  user = res.data.data.user;
  check(user.last_login !== null, 'last_login is set after login');
});

await step('profile update and read back', async () => {
  const api = client(need(appToken, 'token'));
  const upd = await api.PATCH('/api/user/profile/', { body: { nickname: 'Ally', mbti: 'INFP', gender: 'female', interests: ['music'] } });
  check(upd.data?.data.nickname === 'Ally', `update: ${JSON.stringify(upd.error)}`);
  const prof = await api.GET('/api/user/profile/');
  check(prof.data, `get: ${JSON.stringify(prof.error)}`);
  const p: User = prof.data.data;
  check(p.mbti === 'INFP' && p.gender === 'female' && p.interests.join() === 'music', JSON.stringify(p));
});

await step('bind a device', async () => {
  const res = await client(need(appToken, 'token')).POST('/api/device/bind/', { body: { mac_address: mac, name: 'TS device' } });
  check(res.data, `status ${res.response.status}: ${JSON.stringify(res.error)}`);
  device = res.data.data;
  check(device.mac_address === mac && device.status === 'disconnected', JSON.stringify(device));
});

await step('MAC login as that device (other MAC spelling)', async () => {
  const res = await client().POST('/api/user/mac-login/', { body: { mac_address: mac.toLowerCase().replaceAll(':', '-') } });
  check(res.data, `status ${res.response.status}: ${JSON.stringify(res.error)}`);
  deviceToken = res.data.data.token;
  check(res.data.data.device.id === need(device, 'device').id, JSON.stringify(res.data.data));
});

await step('list device types and devices with pagination', async () => {
  const api = client(need(appToken, 'token'));
  const types = await api.GET('/api/device/types/', { params: { query: { page: 1, page_size: 1 } } });
  check(types.data, `types: ${JSON.stringify(types.error)}`);
  check(types.data.data.results.length <= 1, 'page_size=1 respected');
  const devs = await api.GET('/api/device/devices/', { params: { query: { page: 1, page_size: 1 } } });
  check(devs.data, `devices: ${JSON.stringify(devs.error)}`);
  check(devs.data.data.count === 1 && devs.data.data.next === null && devs.data.data.results[0]?.mac_address === mac, JSON.stringify(devs.data.data));
  const bad = await api.GET('/api/device/devices/', { params: { query: { page: 99, page_size: 1 } } });
  check(bad.response.status === 404 && bad.error?.success === false, `page out of range: ${bad.response.status}`);
});

await step('4010 envelope: MAC login of an unknown device', async () => {
  const res = await client().POST('/api/user/mac-login/', { body: { mac_address: '00:00:00:00:00:00' } });
  const e: ErrorEnvelope | undefined = res.error;
  check(res.response.status === 404 && e?.code === 4010 && e.success === false && typeof e.message === 'string', `${res.response.status} ${JSON.stringify(e)}`);
});

await step('401 envelope: invalid token', async () => {
  const res = await client('not-a-token').GET('/api/user/profile/');
  check(res.response.status === 401 && res.error?.code === 401 && res.error.success === false, `${res.response.status} ${JSON.stringify(res.error)}`);
});

if (adminUser && adminPassword) {
  let adminToken: string | undefined;
  await step('admin login, create device types, paginate', async () => {
    const login = await client().POST('/api/v1/admin/login/', { body: { username: adminUser, password: adminPassword } });
    check(login.data, `admin login: ${login.response.status} ${JSON.stringify(login.error)}`);
    adminToken = login.data.data.token;
    const admin = client(adminToken);
    for (const name of [`TS type A ${suffix}`, `TS type B ${suffix}`]) {
      const c = await admin.POST('/api/v1/admin/device-types/', { body: { name, description: 'from the TS e2e' } });
      check(c.data && c.response.status === 201, `create type: ${c.response.status} ${JSON.stringify(c.error)}`);
    }
    const p1 = await client(need(appToken, 'token')).GET('/api/device/types/', { params: { query: { page: 1, page_size: 1 } } });
    check(p1.data && p1.data.data.count >= 2 && p1.data.data.next !== null && p1.data.data.previous === null, `page 1: ${JSON.stringify(p1.data ?? p1.error)}`);
    const p2 = await client(need(appToken, 'token')).GET('/api/device/types/', { params: { query: { page: 2, page_size: 1 } } });
    check(p2.data && p2.data.data.previous !== null && p2.data.data.results.length === 1, `page 2: ${JSON.stringify(p2.data ?? p2.error)}`);
  });
  await step('admin: list users; 401 for an app token, 403 admin login of a non-staff user', async () => {
    const users = await client(need(adminToken, 'admin token')).GET('/api/v1/admin/users/', { params: { query: { page: 1, page_size: 100 } } });
    check(users.data && users.data.data.count >= 2, `users: ${JSON.stringify(users.error)}`);
    const appTok = await client(need(appToken, 'token')).GET('/api/v1/admin/users/');
    check(appTok.response.status === 401 && appTok.error?.code === 401, `app token: ${appTok.response.status} ${JSON.stringify(appTok.error)}`);
    const forbidden = await client().POST('/api/v1/admin/login/', { body: { username, password } });
    check(forbidden.response.status === 403 && forbidden.error?.code === 403, `non-staff: ${forbidden.response.status} ${JSON.stringify(forbidden.error)}`);
  });
}

// --- WebSocket -------------------------------------------------------------

interface Socket {
  ws: WebSocket;
  next: (skip?: (f: ServerFrame) => boolean) => Promise<ServerFrame>;
}
function open(url: string, headers?: Record<string, string>): Promise<Socket> {
  const ws = new WebSocket(url, { headers });
  const queue: ServerFrame[] = [];
  const waiters: ((f: ServerFrame) => void)[] = [];
  ws.on('message', (raw) => {
    const f = JSON.parse(raw.toString()) as ServerFrame;
    const w = waiters.shift();
    if (w) w(f);
    else queue.push(f);
  });
  const one = () =>
    new Promise<ServerFrame>((resolve, reject) => {
      const q = queue.shift();
      if (q) return resolve(q);
      const t = setTimeout(() => reject(new Error('no frame within 5s')), 5000);
      waiters.push((f) => {
        clearTimeout(t);
        resolve(f);
      });
    });
  const next = async (skip?: (f: ServerFrame) => boolean) => {
    for (;;) {
      const f = await one();
      if (!skip || !skip(f)) return f;
    }
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, next }));
    ws.once('error', reject);
  });
}
const wsBase = base.replace(/^http/, 'ws');
let dev: Socket | undefined;
let app: Socket | undefined;

await step('open device socket (token in path) and app socket (token in header)', async () => {
  dev = await open(`${wsBase}/ws/device/token/${need(deviceToken, 'device token')}/`);
  app = await open(`${wsBase}/ws/device/`, { Authorization: `Token ${need(appToken, 'token')}` });
  const d = await dev.next();
  const a = await app.next();
  check(d.type === 'connected' && d.message.role === 'device' && d.message.mac_address === mac, `device: ${JSON.stringify(d)}`);
  const ac: ConnectedFrame | undefined = a.type === 'connected' ? a : undefined;
  check(ac && ac.message.role === 'app' && ac.message.mac_address === null, `app: ${JSON.stringify(a)}`);
});

await step('relay chat app -> device', async () => {
  const chat: ClientFrame = { type: 'chat', message: { text: 'hello device', conversation_id: 'c1' } };
  need(app, 'app socket').ws.send(JSON.stringify(chat));
  const got = await need(dev, 'device socket').next();
  check(got.type === 'chat', `device got ${JSON.stringify(got)}`);
  const typed: ChatFrame = got;
  check(typed.message.text === 'hello device' && typed.from?.role === 'app' && typed.from.mac_address === null, JSON.stringify(typed));
});

await step('relay command_result device -> app', async () => {
  const result: CommandResultFrame = { type: 'command_result', message: { command_id: 'x1', ok: true, result: { level: 40 } } };
  need(dev, 'device socket').ws.send(JSON.stringify(result));
  const back = await need(app, 'app socket').next((f) => f.type === 'device_info');
  check(back.type === 'command_result' && back.message.ok && back.message.command_id === 'x1', `app got ${JSON.stringify(back)}`);
  check(back.from?.role === 'device' && back.from.mac_address === mac, `from: ${JSON.stringify(back.from)}`);
});

await step('error frame for an unknown type', async () => {
  need(app, 'app socket').ws.send(JSON.stringify({ type: 'no_such_type', message: {} }));
  const e = await need(app, 'app socket').next();
  check(e.type === 'error' && e.message.code === 'unknown_type', `got ${JSON.stringify(e)}`);
});

await step('REST push reaches the device socket as a typed notification', async () => {
  const res = await client(need(appToken, 'token')).POST('/api/device/devices/{id}/messages/', {
    params: { path: { id: need(device, 'device').id } },
    body: { type: 'notification', message: { title: 'Hi', body: 'from REST', level: 'info' } },
  });
  check(res.data?.data.online === true, `push: ${res.response.status} ${JSON.stringify(res.error)}`);
  const f = await need(dev, 'device socket').next();
  check(f.type === 'notification', `device got ${JSON.stringify(f)}`);
  const n: NotificationFrame = f;
  check(n.message.level === 'info' && n.message.title === 'Hi' && n.from?.connection_id === 'server', JSON.stringify(n));
});

dev?.ws.close();
app?.ws.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
