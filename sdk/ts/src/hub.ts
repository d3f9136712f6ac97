// HubClient: one hub session (asyncapi.yaml) that stays open. It connects
// with a token (request header where the WebSocket implementation can set
// one, the URL path otherwise), dispatches incoming frames by type after
// checking them against the contract's schemas, sends typed frames,
// carries binary frames (a voice turn's audio) both ways, keeps the session alive with heartbeat/pong and reconnects with
// jittered exponential backoff — except after the close codes that mean
// "log in again" or "another session took over" (4001-4004).
import type { ClientFrame, ServerFrame } from '../ws/index.js';
import { frameSchemas, serverFrameTypes } from './frames.js';
import { validate } from './validate.js';

export type ServerFrameType = ServerFrame['type'];
export type ClientFrameType = ClientFrame['type'];
/** The server frame of the given type. */
export type ServerFrameOf<T extends ServerFrameType> = Extract<ServerFrame, { type: T }>;
/** The payload (`message`) a client sends in a frame of the given type. */
export type ClientPayloadOf<T extends ClientFrameType> = Extract<ClientFrame, { type: T }>['message'];

/** Close codes after which HubClient does not reconnect (asyncapi.yaml x-close-codes). */
export const terminalCloseCodes: ReadonlySet<number> = new Set([4001, 4002, 4003, 4004]);

export type HubState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface HubStateChange {
  state: HubState;
  previous: HubState;
  /** The close code that caused the change, when a socket closed. */
  code?: number;
  reason?: string;
  /** For 'reconnecting': the wait before the next attempt, in milliseconds. */
  delayMs?: number;
}

/** The part of the WHATWG WebSocket that HubClient uses (browsers, Node's `ws`). */
export interface WebSocketLike {
  readonly readyState: number;
  /** HubClient sets 'arraybuffer', so that binary frames arrive as ArrayBuffer in browsers and in `ws`. */
  binaryType?: string;
  send(data: string | ArrayBuffer | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onmessage: ((ev: { data: any }) => void) | null;
  onerror: ((ev: any) => void) | null;
}

/** Opens a WebSocket; headers is set when the token goes in a request header. */
export type WebSocketFactory = (url: string, headers?: Record<string, string>) => WebSocketLike;

export interface HubOptions {
  /** Paradise base URL: http(s)://host[:port] or ws(s)://host[:port]. */
  baseUrl: string;
  token: string;
  /**
   * How to open a socket. Default: the global WebSocket (browsers), token in
   * the URL path. In Node pass e.g.
   * `(url, headers) => new WebSocket(url, { headers })` with the `ws` package.
   */
  webSocket?: WebSocketFactory;
  /** Where the token goes; default 'header' with a webSocket factory, else 'path'. */
  tokenIn?: 'header' | 'path';
  /** First reconnect delay bound in ms (default 500); doubles per failed attempt. */
  reconnectInitialMs?: number;
  /** Largest reconnect delay bound in ms (default 30000). */
  reconnectMaxMs?: number;
  /** Application heartbeat interval in ms (default 25000; 0 turns it off). A session silent for two intervals is dropped and reconnected. */
  heartbeatMs?: number;
  /** Check incoming frames against the contract's schemas (default true). */
  validateFrames?: boolean;
}

type Handler = (frame: any) => void;

export class HubClient {
  private readonly opts: Required<Omit<HubOptions, 'webSocket' | 'tokenIn'>> & Pick<HubOptions, 'webSocket' | 'tokenIn'>;
  private ws: WebSocketLike | undefined;
  private stateValue: HubState = 'idle';
  private attempt = 0;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private lastHeard = 0;
  private readonly handlers = new Map<string, Set<Handler>>();
  private readonly anyHandlers = new Set<(f: ServerFrame) => void>();
  private readonly stateHandlers = new Set<(c: HubStateChange) => void>();
  private readonly invalidHandlers = new Set<(raw: unknown, problem: string) => void>();
  private readonly binaryHandlers = new Set<(data: ArrayBuffer) => void>();
  /** The close code of the last closed socket, if any. */
  lastCloseCode: number | undefined;

  constructor(options: HubOptions) {
    this.opts = {
      reconnectInitialMs: 500,
      reconnectMaxMs: 30000,
      heartbeatMs: 25000,
      validateFrames: true,
      ...options,
    };
  }

