// Unit tests of HubClient's reconnect backoff, heartbeat and binary frames with a fake
// clock (node:test mock timers, Date included) and a fake socket. sdk/run.sh
// copies this file into dist/sdk/ts/test/ and runs it with `node --test`
// against the compiled package (../lib/src/hub.js).
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { HubClient, terminalCloseCodes } from '../lib/src/hub.js';

// A socket the test drives: open() / frame() / drop() play the server.
class FakeSocket {
  constructor(url, headers) {
    this.url = url;
    this.headers = headers;
    this.readyState = 0;
    this.sent = [];
    this.sentBinary = [];
    this.closedWith = undefined;
    this.onopen = this.onclose = this.onmessage = this.onerror = null;
  }
  send(data) {
    if (typeof data === 'string') this.sent.push(JSON.parse(data));
    else this.sentBinary.push(data);
  }
  close(code, reason) {
    this.closedWith = code;
    this.drop(code, reason);
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  frame(f) {
    this.onmessage?.({ data: JSON.stringify(f) });
  }
  binary(data) {
    this.onmessage?.({ data });
  }
  drop(code, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

const connected = (role = 'app') => ({
  type: 'connected',
  message: { user_id: 1, role, mac_address: null, connection_id: 'c-1', server_time: '2026-01-01T00:00:00Z' },
});

// A client over fake sockets with a fake clock; random() returns rnd.
function setup(t, opts = {}, rnd = 0.5) {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  t.mock.method(Math, 'random', () => rnd);
  const sockets = [];
  const states = [];
  const hub = new HubClient({
    baseUrl: 'http://hub.test',
    token: 'tok',
    webSocket: (url, headers) => {
      const s = new FakeSocket(url, headers);
      sockets.push(s);
      return s;
    },
    reconnectInitialMs: 100,
    reconnectMaxMs: 1000,
    heartbeatMs: 0,
    ...opts,
  });
  hub.onStateChange((c) => states.push(c));
  return { hub, sockets, states, last: () => sockets[sockets.length - 1] };
}

test('token goes in the Authorization header with a socket factory', (t) => {
  const a = setup(t);
  a.hub.connect().catch(() => {});
  assert.equal(a.last().url, 'ws://hub.test/ws/device/');
  assert.deepEqual(a.last().headers, { Authorization: 'Token tok' });
});

test('token goes in the URL path when asked', (t) => {
  const b = setup(t, { token: 'a b', tokenIn: 'path' });
  b.hub.connect().catch(() => {});
  assert.equal(b.last().url, 'ws://hub.test/ws/device/token/a%20b/');
  assert.equal(b.last().headers, undefined);
});

test('backoff: the bound doubles per failed attempt up to the cap; the wait is below the bound', async (t) => {
  for (const [rnd, want] of [
    [0, [0, 0, 0, 0, 0, 0]],
    [0.5, [50, 100, 200, 400, 500, 500]],
    [0.999999, [99, 199, 399, 799, 999, 999]],
  ]) {
    await t.test(`random ${rnd}`, (t) => {
      const { hub, sockets, states, last } = setup(t, {}, rnd);
      hub.connect().catch(() => {});
      const delays = [];
      for (let i = 0; i < want.length; i++) {
        last().drop(1006);
        const c = states[states.length - 1];
        assert.equal(c.state, 'reconnecting');
        assert.equal(c.code, 1006);
        delays.push(c.delayMs);
        // No new socket before the wait is over, one right after it.
        const before = sockets.length;
        if (c.delayMs > 0) {
          t.mock.timers.tick(c.delayMs - 1);
          assert.equal(sockets.length, before, `attempt ${i}: reconnected early`);
        }
        t.mock.timers.tick(c.delayMs === 0 ? 0 : 1);
        assert.equal(sockets.length, before + 1, `attempt ${i}: no reconnect after ${c.delayMs} ms`);
      }
      assert.deepEqual(delays, want);
      hub.close();
    });
  }
});

test('backoff: a connected frame resets the bound to the initial delay', (t) => {
  const { hub, states, last } = setup(t, {}, 0.999999);
  hub.connect().catch(() => {});
  for (let i = 0; i < 3; i++) {
    last().drop(1006);
    t.mock.timers.tick(states[states.length - 1].delayMs);
  }
  last().open();
  last().frame(connected());
  assert.equal(hub.state, 'open');
  last().drop(1001, 'going away');
  assert.equal(states[states.length - 1].delayMs, 99);
  hub.close();
});

test('close codes 4001-4004 stop the client: closed, connect() rejects, no new socket ever', async (t) => {
  assert.deepEqual([...terminalCloseCodes].sort(), [4001, 4002, 4003, 4004]);
  for (const code of [4001, 4002, 4003, 4004]) {
    await t.test(`code ${code} before connected`, async (t) => {
      const { hub, sockets, states, last } = setup(t);
      const p = hub.connect();
      last().open();
      last().drop(code, 'bye');
      await assert.rejects(p, new RegExp(`code ${code}`));
      assert.equal(hub.state, 'closed');
      assert.equal(hub.lastCloseCode, code);
      t.mock.timers.tick(60_000);
      assert.equal(sockets.length, 1);
      assert.ok(!states.some((c) => c.state === 'reconnecting'));
    });
    await t.test(`code ${code} on an open session`, (t) => {
      const { hub, sockets, last } = setup(t);
      hub.connect();
      last().open();
      last().frame(connected());
      last().drop(code);
      t.mock.timers.tick(60_000);
      assert.equal(hub.state, 'closed');
      assert.equal(sockets.length, 1);
    });
  }
  for (const code of [1000, 1001, 1006, 1008, 1011, 1013, 4000]) {
    await t.test(`code ${code} reconnects`, (t) => {
      const { hub, last } = setup(t);
      hub.connect();
      last().open();
      last().frame(connected());
      last().drop(code);
      assert.equal(hub.state, 'reconnecting');
      hub.close();
    });
  }
});

test('heartbeat: a frame every interval while open; pongs keep the session', (t) => {
  const { hub, last } = setup(t, { heartbeatMs: 1000 });
  hub.connect();
  const s = last();
  s.open();
  s.frame(connected());
  t.mock.timers.tick(999);
  assert.equal(s.sent.length, 0);
  t.mock.timers.tick(1);
  assert.equal(s.sent.length, 1);
  assert.equal(s.sent[0].type, 'heartbeat');
  assert.equal(s.sent[0].message.ts, Date.now());
  for (let i = 0; i < 5; i++) {
    s.frame({ type: 'pong', message: { ts: Date.now() } });
    t.mock.timers.tick(1000);
  }
  assert.equal(s.sent.length, 6);
  assert.equal(s.closedWith, undefined);
  assert.equal(hub.state, 'open');
  hub.close();
});

test('heartbeat: a session silent for more than two intervals is closed with 4000 and reconnected', (t) => {
  const { hub, sockets, states, last } = setup(t, { heartbeatMs: 1000 });
  hub.connect();
  const s = last();
  s.open();
  s.frame(connected());
  t.mock.timers.tick(2000); // two heartbeats, no answer yet: still within two intervals
  assert.equal(s.closedWith, undefined);
  t.mock.timers.tick(1000);
  assert.equal(s.closedWith, 4000);
  const c = states[states.length - 1];
  assert.equal(c.state, 'reconnecting');
  assert.equal(c.code, 4000);
  t.mock.timers.tick(c.delayMs);
  assert.equal(sockets.length, 2);
  // The dead socket's heartbeat stopped: nothing more was sent on it.
  const sent = s.sent.length;
  t.mock.timers.tick(5000);
  assert.equal(s.sent.length, sent);
  hub.close();
});

test('heartbeatMs 0 sends no heartbeat and never drops a quiet session', (t) => {
  const { hub, last } = setup(t, { heartbeatMs: 0 });
  hub.connect();
  last().open();
  last().frame(connected());
  t.mock.timers.tick(600_000);
  assert.equal(last().sent.length, 0);
  assert.equal(hub.state, 'open');
  hub.close();
});

test('close() stops for good: no reconnect after a pending wait', (t) => {
  const { hub, sockets, last } = setup(t);
  hub.connect().catch(() => {});
  last().drop(1006);
  hub.close();
  t.mock.timers.tick(60_000);
  assert.equal(sockets.length, 1);
  assert.equal(hub.state, 'closed');
});

test('binary frames out: sendBinary sends the bytes as they are, only on an open session', (t) => {
  const { hub, last } = setup(t);
  hub.connect();
  const s = last();
  assert.equal(s.binaryType, 'arraybuffer');
  assert.throws(() => hub.sendBinary(new Uint8Array([1, 2])), /hub session is connecting/);
  s.open();
  s.frame(connected('device'));
  const pcm = new Uint8Array([1, 2, 3, 4]);
  hub.sendBinary(pcm);
  hub.sendBinary(new Uint8Array([5, 6]).buffer);
  assert.equal(s.sentBinary.length, 2);
  assert.equal(s.sentBinary[0], pcm);
  assert.deepEqual([...new Uint8Array(s.sentBinary[1])], [5, 6]);
  assert.equal(s.sent.length, 0, 'no text frame for binary data');
  assert.throws(() => hub.sendBinary(new Uint8Array(0)), /empty frame/);
  assert.throws(() => hub.sendBinary('text'), /Uint8Array or an ArrayBuffer/);
  hub.close();
  assert.throws(() => hub.sendBinary(pcm), /hub session is closed/);
});

test('binary frames in: onBinary gets ArrayBuffers in order with the text frames, which stay typed', (t) => {
  const { hub, last } = setup(t);
  const got = [];
  const off = hub.onBinary((b) => got.push(['binary', b]));
  hub.onFrame((f) => got.push(['frame', f.type]));
  const invalid = [];
  hub.onInvalidFrame((raw, problem) => invalid.push(problem));
  hub.connect();
  const s = last();
  s.open();
  s.frame(connected('device'));
  s.frame({ type: 'tts_start', message: { turn_id: 't-1', format: 'pcm', sample_rate: 16000 } });
  s.binary(new Uint8Array([1, 2, 3]).buffer);
  // A socket that ignored binaryType (a Node Buffer, a view into a pool).
  const pool = new Uint8Array([9, 9, 7, 8, 9, 9]);
  s.binary(Buffer.from(pool.buffer, 2, 2));
  s.frame({ type: 'tts_end', message: { turn_id: 't-1', bytes: 5, interrupted: false } });
  assert.deepEqual(invalid, []);
  assert.deepEqual(got.map(([k, v]) => (k === 'binary' ? [k, v instanceof ArrayBuffer, [...new Uint8Array(v)]] : [k, v])), [
    ['frame', 'connected'],
    ['frame', 'tts_start'],
    ['binary', true, [1, 2, 3]],
    ['binary', true, [7, 8]],
    ['frame', 'tts_end'],
  ]);
  off();
  s.binary(new Uint8Array([4]).buffer);
  assert.equal(got.length, 5, 'removed handler still called');
  hub.close();
});

test('heartbeat: binary frames count as heard, a session receiving only audio is kept', (t) => {
  const { hub, last } = setup(t, { heartbeatMs: 1000 });
  hub.connect();
  const s = last();
  s.open();
  s.frame(connected('device'));
  for (let i = 0; i < 10; i++) {
    t.mock.timers.tick(1000);
    s.binary(new Uint8Array([i + 1]).buffer);
  }
  assert.equal(s.closedWith, undefined);
  assert.equal(hub.state, 'open');
  hub.close();
});
