// The REST client: openapi-fetch typed by the generated paths (rest/api.d.ts),
// with the token middleware and `unwrap`, which turns the standard envelope
// ({success, code, message, data}) into a result or an error value.
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { paths, components } from '../rest/api.js';

export type { paths, components };
export type Schemas = components['schemas'];
export type RestClient = Client<paths, 'application/json'>;

export interface RestOptions {
  /** Paradise base URL; default '' (same origin, as openapi.yaml's first server `/`). */
  baseUrl?: string;
  /** Sent as `Authorization: Token <token>`; read on every request, so it can change. */
  token?: string | (() => string | undefined);
  /** A fetch implementation (default: the global fetch). */
  fetch?: typeof globalThis.fetch;
}

/** createRestClient returns an openapi-fetch client for Paradise's REST API. */
export function createRestClient(options: RestOptions = {}): RestClient {
  const client = createClient<paths, 'application/json'>({ baseUrl: options.baseUrl ?? '', fetch: options.fetch });
  const { token } = options;
  if (token !== undefined) {
    const auth: Middleware = {
      onRequest({ request }) {
        const t = typeof token === 'function' ? token() : token;
        if (t) request.headers.set('Authorization', `Token ${t}`);
        return request;
      },
    };
    client.use(auth);
  }
  return client;
}

/** The error half of a Result: the envelope's business code and message, and per-field messages of a 400. */
export interface ApiError {
  ok: false;
  /** HTTP status (0 when the request did not reach the server). */
  status: number;
  /** Business code (apperr): the HTTP status or a 4-digit Paradise code such as 4010. */
  code: number;
  message: string;
  /** Field errors of a validation failure (400), by field name. */
  fields?: Record<string, string[]>;
}

export interface ApiSuccess<T> {
  ok: true;
  status: number;
  code: number;
  message: string;
  data: T;
}

export type Result<T> = ApiSuccess<T> | ApiError;

interface Envelope {
  code: number;
  message: string;
  data: unknown;
}

/**
 * unwrap awaits an openapi-fetch call and returns its envelope's `data` as
 * a success, or the error envelope (or a network failure) as an ApiError.
 *
 *   const r = await unwrap(api.POST('/api/user/login/', { body }));
 *   if (r.ok) use(r.data.token); else show(r.message);
 */
export async function unwrap<E extends Envelope>(call: Promise<{ data?: E; error?: unknown; response: Response }>): Promise<Result<E['data']>> {
  let res: { data?: E; error?: unknown; response: Response };
  try {
    res = await call;
  } catch (e) {
    return { ok: false, status: 0, code: 0, message: e instanceof Error ? e.message : String(e) };
  }
  const status = res.response.status;
  if (res.data !== undefined) {
    return { ok: true, status, code: res.data.code, message: res.data.message, data: res.data.data };
  }
  const err = res.error as Partial<Envelope> | undefined;
  const out: ApiError = {
    ok: false,
    status,
    code: typeof err?.code === 'number' ? err.code : status,
    message: typeof err?.message === 'string' ? err.message : `HTTP ${status}`,
  };
  if (err?.data && typeof err.data === 'object' && !Array.isArray(err.data)) out.fields = err.data as Record<string, string[]>;
  return out;
}
