// End-to-end walk of the product's main flows through the packed npm SDK
// (@paradise/sdk, installed from its tarball by sdk/run.sh): the REST client
// (openapi-fetch over the generated paths), HubClient over `ws`, reconnect
// and the stop on 4001.
// Run by sdk/run.sh against a live `paradise serve`:
//   PARADISE_URL=http://127.0.0.1:PORT [PARADISE_ADMIN_USER=.. PARADISE_ADMIN_PASSWORD=..] node e2e.js
import WebSocket from 'ws';
import { createRestClient, unwrap, streamChat, HubClient, type WebSocketFactory, type WebSocketLike, type components } from '@paradise/sdk';
import type {
  ClientFrame, ServerFrame, ChatFrame, ChatRequestFrame, ChatDeltaFrame, ChatDoneFrame, CommandResultFrame, ConnectedFrame, ErrorFrame, NotificationFrame,
} from '@paradise/sdk';
import type { ClaimCodeFrame, ClaimCodeRequestFrame, CommandStatusFrame } from '@paradise/sdk';

type ErrorEnvelope = components['schemas']['Error'];
type User = components['schemas']['User'];
type Device = components['schemas']['Device'];
type ChatReply = components['schemas']['ChatReply'];
type ChatMessage = components['schemas']['ChatMessage'];
type ChatStreamEvent = components['schemas']['ChatStreamEvent'];
type DeviceCommand = components['schemas']['DeviceCommand'];

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
// Responses are typed by their application/json content (chatCompletion
// also has text/event-stream, read with parseAs: 'stream').
function client(token?: string) {
  return createRestClient({ baseUrl: base, token });
}

// Server-Sent Events from a response body, yielded as they arrive: each with
// its `event` name, its `data` (data lines joined by \n) and the index of the
// body chunk that completed it.
interface ServerSentEvent {
  event: string;
  data: string;
  chunk: number;
}
async function* serverSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let event = '';
  let data: string[] = [];
  let chunk = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buf += done ? decoder.decode() : decoder.decode(value, { stream: true });
      chunk++;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        if (line === '') {
          if (data.length > 0) yield { event: event || 'message', data: data.join('\n'), chunk };
          event = '';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue; // comment
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = val;
        else if (field === 'data') data.push(val);
      }
      if (done) break;
    }
    check(buf === '' && data.length === 0, `stream ended inside an event: ${JSON.stringify(buf)}`);
  } finally {
    reader.releaseLock();
  }
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

await step('voice room: the device token and the app token name the same room', async () => {
  const dev = await client(need(deviceToken, 'device token')).GET('/api/device/rtc-token/get_by_mac/', { params: { query: { mac_address: mac } } });
  check(dev.data, `device: ${dev.response.status} ${JSON.stringify(dev.error)}`);
  const app = await client(need(appToken, 'token')).GET('/api/device/rtc-token/');
  check(app.data, `app: ${app.response.status} ${JSON.stringify(app.error)}`);
  const d = dev.data.data, a = app.data.data;
  check(d.room_id === `room_${need(user, 'user').id}` && a.room_id === d.room_id, `rooms ${d.room_id} and ${a.room_id}`);
  check(d.user_id !== a.user_id && d.app_id === a.app_id && d.token.startsWith('001' + d.app_id), JSON.stringify({ d, a }));
  const again = await client(need(deviceToken, 'device token')).GET('/api/device/rtc-token/get_by_mac/', { params: { query: { mac_address: mac } } });
  check(again.data?.data.token === d.token, 'a second call returns the cached token');
  const other = await client(need(deviceToken, 'device token')).GET('/api/device/rtc-token/get_by_mac/', { params: { query: { mac_address: '00:00:00:00:00:01' } } });
  check(other.response.status === 403 && other.error?.code === 4034, `another MAC: ${other.response.status} ${JSON.stringify(other.error)}`);
});

await step('4010 envelope: MAC login of an unknown device', async () => {
  const res = await client().POST('/api/user/mac-login/', { body: { mac_address: '00:00:00:00:00:00' } });
  const e: ErrorEnvelope | undefined = res.error;
  check(res.response.status === 404 && e?.code === 4010 && e.success === false && typeof e.message === 'string', `${res.response.status} ${JSON.stringify(e)}`);
});

