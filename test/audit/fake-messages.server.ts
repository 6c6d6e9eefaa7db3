import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: any;
  /** Event ids found in the user message, in order. */
  eventIds: string[];
  /** The API key the client presented (the SDK sends it as `x-api-key` or as a bearer token, by version). */
  apiKey: string | null;
}

function presentedKey(headers: http.IncomingHttpHeaders): string | null {
  const x = headers['x-api-key'];
  if (typeof x === 'string') return x;
  const auth = headers.authorization;
  return auth?.startsWith('Bearer ') ? auth.slice(7) : null;
}

/** What the server does with one request: answer, fail with a status, or never answer (a timeout for the client). */
export type Behaviour = { kind: 'ok'; usage?: { input_tokens: number; output_tokens: number }; omit?: string[] } | { kind: 'status'; status: number; headers?: Record<string, string> } | { kind: 'hang' };

/**
 * A loopback server speaking the Anthropic Messages API shape (POST /v1/messages). Each answer gives every event the
 * sentence `Prose for <id>: <action>.`, so tests can see which row got which sentence.
 */
export class FakeMessagesServer {
  readonly received: ReceivedRequest[] = [];
  /** Consumed one per request; once empty, every request is answered with `fallback`. */
  readonly plan: Behaviour[] = [];
  fallback: Behaviour = { kind: 'ok' };
  /** When set, requests presenting another key get a 401. */
  validKeys: Set<string> | null = null;
  private readonly server = http.createServer((req, res) => void this.handle(req, res));
  url = '';

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Requests that reached the Messages endpoint (whatever the answer). */
  get messages(): ReceivedRequest[] {
    return this.received.filter((r) => r.path === '/v1/messages');
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: any = null;
    try {
      body = JSON.parse(raw);
    } catch {
      body = null;
    }
    const events: { id: string; action: string }[] = (() => {
      try {
        return JSON.parse(body.messages[0].content).events;
      } catch {
        return [];
      }
    })();
    const path = (req.url ?? '').split('?')[0]!;
    const apiKey = presentedKey(req.headers);
    this.received.push({ method: req.method ?? '', path, headers: req.headers, raw, body, eventIds: events.map((e) => e.id), apiKey });
    const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(value));
    };
    if (req.method !== 'POST' || path !== '/v1/messages') return json(404, { type: 'error', error: { type: 'not_found_error', message: 'not found' } });
    if (this.validKeys && !(apiKey && this.validKeys.has(apiKey))) {
      return json(401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });
    }
    const b = this.plan.shift() ?? this.fallback;
    if (b.kind === 'hang') return;
    if (b.kind === 'status') {
      const type = b.status === 429 ? 'rate_limit_error' : b.status >= 500 ? 'api_error' : 'invalid_request_error';
      return json(b.status, { type: 'error', error: { type, message: `fake ${b.status}` } }, b.headers);
    }
    const sentences = Object.fromEntries(events.filter((e) => !b.omit?.includes(e.id)).map((e) => [e.id, `Prose for ${e.id}: ${e.action}.`]));
    json(200, {
      id: `msg_fake_${this.received.length}`,
      type: 'message',
      role: 'assistant',
      model: body?.model ?? 'unknown',
      content: [{ type: 'text', text: JSON.stringify(sentences) }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: b.usage ?? { input_tokens: 1000 + events.length * 10, output_tokens: events.length * 7 },
    });
  }
}