  get state(): HubState {
    return this.stateValue;
  }

  /** Calls handler for every server frame of the given type; returns a function that removes it. */
  on<T extends ServerFrameType>(type: T, handler: (frame: ServerFrameOf<T>) => void): () => void {
    let set = this.handlers.get(type);
    if (!set) this.handlers.set(type, (set = new Set()));
    set.add(handler as Handler);
    return () => set!.delete(handler as Handler);
  }

  /** Calls handler for every server frame that passed validation, whatever its type. */
  onFrame(handler: (frame: ServerFrame) => void): () => void {
    this.anyHandlers.add(handler);
    return () => this.anyHandlers.delete(handler);
  }

  /** Calls handler on every state change (connecting, open, reconnecting, closed). */
  onStateChange(handler: (change: HubStateChange) => void): () => void {
    this.stateHandlers.add(handler);
    return () => this.stateHandlers.delete(handler);
  }

  /** Calls handler for each incoming frame that breaks the contract (it is not dispatched). */
  onInvalidFrame(handler: (raw: unknown, problem: string) => void): () => void {
    this.invalidHandlers.add(handler);
    return () => this.invalidHandlers.delete(handler);
  }

  /**
   * Calls handler for every binary frame (a voice turn's reply audio,
   * between `tts_start` and `tts_end`), in arrival order with the text
   * frames; returns a function that removes it.
   */
  onBinary(handler: (data: ArrayBuffer) => void): () => void {
    this.binaryHandlers.add(handler);
    return () => this.binaryHandlers.delete(handler);
  }

  /** Resolves with the next frame of the type that passes filter, or rejects after timeoutMs. */
  next<T extends ServerFrameType>(type: T, filter: (frame: ServerFrameOf<T>) => boolean = () => true, timeoutMs = 10000): Promise<ServerFrameOf<T>> {
    return new Promise((resolve, reject) => {
      const off = this.on(type, (f) => {
        if (!filter(f)) return;
        clearTimeout(t);
        off();
        resolve(f);
      });
      const t = setTimeout(() => {
        off();
        reject(new Error(`no ${type} frame within ${timeoutMs} ms`));
      }, timeoutMs);
    });
  }

  /**
   * Opens the session. Resolves with the server's `connected` frame; rejects
   * if the socket closes first with a code after which it does not retry.
   */
  connect(): Promise<ServerFrameOf<'connected'>> {
    this.stopped = false;
    const p = new Promise<ServerFrameOf<'connected'>>((resolve, reject) => {
      const offOk = this.on('connected', (f) => {
        offOk();
        offState();
        resolve(f);
      });
      const offState = this.onStateChange((c) => {
        if (c.state !== 'closed') return;
        offOk();
        offState();
        reject(new Error(`hub closed (code ${c.code ?? 'none'}${c.reason ? `: ${c.reason}` : ''})`));
      });
    });
    this.open();
    return p;
  }

  /** Sends a frame; throws when the session is not open. */
  send<T extends ClientFrameType>(type: T, message: ClientPayloadOf<T>): void {
    const ws = this.ws;
    if (!ws || this.stateValue !== 'open' || ws.readyState !== 1) throw new Error(`hub session is ${this.stateValue}, cannot send ${type}`);
    ws.send(JSON.stringify({ type, message }));
  }

  /**
   * Sends a binary frame (a voice turn's audio, between `voice_start` and
   * `voice_end`); throws when the session is not open or data is empty (the
   * server reads an empty frame as nothing and it only costs a round trip).
   */
  sendBinary(data: Uint8Array | ArrayBuffer): void {
    if (!(data instanceof Uint8Array) && !(data instanceof ArrayBuffer)) throw new TypeError('sendBinary takes a Uint8Array or an ArrayBuffer');
    if (data.byteLength === 0) throw new RangeError('sendBinary: empty frame');
    const ws = this.ws;
    if (!ws || this.stateValue !== 'open' || ws.readyState !== 1) throw new Error(`hub session is ${this.stateValue}, cannot send a binary frame`);
    ws.send(data);
  }

