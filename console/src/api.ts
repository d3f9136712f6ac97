// The console reaches the service only through the TypeScript SDK: the
// types generated from openapi.yaml (paradise-api, made by `make console`
// with the SDK's generator) and openapi-fetch. A contract change that the
// console does not follow fails its type check.
import createClient from "openapi-fetch";
import type { components, paths } from "paradise-api";

export type Schemas = components["schemas"];
export type AdminEvent = Schemas["AdminEvent"];

// The admin token lives in session storage only: never in a URL, gone
// when the tab closes.
const TOKEN_KEY = "paradise.admin.token";
const USER_KEY = "paradise.admin.user";

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  user: (): Schemas["User"] | null => {
    const raw = sessionStorage.getItem(USER_KEY);
    return raw ? (JSON.parse(raw) as Schemas["User"]) : null;
  },
  set(token: string, user: Schemas["User"]) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(USER_KEY, JSON.stringify(user));
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(USER_KEY);
    window.dispatchEvent(new Event("paradise:logout"));
  },
};

export const api = createClient<paths>({ baseUrl: "" });
api.use({
  onRequest({ request }) {
    const token = session.token();
    if (token) request.headers.set("Authorization", `Token ${token}`);
    return request;
  },
});

/** An error answer of the service: its envelope's message and fields. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: number,
    readonly fields: Record<string, string[]> | null,
  ) {
    super(message);
  }
}

type Envelope = { success: boolean; code: number; message: string; data: unknown };

/**
 * Unwraps an openapi-fetch result: the envelope's data, or an ApiError with
 * the envelope's message. A 401 ends the session.
 */
export async function call<E extends Envelope>(
  p: Promise<{ data?: E; error?: unknown; response: Response }>,
): Promise<E["data"]> {
  const { data, error, response } = await p;
  if (data !== undefined && response.ok) return data.data;
  const env = (error ?? {}) as Partial<Envelope>;
  if (response.status === 401) session.clear();
  const fields =
    env.data && typeof env.data === "object" && !Array.isArray(env.data)
      ? (env.data as Record<string, string[]>)
      : null;
  throw new ApiError(env.message || `HTTP ${response.status}`, response.status, env.code ?? response.status, fields);
}

/**
 * Follows the admin event stream (adminStreamEvents) until signal aborts.
 * EventSource cannot send the Authorization header, so the stream is read
 * with fetch. Reconnects after a pause when the stream drops.
 */
export async function followEvents(
  onEvent: (ev: AdminEvent) => void,
  onState: (connected: boolean) => void,
  signal: AbortSignal,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const res = await fetch("/api/v1/admin/events/", {
        headers: { Authorization: `Token ${session.token() ?? ""}`, Accept: "text/event-stream" },
        signal,
      });
      if (res.status === 401) {
        session.clear();
        return;
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      onState(true);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let cut: number;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          for (const line of block.split("\n")) {
            if (line.startsWith("data: ")) onEvent(JSON.parse(line.slice(6)) as AdminEvent);
          }
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    onState(false);
    await new Promise((r) => setTimeout(r, 3000));
  }
}
