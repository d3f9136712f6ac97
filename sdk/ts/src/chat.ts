// Streaming chat over Server-Sent Events (POST /api/ai/chat/ with
// "stream": true): an async iterator of the typed events of openapi.yaml's
// ChatStreamEvent (start, delta..., done or error).
import type { components } from '../rest/api.js';
import type { ApiError, RestClient } from './rest.js';

export type ChatRequest = components['schemas']['ChatRequest'];
export type ChatStreamEvent = components['schemas']['ChatStreamEvent'];

/** Thrown by streamChat when the server refuses the request before streaming (envelope error). */
export class ChatStreamError extends Error {
  constructor(readonly error: ApiError) {
    super(error.message);
  }
}

/**
 * streamChat sends a chat message and yields the reply's events as they
 * arrive. Breaking out of the loop cancels the request.
 *
 *   for await (const ev of streamChat(api, { message: 'Hi' })) if (ev.type === 'delta') write(ev.text);
 */
export async function* streamChat(client: RestClient, request: Omit<ChatRequest, 'stream'>, init: { signal?: AbortSignal } = {}): AsyncGenerator<ChatStreamEvent> {
  const res = await client.POST('/api/ai/chat/', {
    body: { ...request, stream: true },
    parseAs: 'stream',
    signal: init.signal,
    headers: { Accept: 'text/event-stream' },
  });
  if (!res.response.ok || !res.data) {
    let env: Partial<{ code: number; message: string; data: unknown }> = {};
    try {
      env = (res.error ?? (await res.response.json())) as typeof env;
    } catch {
      // not an envelope
    }
    throw new ChatStreamError({
      ok: false,
      status: res.response.status,
      code: env.code ?? res.response.status,
      message: env.message ?? `HTTP ${res.response.status}`,
      fields: env.data && typeof env.data === 'object' ? (env.data as Record<string, string[]>) : undefined,
    });
  }
  for await (const data of sseData(res.data as ReadableStream<Uint8Array>)) {
    yield JSON.parse(data) as ChatStreamEvent;
  }
}

/** sseData yields the `data` of each Server-Sent Event of a body (lines joined by \n). */
async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let data: string[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buf += done ? decoder.decode() : decoder.decode(value, { stream: true });
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        if (line === '') {
          if (data.length > 0) yield data.join('\n');
          data = [];
        } else if (line.startsWith('data:')) {
          data.push(line.slice(5).replace(/^ /, ''));
        }
      }
      if (done) break;
    }
    if (data.length > 0) yield data.join('\n');
  } finally {
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