  /** Closes the session for good (no reconnect). */
  close(code = 1000, reason = 'client closed'): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.stopHeartbeat();
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      ws.close(code, reason);
    }
    this.setState({ state: 'closed', code, reason });
  }

  private url(): { url: string; headers?: Record<string, string> } {
    const base = this.opts.baseUrl.replace(/^http/, 'ws').replace(/\/+$/, '');
    const inHeader = (this.opts.tokenIn ?? (this.opts.webSocket ? 'header' : 'path')) === 'header';
    if (inHeader) return { url: `${base}/ws/device/`, headers: { Authorization: `Token ${this.opts.token}` } };
    return { url: `${base}/ws/device/token/${encodeURIComponent(this.opts.token)}/` };
  }

  private open(): void {
    clearTimeout(this.timer);
    this.setState({ state: this.attempt === 0 ? 'connecting' : 'reconnecting' });
    const { url, headers } = this.url();
    let ws: WebSocketLike;
    try {
      if (this.opts.webSocket) ws = this.opts.webSocket(url, headers);
      else {
        const WS = (globalThis as { WebSocket?: new (url: string) => WebSocketLike }).WebSocket;
        if (!WS) throw new Error('no global WebSocket: pass the webSocket option');
        ws = new WS(url);
      }
    } catch (e) {
      this.setState({ state: 'closed', reason: e instanceof Error ? e.message : String(e) });
      return;
    }
    this.ws = ws;
    // Binary frames as ArrayBuffer in both browsers (default Blob, which
    // can only be read asynchronously) and `ws` (default Node Buffer).
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onerror = () => {}; // the close event that follows decides
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.stopHeartbeat();
      this.lastCloseCode = ev.code;
      if (this.stopped || terminalCloseCodes.has(ev.code)) {
        this.stopped = true;
        this.setState({ state: 'closed', code: ev.code, reason: ev.reason });
        return;
      }
      // Full jitter: a random wait up to the current bound, so that many
      // clients dropped by one restart do not come back in step.
      const bound = Math.min(this.opts.reconnectMaxMs, this.opts.reconnectInitialMs * 2 ** this.attempt);
      const delayMs = Math.floor(Math.random() * bound);
      this.attempt++;
      this.setState({ state: 'reconnecting', code: ev.code, reason: ev.reason, delayMs });
      this.timer = setTimeout(() => this.open(), delayMs);
    };
  }

  private receive(data: unknown): void {
    this.lastHeard = Date.now();
    if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
      // A socket that ignored binaryType may hand over a view (a Node
      // Buffer): copy exactly its bytes, not its whole backing pool.
      const buf = data instanceof ArrayBuffer ? data : (data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer);
      for (const h of [...this.binaryHandlers]) h(buf);
      return;
    }
    let frame: unknown;
    try {
      frame = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch {
      this.invalid(data, 'not JSON');
      return;
    }
    const type = (frame as { type?: unknown })?.type;
    if (typeof type !== 'string' || !serverFrameTypes.includes(type)) {
      this.invalid(frame, `unknown server frame type ${JSON.stringify(type)}`);
      return;
    }
    if (this.opts.validateFrames) {
      const problem = validate(frameSchemas[type]!, frame);
      if (problem) {
        this.invalid(frame, problem);
        return;
      }
    }
    if (type === 'connected') {
      this.attempt = 0;
      this.setState({ state: 'open' });
      this.startHeartbeat();
    }
    for (const h of [...(this.handlers.get(type) ?? [])]) h(frame);
    for (const h of [...this.anyHandlers]) h(frame as ServerFrame);
  }

  private invalid(raw: unknown, problem: string): void {
    for (const h of [...this.invalidHandlers]) h(raw, problem);
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    const every = this.opts.heartbeatMs;
    if (every <= 0) return;
    this.lastHeard = Date.now();
    this.heartbeat = setInterval(() => {
      const ws = this.ws;
      if (!ws) return;
      if (Date.now() - this.lastHeard > 2 * every) {
        // Silent for two intervals (no pong): drop it; onclose reconnects.
        ws.close(4000, 'heartbeat timeout');
        return;
      }
      if (ws.readyState === 1) ws.send(JSON.stringify({ type: 'heartbeat', message: { ts: Date.now() } }));
    }, every);
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private setState(change: Omit<HubStateChange, 'previous'>): void {
    const previous = this.stateValue;
    if (previous === change.state && change.state !== 'reconnecting') return;
    this.stateValue = change.state;
    for (const h of [...this.stateHandlers]) h({ ...change, previous });
  }
}