await step('unwrap: the envelope as a result, an error envelope as ApiError (4010, 400 with fields)', async () => {
  const ok = await unwrap(client(need(appToken, 'token')).GET('/api/user/profile/'));
  check(ok.ok && ok.status === 200 && ok.data.username === username, JSON.stringify(ok));
  const nf = await unwrap(client().POST('/api/user/mac-login/', { body: { mac_address: '00:00:00:00:00:00' } }));
  check(!nf.ok && nf.status === 404 && nf.code === 4010 && nf.message !== '', JSON.stringify(nf));
  const bad = await unwrap(client().POST('/api/user/mac-login/', { body: { mac_address: 'not-a-mac' } }));
  check(!bad.ok && bad.status === 400 && bad.code === 400 && (bad.fields?.mac_address?.length ?? 0) > 0, JSON.stringify(bad));
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

// --- AI chat ---------------------------------------------------------------

function checkReply(r: ChatReply | Extract<ChatStreamEvent, { type: 'done' }>, what: string): void {
  check(r.provider === 'development' && r.model !== '' && r.finish_reason === 'stop' && !r.truncated, `${what}: ${JSON.stringify(r)}`);
  check(r.conversation_id > 0 && r.user_message_id > 0 && r.assistant_message_id > r.user_message_id, `${what} ids: ${JSON.stringify(r)}`);
  const u = r.usage;
  check(u.prompt_tokens > 0 && u.completion_tokens > 0 && u.total_tokens === u.prompt_tokens + u.completion_tokens, `${what} usage: ${JSON.stringify(u)}`);
}
async function messagesOf(token: string, conversation: number): Promise<ChatMessage[]> {
  const res = await client(token).GET('/api/ai/conversations/{id}/messages/', { params: { path: { id: conversation }, query: { page: 1, page_size: 100 } } });
  check(res.data, `messages of ${conversation}: ${res.response.status} ${JSON.stringify(res.error)}`);
  return res.data.data.results;
}

let chatJSON: ChatReply[] = [];
let chatStreamed: number | undefined; // conversation id

await step('chat (JSON): a reply in a new conversation, then a second message in it', async () => {
  const api = client(need(appToken, 'token'));
  const first = await api.POST('/api/ai/chat/', { body: { message: `Good morning from TS ${suffix}` } });
  check(first.data && first.response.status === 200, `first: ${first.response.status} ${JSON.stringify(first.error)}`);
  check(first.data.success && first.data.code === 200, JSON.stringify(first.data));
  const r1 = first.data.data;
  check(r1.reply.trim() !== '', 'empty reply');
  checkReply(r1, 'first');
  const second = await api.POST('/api/ai/chat/', { body: { message: 'And what about tomorrow?', conversation_id: r1.conversation_id } });
  check(second.data, `second: ${second.response.status} ${JSON.stringify(second.error)}`);
  const r2 = second.data.data;
  checkReply(r2, 'second');
  check(r2.conversation_id === r1.conversation_id && r2.user_message_id > r1.assistant_message_id && r2.reply.trim() !== '', JSON.stringify(r2));
  chatJSON = [r1, r2];
});

await step('chat (SSE, "stream": true): start, deltas as they arrive, done; deltas make the stored reply', async () => {
  const token = need(appToken, 'token');
  const res = await client(token).POST('/api/ai/chat/', { body: { message: 'Tell me a story, TS', stream: true }, parseAs: 'stream' });
  check(res.response.status === 200 && res.data, `${res.response.status} ${JSON.stringify(res.error)}`);
  const ct = res.response.headers.get('content-type') ?? '';
  check(ct.startsWith('text/event-stream'), `content-type ${ct}`);
  const events: { ev: ChatStreamEvent; chunk: number }[] = [];
  for await (const sse of serverSentEvents(res.data)) {
    const ev = JSON.parse(sse.data) as ChatStreamEvent;
    check(ev.type === sse.event, `event ${sse.event} carries type ${ev.type}`);
    check(ev.type !== 'error', `error event: ${sse.data}`);
    events.push({ ev, chunk: sse.chunk });
  }
  const start = events[0];
  const done = events[events.length - 1];
  check(start?.ev.type === 'start' && start.ev.conversation_id > 0 && start.ev.user_message_id > 0, `first event: ${JSON.stringify(start?.ev)}`);
  check(done?.ev.type === 'done', `last event: ${JSON.stringify(done?.ev)}`);
  checkReply(done.ev, 'done');
  check(done.ev.conversation_id === start.ev.conversation_id && done.ev.user_message_id === start.ev.user_message_id, 'done ids match start');
  check(start.chunk < done.chunk, 'start and done arrived in one piece: the reply was not streamed');
  const deltas = events.slice(1, -1).map(({ ev }) => ev);
  check(deltas.length > 1, `${deltas.length} delta events`);
  let text = '';
  for (const d of deltas) {
    check(d.type === 'delta', `between start and done: ${JSON.stringify(d)}`);
    text += d.text;
  }
  const replyId = done.ev.assistant_message_id;
  const stored = (await messagesOf(token, done.ev.conversation_id)).find((m) => m.id === replyId);
  check(stored && stored.role === 'assistant' && stored.content === text && text.trim() !== '', `stored ${JSON.stringify(stored?.content)}, streamed ${JSON.stringify(text)}`);
  chatStreamed = done.ev.conversation_id;
});

await step('conversations: list (newest first, title and preview), read messages in order', async () => {
  const token = need(appToken, 'token');
  const [r1, r2] = chatJSON;
  const streamed = need(chatStreamed, 'streamed conversation');
  check(r1 && r2, 'chat (JSON): an earlier step failed');
  const list = await client(token).GET('/api/ai/conversations/', { params: { query: { page: 1, page_size: 10 } } });
  check(list.data, `list: ${list.response.status} ${JSON.stringify(list.error)}`);
  const convs = list.data.data.results;
  check(list.data.data.count === 2 && convs.map((c) => c.id).join() === `${streamed},${r1.conversation_id}`, `newest first: ${JSON.stringify(convs.map((c) => c.id))}`);
  for (const c of convs) {
    check(c.title.trim() !== '' && c.device_id === null, `title: ${JSON.stringify(c)}`);
    check(c.last_message !== null && c.last_message.role === 'assistant' && c.last_message.preview.trim() !== '', `preview: ${JSON.stringify(c.last_message)}`);
  }
  check(convs[1]?.title.startsWith('Good morning'), `title of the first message: ${convs[1]?.title}`);
  const msgs = await messagesOf(token, r1.conversation_id);
  check(msgs.map((m) => `${m.role}:${m.id}`).join() === `user:${r1.user_message_id},assistant:${r1.assistant_message_id},user:${r2.user_message_id},assistant:${r2.assistant_message_id}`,
    `order: ${JSON.stringify(msgs.map((m) => [m.role, m.id]))}`);
  check(msgs[0]?.content === `Good morning from TS ${suffix}` && msgs[1]?.content === r1.reply && msgs[3]?.content === r2.reply, 'contents');
  check(msgs[1]?.provider === 'development' && msgs[1].finish_reason === 'stop' && msgs[0]?.provider === '', 'provider of each message');
});

await step('conversations: rename, delete (then 404 in the envelope)', async () => {
  const api = client(need(appToken, 'token'));
  const id = need(chatJSON[0], 'chat (JSON)').conversation_id;
  const ren = await api.PATCH('/api/ai/conversations/{id}/', { params: { path: { id } }, body: { title: 'TS morning plans' } });
  check(ren.data?.data.title === 'TS morning plans', `rename: ${ren.response.status} ${JSON.stringify(ren.error)}`);
  const got = await api.GET('/api/ai/conversations/{id}/', { params: { path: { id } } });
  check(got.data?.data.title === 'TS morning plans' && got.data.data.id === id, `read back: ${JSON.stringify(got.data ?? got.error)}`);
  const del = await api.DELETE('/api/ai/conversations/{id}/', { params: { path: { id } } });
  check(del.data?.success === true && del.data.data === null, `delete: ${del.response.status} ${JSON.stringify(del.error)}`);
  const gone = await api.GET('/api/ai/conversations/{id}/', { params: { path: { id } } });
  check(gone.response.status === 404 && gone.error?.success === false && gone.error.code === 404, `after delete: ${gone.response.status} ${JSON.stringify(gone.error)}`);
  const goneMsgs = await api.GET('/api/ai/conversations/{id}/messages/', { params: { path: { id } } });
  check(goneMsgs.response.status === 404 && goneMsgs.error?.code === 404, `messages after delete: ${goneMsgs.response.status}`);
  const cont = await api.POST('/api/ai/chat/', { body: { message: 'still there?', conversation_id: id } });
  check(cont.response.status === 404 && cont.error?.code === 404, `chat in a deleted conversation: ${cont.response.status} ${JSON.stringify(cont.error)}`);
});

await step('400 envelope: empty chat message (JSON and streamed)', async () => {
  const api = client(need(appToken, 'token'));
  for (const message of ['', '   ']) {
    const res = await api.POST('/api/ai/chat/', { body: { message } });
    check(res.response.status === 400 && res.error?.success === false && res.error.code === 400, `${JSON.stringify(message)}: ${res.response.status} ${JSON.stringify(res.error)}`);
  }
  const streamed = await api.POST('/api/ai/chat/', { body: { message: '', stream: true }, parseAs: 'stream' });
  const ct = streamed.response.headers.get('content-type') ?? '';
  check(streamed.response.status === 400 && ct.startsWith('application/json') && streamed.error?.code === 400, `streamed: ${streamed.response.status} ${ct} ${JSON.stringify(streamed.error)}`);
});

// After the conversation steps, which count the conversations.
await step('streamChat: typed events start, deltas, done', async () => {
  const events: ChatStreamEvent[] = [];
  for await (const ev of streamChat(client(need(appToken, 'token')), { message: 'Hello from streamChat' })) events.push(ev);
  const first = events[0];
  const last = events[events.length - 1];
  check(first?.type === 'start' && last?.type === 'done', `events ${events.map((e) => e.type).join(',')}`);
  const deltas = events.slice(1, -1);
  check(deltas.length > 0 && deltas.every((e) => e.type === 'delta'), `events ${events.map((e) => e.type).join(',')}`);
  check(last.type === 'done' && first.type === 'start' && last.conversation_id === first.conversation_id, JSON.stringify(last));
});

// --- WebSocket (HubClient) -------------------------------------------------

// Node has no WebSocket that sends headers: the SDK takes a factory, here
// over `ws`. Every raw socket is kept so that a test can cut one.
const raw: WebSocket[] = [];
const nodeSocket: WebSocketFactory = (url, headers) => {
  const ws = new WebSocket(url, { headers });
  raw.push(ws);
  return ws as unknown as WebSocketLike;
};

interface Socket {
  hub: HubClient;
  next: (skip?: (f: ServerFrame) => boolean) => Promise<ServerFrame>;
}
// open connects a HubClient and queues every frame after `connected`.
async function open(token: string, tokenIn: 'path' | 'header'): Promise<Socket & { connected: ServerFrame }> {
  const hub = new HubClient({ baseUrl: base, token, webSocket: nodeSocket, tokenIn, reconnectInitialMs: 100 });
  const queue: ServerFrame[] = [];
  const waiters: ((f: ServerFrame) => void)[] = [];
  hub.onFrame((f) => {
    const w = waiters.shift();
    if (w) w(f);
    else queue.push(f);
  });
  hub.onInvalidFrame((f, problem) => {
    throw new Error(`invalid frame ${JSON.stringify(f)}: ${problem}`);
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
  await hub.connect();
  return { hub, next, connected: await next() };
}
let dev: Socket | undefined;
let app: Socket | undefined;

await step('open device hub (token in path) and app hub (token in header)', async () => {
  const d = await open(need(deviceToken, 'device token'), 'path');
  const a = await open(need(appToken, 'token'), 'header');
  dev = d;
  app = a;
  const dc = d.connected;
  check(dc.type === 'connected' && dc.message.role === 'device' && dc.message.mac_address === mac, `device: ${JSON.stringify(dc)}`);
  const ac: ConnectedFrame | undefined = a.connected.type === 'connected' ? a.connected : undefined;
  check(ac && ac.message.role === 'app' && ac.message.mac_address === null, `app: ${JSON.stringify(a.connected)}`);
  check(d.hub.state === 'open' && a.hub.state === 'open', `states ${d.hub.state} ${a.hub.state}`);
});

await step('relay chat app -> device', async () => {
  const chat: ClientFrame = { type: 'chat', message: { text: 'hello device', conversation_id: 'c1' } };
  const c = chat.type === 'chat' ? chat : undefined;
  need(app, 'app socket').hub.send('chat', need(c, 'chat').message);
  const got = await need(dev, 'device socket').next();
  check(got.type === 'chat', `device got ${JSON.stringify(got)}`);
  const typed: ChatFrame = got;
  check(typed.message.text === 'hello device' && typed.from?.role === 'app' && typed.from.mac_address === null, JSON.stringify(typed));
});

await step('relay command_result device -> app', async () => {
  const result: CommandResultFrame = { type: 'command_result', message: { command_id: 'x1', ok: true, result: { level: 40 } } };
  need(dev, 'device socket').hub.send('command_result', result.message);
  const back = await need(app, 'app socket').next((f) => f.type === 'device_info');
  check(back.type === 'command_result' && back.message.ok && back.message.command_id === 'x1', `app got ${JSON.stringify(back)}`);
  check(back.from?.role === 'device' && back.from.mac_address === mac, `from: ${JSON.stringify(back.from)}`);
});

await step('error frame for an unknown type', async () => {
  // Outside the contract on purpose: send's types refuse it at compile time.
  (need(app, 'app socket').hub.send as (t: string, m: unknown) => void)('no_such_type', {});
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

await step('hub chat: chat_request -> chat_delta frames and chat_done (same request_id), to the device too', async () => {
  const a = need(app, 'app socket');
  const d = need(dev, 'device socket');
  const requestId = `ts-${suffix}`;
  const req: ChatRequestFrame = { type: 'chat_request', message: { request_id: requestId, text: 'Hello over the hub' } };
  a.hub.send(req.type, req.message);
  const deltas: ChatDeltaFrame[] = [];
  let done: ChatDoneFrame | undefined;
  while (!done) {
    // Presence and the REST push of an earlier step may come first.
    const f = await a.next((f) => f.type === 'device_info' || f.type === 'notification');
    if (f.type === 'chat_delta') deltas.push(f);
    else if (f.type === 'chat_done') done = f;
    else throw new Error(`app got ${JSON.stringify(f)}`);
  }
  const m = done.message;
  check(m.request_id === requestId && m.provider === 'development' && m.finish_reason === 'stop' && !m.truncated, JSON.stringify(m));
  check(m.usage.total_tokens === m.usage.prompt_tokens + m.usage.completion_tokens && m.usage.completion_tokens > 0, JSON.stringify(m.usage));
  check(deltas.length > 1 && deltas.every((f) => f.message.request_id === requestId && f.message.conversation_id === m.conversation_id), `${deltas.length} deltas`);
  check(done.from?.connection_id === 'server', `from: ${JSON.stringify(done.from)}`);
  const text = deltas.map((f) => f.message.text).join('');
  // The device (same group) sees the same reply.
  let devText = '';
  for (;;) {
    const f = await d.next();
    if (f.type === 'chat_delta') devText += f.message.text;
    else if (f.type === 'chat_done' && f.message.request_id === requestId) break;
    else throw new Error(`device got ${JSON.stringify(f)}`);
  }
  check(devText === text, `device saw ${JSON.stringify(devText)}`);
  const stored = (await messagesOf(need(appToken, 'token'), m.conversation_id)).find((x) => x.id === m.assistant_message_id);
  check(stored?.content === text && stored.role === 'assistant', `stored ${JSON.stringify(stored?.content)}, streamed ${JSON.stringify(text)}`);
});

await step('hub chat: blank text is an error frame with the request_id', async () => {
  const a = need(app, 'app socket');
  const req: ChatRequestFrame = { type: 'chat_request', message: { request_id: `ts-blank-${suffix}`, text: '   ' } };
  a.hub.send('chat_request', req.message);
  const f = await a.next((f) => f.type === 'device_info');
  check(f.type === 'error', `got ${JSON.stringify(f)}`);
  const e: ErrorFrame = f;
  check(e.message.request_id === `ts-blank-${suffix}` && e.message.code === 'invalid_payload', JSON.stringify(e.message));
});

await step('HubClient reconnects after the connection drops, and relays again', async () => {
  const d = need(dev, 'device socket');
  const a = need(app, 'app socket');
  const states: string[] = [];
  const off = d.hub.onStateChange((c) => states.push(c.state));
  const again = d.hub.next('connected', () => true, 10000);
  const cut = raw.find((w) => w.url.includes('/ws/device/token/') && w.readyState === WebSocket.OPEN);
  need(cut, 'raw device socket').terminate(); // abrupt: close code 1006, not a terminal one
  const c = await again;
  off();
  check(c.message.role === 'device' && d.hub.state === 'open', `after reconnect: ${JSON.stringify(c)} ${d.hub.state}`);
  check(states.includes('reconnecting') && states[states.length - 1] === 'open', `states ${states.join(' -> ')}`);
  a.hub.send('command', { command_id: 'after-reconnect', name: 'ping' });
  // Frames from before the cut (presence, replies) may still be queued.
  const f = await d.next((x) => x.type !== 'command');
  check(f.type === 'command' && f.message.command_id === 'after-reconnect', `device got ${JSON.stringify(f)}`);
});

await step('HubClient stops on 4001 (invalid token): no reconnect', async () => {
  const hub = new HubClient({ baseUrl: base, token: 'not-a-token', webSocket: nodeSocket, reconnectInitialMs: 50 });
  const states: string[] = [];
  hub.onStateChange((c) => states.push(c.state));
  let err: unknown;
  await hub.connect().catch((e) => (err = e));
  check(err instanceof Error && hub.state === 'closed' && hub.lastCloseCode === 4001, `state ${hub.state}, code ${hub.lastCloseCode}, ${String(err)}`);
  await new Promise((r) => setTimeout(r, 300));
  check(hub.state === 'closed' && !states.includes('reconnecting'), `states ${states.join(' -> ')}`);
});

// --- Voice (the development provider) ---------------------------------------

// voiceWalk drives speech and a hub voice turn against the server's
// development provider: espeak-ng and pocketsphinx when installed (a real
// round trip), else the 503 envelope (code 5040) and `unavailable` error
// frames that name what is missing. The hub voice turn goes through
// HubClient: typed frames with send/onFrame, the audio with sendBinary and
// onBinary.
async function voiceWalk(): Promise<void> {
  const token = need(appToken, 'token');
  const auth = { Authorization: `Token ${token}` };
  // A second of a voiced 220 Hz tone and silence, 16 kHz PCM.
  const pcm = (seconds: number, amp: number): Buffer => {
    const b = Buffer.alloc(2 * Math.floor(16000 * seconds));
    for (let i = 0; i < b.length / 2; i++) b.writeInt16LE(Math.round(amp * 32767 * Math.sin((2 * Math.PI * 220 * i) / 16000)), 2 * i);
    return b;
  };
  let speech: Buffer | undefined; // espeak-ng's WAV, when installed

  await step('voice: text-to-speech streams WAV from the development provider, or a 503 names espeak-ng', async () => {
    const res = await fetch(`${base}/api/ai/text-to-speech/`, {
      method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ text: 'hello world', format: 'wav' }),
    });
    if (res.status === 503) {
      const e = (await res.json()) as ErrorEnvelope;
      check(e.code === 5040 && e.message.includes('espeak-ng'), JSON.stringify(e));
      return;
    }
    const body = Buffer.from(await res.arrayBuffer());
    check(res.status === 200 && res.headers.get('content-type') === 'audio/wav' && res.headers.get('x-speech-provider') === 'local', `${res.status} ${res.headers.get('content-type')}`);
    check(body.subarray(0, 4).toString() === 'RIFF' && body.length > 1000, `${body.length} bytes`);
    speech = body;
  });

  await step('voice: speech-to-text refuses empty audio (4023) and recognizes or names the missing engine', async () => {
    const post = (q: string, body: Buffer) =>
      fetch(`${base}/api/ai/speech-to-text/?${q}`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/octet-stream' }, body: new Uint8Array(body) });
    const empty = await post('format=pcm&sample_rate=16000', Buffer.alloc(0));
    const e = (await empty.json()) as ErrorEnvelope;
    check(empty.status === 400 && e.code === 4023, `empty: ${empty.status} ${JSON.stringify(e)}`);
    const res = await post(speech ? 'format=wav' : 'format=pcm&sample_rate=16000', speech ?? pcm(1, 0.3));
    if (res.status === 503) {
      const m = (await res.json()) as ErrorEnvelope;
      check(m.code === 5040 && /pocketsphinx|espeak-ng/.test(m.message), JSON.stringify(m));
      return;
    }
    if (res.status === 400 && !speech) {
      // pocketsphinx heard nothing in a tone: empty audio.
      const m = (await res.json()) as ErrorEnvelope;
      check(m.code === 4023, JSON.stringify(m));
      return;
    }
    const t = (await res.json()) as { data: components['schemas']['SpeechTranscript'] };
    check(res.status === 200 && t.data.provider === 'local' && (!speech || /hello|world/i.test(t.data.text)), JSON.stringify(t));
  });

  // A HubClient session that queues its typed frames and its binary frames
  // (the reply audio, as ArrayBuffer) in arrival order.
  const openVoice = async (tok: string) => {
    const hub = new HubClient({ baseUrl: base, token: tok, webSocket: nodeSocket });
    const frames: (ServerFrame | ArrayBuffer)[] = [];
    const waiters: (() => void)[] = [];
    const push = (f: ServerFrame | ArrayBuffer) => {
      frames.push(f);
      waiters.splice(0).forEach((w) => w());
    };
    hub.onFrame(push);
    hub.onBinary(push);
    const invalid: string[] = [];
    hub.onInvalidFrame((f, problem) => invalid.push(`${JSON.stringify(f)}: ${problem}`));
    await hub.connect();
    const next = async (skip?: (f: ServerFrame) => boolean): Promise<ServerFrame | ArrayBuffer> => {
      for (;;) {
        while (frames.length === 0) {
          check(invalid.length === 0, `invalid frames: ${invalid.join('; ')}`);
          await new Promise<void>((resolve, reject) => {
            const t = setTimeout(() => reject(new Error('no frame within 10s')), 10000);
            waiters.push(() => { clearTimeout(t); resolve(); });
          });
        }
        const f = frames.shift()!;
        if (f instanceof ArrayBuffer || !skip || !skip(f)) return f;
      }
    };
    const first = await next();
    check(!(first instanceof ArrayBuffer) && first.type === 'connected', 'connected first');
    return { hub, next };
  };
  const noise = (f: ServerFrame) => f.type === 'device_info' || f.type === 'notification' || f.type === 'chat_delta' || f.type === 'chat_done';

  await step('voice: a hub voice turn (voice_start, binary PCM, voice_end) is answered, or refused with unavailable', async () => {
    const d = await openVoice(need(deviceToken, 'device token'));
    try {
      // Outside a turn, binary frames are refused.
      d.hub.sendBinary(pcm(0.1, 0.3));
      const refused = await d.next(noise);
      check(!(refused instanceof ArrayBuffer) && refused.type === 'error' && refused.message.code === 'invalid_json', `outside a turn: ${JSON.stringify(refused)}`);
      const turn = `tsv-${suffix}`;
      d.hub.send('voice_start', { turn_id: turn, format: 'pcm', sample_rate: 16000, reply_format: 'wav' });
      const audio = speech ? speech.subarray(44) : pcm(1, 0.3);
      for (let off = 0; off < audio.length; off += 3200) d.hub.sendBinary(audio.subarray(off, off + 3200));
      d.hub.send('voice_end', { turn_id: turn });
      const first = await d.next(noise);
      check(!(first instanceof ArrayBuffer), 'binary before the transcript');
      if (first.type === 'error') {
        check(first.message.code === 'unavailable' && first.message.request_id === turn, JSON.stringify(first));
        return;
      }
      check(first.type === 'stt' && first.message.turn_id === turn && first.message.provider === 'local', JSON.stringify(first));
      let bytes = 0;
      for (;;) {
        const f = await d.next(noise);
        if (f instanceof ArrayBuffer) bytes += f.byteLength;
        else if (f.type === 'tts_end') {
          check(f.message.bytes === bytes && bytes > 0 && !f.message.interrupted, JSON.stringify(f));
          break;
        } else if (f.type === 'error') {
          // Recognized, but no synthesizer (espeak-ng missing).
          check(f.message.code === 'unavailable' && f.message.request_id === turn, JSON.stringify(f));
          break;
        } else check(f.type === 'tts_start' && f.message.turn_id === turn, JSON.stringify(f));
      }
    } finally {
      d.hub.close();
    }
  });

  await step('voice: end_silence_ms ends the turn on silence (the server sends voice_end)', async () => {
    const d = await openVoice(need(deviceToken, 'device token'));
    try {
      const turn = `tse-${suffix}`;
      d.hub.send('voice_start', { turn_id: turn, format: 'pcm', end_silence_ms: 300 });
      const audio = Buffer.concat([pcm(0.5, 0.3), Buffer.alloc(32000)]);
      for (let off = 0; off < audio.length; off += 3200) d.hub.sendBinary(audio.subarray(off, off + 3200));
      const f = await d.next(noise);
      check(!(f instanceof ArrayBuffer) && f.type === 'voice_end' && f.message.turn_id === turn, `got ${f instanceof ArrayBuffer ? 'binary' : JSON.stringify(f)}`);
      // Then the turn is answered (stt) or refused (no engine), with its id.
      const g = await d.next(noise);
      check(!(g instanceof ArrayBuffer) && ((g.type === 'stt' && g.message.turn_id === turn) || (g.type === 'error' && g.message.request_id === turn)), JSON.stringify(g));
    } finally {
      d.hub.close();
    }
  });
}


// --- Persistent commands and claim codes (docs/devices.md) ----------------
// Each walk is its own function, called below, so that other walks can be
// added next to them without touching them.

// walkCommandRoundTrip: the app queues a persistent command for its online
// device, the device answers it, the app sees the status frame and reads
// the stored outcome.
async function walkCommandRoundTrip(): Promise<void> {
  await step('persistent command: app issues, device acks, app sees acknowledged', async () => {
    const api = client(need(appToken, 'token'));
    const d = need(dev, 'device socket');
    const a = need(app, 'app socket');
    const id = need(device, 'device').id;
    const res = await api.POST('/api/device/devices/{id}/commands/', {
      params: { path: { id } },
      body: { name: 'set_volume', params: { level: 30 }, ttl_seconds: 600, idempotency_key: `ts-cmd-${suffix}` },
    });
    check(res.data && res.response.status === 201, `create: ${res.response.status} ${JSON.stringify(res.error)}`);
    const created: DeviceCommand = res.data.data;
    check(created.status === 'sent' && created.attempts === 1, `created online: ${JSON.stringify(created)}`);
    const commandId = String(created.id);
    // Earlier steps' relays may still be queued on the device socket.
    const f = await d.next((x) => !(x.type === 'command' && x.message.command_id === commandId));
    check(f.type === 'command' && f.message.name === 'set_volume' && f.from?.connection_id === 'server', `device got ${JSON.stringify(f)}`);
    const answer: CommandResultFrame = { type: 'command_result', message: { command_id: commandId, ok: true, result: { level: 30 } } };
    d.hub.send('command_result', answer.message);
    const st = await a.next((x) => !(x.type === 'command_status' && x.message.command_id === commandId && x.message.status === 'acknowledged'));
    check(st.type === 'command_status', `app got ${JSON.stringify(st)}`);
    const status: CommandStatusFrame = st;
    check(status.message.device_id === id && status.message.mac_address === mac && status.message.result?.level === 30, JSON.stringify(status.message));
    const got = await api.GET('/api/device/devices/{id}/commands/{command_id}/', { params: { path: { id, command_id: created.id } } });
    check(got.data?.data.status === 'acknowledged' && got.data.data.completed_at !== null, `stored: ${JSON.stringify(got.data ?? got.error)}`);
  });
}

// walkClaimCode: the device asks for a claim code over the hub and another
// user's app binds the device with it (last bind wins: the device's
// session under its previous owner ends, so this walk comes last).
async function walkClaimCode(): Promise<void> {
  await step('claim code: the device asks over the hub, another user binds with it', async () => {
    if (dev?.hub.state !== 'open') {
      dev?.hub.close();
      dev = await open(need(deviceToken, 'device token'), 'path');
    }
    const d = need(dev, 'device socket');
    const req: ClaimCodeRequestFrame = { type: 'claim_code_request', message: { request_id: `ts-claim-${suffix}` } };
    d.hub.send('claim_code_request', req.message);
    const f = await d.next((x) => x.type !== 'claim_code' && x.type !== 'error');
    check(f.type === 'claim_code', `device got ${JSON.stringify(f)}`);
    const code: ClaimCodeFrame = f;
    check(code.message.request_id === req.message.request_id && code.message.code.length === 8 && code.message.expires_in > 0, JSON.stringify(code.message));
    const other = await client().POST('/api/user/register/', { body: { username: `ts_claim_${suffix}`, password } });
    check(other.data, `register: ${other.response.status} ${JSON.stringify(other.error)}`);
    const claimed = await client(other.data.data.token).POST('/api/device/claim/', { body: { claim_code: code.message.code, name: 'Claimed' } });
    check(claimed.data, `claim: ${claimed.response.status} ${JSON.stringify(claimed.error)}`);
    check(claimed.data.data.mac_address === mac && claimed.data.data.name === 'Claimed', JSON.stringify(claimed.data.data));
    const again = await client(other.data.data.token).POST('/api/device/claim/', { body: { claim_code: code.message.code } });
    const e = again.error as ErrorEnvelope | undefined;
    check(again.response.status === 400 && e?.code === 4013, `reused code: ${again.response.status} ${JSON.stringify(e)}`);
  });
}

// Order: the command walk needs the device's HubClient session; the voice
// walk opens its own device sessions, which replace that session (4002); the
// claim walk opens a new one and rebinds the device, so it comes last.
await walkCommandRoundTrip();
await voiceWalk();
await walkClaimCode();

dev?.hub.close();
app?.hub.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
