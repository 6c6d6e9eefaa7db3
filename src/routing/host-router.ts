import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { clientResponseHeaders, hasRequestBody, upstreamHeaderBlock, upstreamUpgradeHeaders } from './forwarded-headers.js';
import type { ResponseHead } from './response-parser.js';
import { UpstreamError, UpstreamPool, type UpstreamHandler, type UpstreamRequest } from './upstream-pool.js';
import {
  endSocket,
  instanceNotFound,
  instanceUnavailable,
  invalidHost,
  sendError,
  sendErrorOnSocket,
  upstreamTimeout,
  upstreamUnreachable,
} from './router-responses.js';

export type RouteTarget =
  | { instanceId: string; subdomain: string; state: 'running'; upstream: { host: string; port: number } }
  | { instanceId: string; subdomain: string; state: 'stopped' | 'starting' | 'stopping' | 'error' };

type RunningTarget = Extract<RouteTarget, { state: 'running' }>;

export interface RouterLogger {
  warn(o: object, msg?: string): void;
  error(o: object, msg?: string): void;
}

export interface HostRouterOptions {
  /** Instances answer at `<label>.<rootDomain>`; the root domain itself is the manager's host. */
  rootDomain: string;
  logger: RouterLogger;
  /** Largest request body kept for the `/api` fallback replay; larger bodies get the upstream's 404. Default 1 MiB. */
  retryBodyLimitBytes?: number;
  /** How long an upstream may stay silent (connecting, before headers, between body chunks). Default 60 s. */
  upstreamTimeoutMs?: number;
}

const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const HOST_NAME = /^[a-z0-9._-]+$/;
const BRACKETED_IP = /^\[[0-9a-f:.]+\]$/;
const PORT = /^[0-9]{1,5}$/;

/** What a Host header addresses: an instance label, the manager (`null`), or nothing sensible. */
type HostKind = string | null | typeof INVALID_HOST;
const INVALID_HOST = 0;

interface ProxyContext {
  readonly pool: UpstreamPool;
  readonly upgradeAgent: http.Agent;
  readonly logger: RouterLogger;
  readonly retryBodyLimit: number;
  readonly timeoutMs: number;
  readonly tunnels: Set<Duplex>;
}

/**
 * The embedded shape's edge: requests for `<label>.<rootDomain>` go to that instance's Node-RED, everything else is
 * left to the manager. The table is replaced, never edited, so one request always sees one whole table.
 */
export class HostRouter {
  private table: ReadonlyMap<string, RouteTarget> = new Map();
  private readonly root: string;
  private readonly suffix: string;
  private readonly context: ProxyContext;

  constructor(options: HostRouterOptions) {
    this.root = options.rootDomain.toLowerCase().replace(/^\.+|\.+$/g, '');
    this.suffix = `.${this.root}`;
    this.context = {
      pool: new UpstreamPool({
        maxSockets: 256,
        maxIdle: 64,
        idleTimeoutMs: 30_000,
        requestTimeoutMs: options.upstreamTimeoutMs ?? 60_000,
      }),
      upgradeAgent: new http.Agent({ keepAlive: false }),
      logger: options.logger,
      retryBodyLimit: options.retryBodyLimitBytes ?? 1024 * 1024,
      timeoutMs: options.upstreamTimeoutMs ?? 60_000,
      tunnels: new Set(),
    };
  }

  setTable(table: ReadonlyMap<string, RouteTarget>): void {
    this.table = table;
  }

  labelFor(hostHeader: string | undefined): string | null {
    const kind = this.classify(hostHeader);
    return kind === INVALID_HOST ? null : kind;
  }

  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    const kind = this.classify(req.headers.host);
    if (kind === null) return false;
    if (kind === INVALID_HOST) {
      sendError(req, res, invalidHost());
      return true;
    }
    const target = this.table.get(kind);
    if (target === undefined) sendError(req, res, instanceNotFound(kind));
    else if (target.state !== 'running') sendError(req, res, instanceUnavailable(kind, target.state));
    else {
      try {
        new HttpExchange(this.context, req, res, target, kind).start();
      } catch (err) {
        // E.g. a table entry with an impossible port: a bad route must cost one request, never the process.
        this.context.logger.error({ err, instanceId: target.instanceId, label: kind }, 'instance proxy failed');
        if (res.headersSent) res.destroy();
        else sendError(req, res, upstreamUnreachable(kind));
      }
    }
    return true;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const kind = this.classify(req.headers.host);
    if (kind === null) return false;
    if (kind === INVALID_HOST) {
      sendErrorOnSocket(req, socket, invalidHost());
      return true;
    }
    const target = this.table.get(kind);
    if (target === undefined) sendErrorOnSocket(req, socket, instanceNotFound(kind));
    else if (target.state !== 'running') sendErrorOnSocket(req, socket, instanceUnavailable(kind, target.state));
    else {
      try {
        new UpgradeExchange(this.context, req, socket, head, target, kind).start();
      } catch (err) {
        this.context.logger.error({ err, instanceId: target.instanceId, label: kind }, 'instance upgrade failed');
        sendErrorOnSocket(req, socket, upstreamUnreachable(kind));
      }
    }
    return true;
  }

  close(): void {
    this.context.pool.destroy();
    this.context.upgradeAgent.destroy();
    for (const tunnel of this.context.tunnels) tunnel.destroy();
    this.context.tunnels.clear();
  }

  private classify(hostHeader: string | undefined): HostKind {
    if (hostHeader === undefined || hostHeader === '') return null;
    let host = hostHeader.toLowerCase();
    const colon = host.lastIndexOf(':');
    if (colon !== -1 && !host.endsWith(']')) {
      const port = host.slice(colon + 1);
      if (!PORT.test(port) || Number(port) > 65535) return INVALID_HOST;
      host = host.slice(0, colon);
    }
    if (BRACKETED_IP.test(host)) return null;
    if (host.endsWith('.')) host = host.slice(0, -1);
    if (!HOST_NAME.test(host)) return INVALID_HOST;
    if (!host.endsWith(this.suffix) || host.length === this.suffix.length) return null;
    const label = host.slice(0, host.length - this.suffix.length);
    return DNS_LABEL.test(label) ? label : INVALID_HOST;
  }
}

/** Paths Node-RED serves from `http in` nodes may be called without their `/api` prefix (nginx's `@api_fallback`). */
function fallbackEligible(url: string): boolean {
  return url.startsWith('/') && !(url.startsWith('/api') && (url.length === 4 || url[4] === '/' || url[4] === '?'));
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** Safe text for logs: the query can carry a launch token, so it never leaves this function. */
function pathOnly(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

const timeoutError = () => Object.assign(new Error('upstream timed out'), { code: 'UPSTREAM_TIMEOUT' });

/**
 * One client request proxied to an instance. The request body streams upstream as it arrives; when the `/api`
 * fallback may need it again, a copy is kept up to the replay limit.
 */
class HttpExchange implements UpstreamHandler {
  private upstream: UpstreamRequest | null = null;
  private path: string;
  private readonly method: string;
  private readonly hasBody: boolean;
  private readonly fallback: boolean;
  private readonly headerBlock: string;
  private readonly requestOptions: { bodyless: boolean; chunked: boolean };
  /** The body so far, for a replay; null when not kept or over the limit. */
  private copy: Buffer[] | null;
  private copySize = 0;
  private overflowed = false;
  private bodyComplete: boolean;
  /** Body chunks go to the current upstream attempt while this holds. */
  private feeding = true;
  /** The body stopped flowing to an upstream part-way; that attempt's connection can't serve another request. */
  private detached = false;
  /**
   * A 404 held back until it is known whether the body can be replayed under `/api`. Its connection is paused, so
   * what is kept here is at most the rest of the one read that carried the head.
   */
  private held: { readonly request: UpstreamRequest; readonly head: ResponseHead; body: Buffer[]; ended: boolean } | null =
    null;
  private fellBack = false;
  private resent = false;
  private waitingForDrain = false;

  constructor(
    private readonly context: ProxyContext,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly target: RunningTarget,
    private readonly label: string,
  ) {
    this.path = req.url ?? '/';
    this.method = req.method ?? 'GET';
    this.hasBody = hasRequestBody(req);
    this.bodyComplete = !this.hasBody;
    this.fallback = fallbackEligible(this.path);
    this.copy = this.fallback && this.hasBody ? [] : null;
    this.headerBlock = upstreamHeaderBlock(req);
    this.requestOptions = { bodyless: this.method === 'HEAD', chunked: req.headers['transfer-encoding'] !== undefined };
  }

  start(): void {
    this.res.on('close', () => {
      if (!this.res.writableFinished) this.abandon();
    });
    const up = this.send();
    if (this.hasBody) {
      this.req.on('data', (chunk: Buffer) => this.onRequestData(chunk));
      this.req.on('end', () => this.onRequestEnd());
    } else {
      up.end();
    }
  }

  onHead(up: UpstreamRequest, head: ResponseHead): void {
    if (up !== this.upstream) return;
    if (head.statusCode === 404 && this.fallback && !this.fellBack) {
      this.held = { request: up, head, body: [], ended: false };
      up.pause();
      if (!this.bodyComplete && !this.overflowed) {
        // The upstream answered before the body was all sent: stop feeding it, keep reading only into the copy.
        this.feeding = false;
        this.detached = true;
        this.req.resume();
      }
      this.decideFallback();
      return;
    }
    this.relayHead(up, head);
  }

  onBody(up: UpstreamRequest, chunk: Buffer): void {
    if (up !== this.upstream) return;
    if (this.held !== null) {
      this.held.body.push(chunk);
      return;
    }
    if (!this.res.write(chunk) && !this.waitingForDrain) {
      this.waitingForDrain = true;
      up.pause();
      this.res.once('drain', () => {
        this.waitingForDrain = false;
        up.resume();
      });
    }
  }

  onEnd(up: UpstreamRequest): void {
    if (up !== this.upstream) return;
    if (this.held !== null) {
      this.held.ended = true;
      return;
    }
    this.res.end();
    if (this.detached) up.abort();
  }

  onDrain(up: UpstreamRequest): void {
    if (up === this.upstream && this.feeding) this.req.resume();
  }

  onError(up: UpstreamRequest, error: UpstreamError): void {
    if (up !== this.upstream) return;
    this.held = null;
    // A pooled connection the upstream closed as it was reused; for an idempotent request sending again is safe
    // (RFC 9110 §9.2.2) when the body, if any, can be replayed.
    const replayable = !this.hasBody || (this.bodyComplete && this.copy !== null);
    if (error.stale && !this.resent && !this.res.headersSent && IDEMPOTENT.has(this.method) && replayable) {
      this.resent = true;
      this.replay();
      return;
    }
    this.upstream = null;
    const timedOut = error.code === 'UPSTREAM_TIMEOUT';
    this.context.logger.warn(
      {
        instanceId: this.target.instanceId,
        label: this.label,
        method: this.method,
        path: pathOnly(this.req.url ?? '/'),
        code: error.code,
      },
      timedOut ? 'instance upstream timed out' : 'instance upstream failed',
    );
    // Drain what is left of the client's body, or its keep-alive connection would stall behind it.
    this.feeding = false;
    this.req.resume();
    if (this.res.headersSent) this.res.destroy();
    else sendError(this.req, this.res, timedOut ? upstreamTimeout(this.label) : upstreamUnreachable(this.label));
  }

  private send(): UpstreamRequest {
    const up = this.context.pool.request(
      this.target.upstream,
      { head: `${this.method} ${this.path} HTTP/1.1\r\n${this.headerBlock}`, ...this.requestOptions },
      this,
    );
    this.upstream = up;
    return up;
  }

  private replay(): void {
    this.feeding = false;
    const up = this.send();
    for (const chunk of this.copy ?? []) up.write(chunk);
    up.end();
  }

  private onRequestData(chunk: Buffer): void {
    if (this.copy !== null) {
      this.copySize += chunk.length;
      if (this.copySize > this.context.retryBodyLimit) {
        this.copy = null;
        this.overflowed = true;
        this.decideFallback();
      } else {
        this.copy.push(chunk);
      }
    }
    const up = this.upstream;
    if (this.feeding && up !== null && !up.write(chunk)) this.req.pause();
  }

  private onRequestEnd(): void {
    this.bodyComplete = true;
    if (this.feeding) this.upstream?.end();
    this.decideFallback();
  }

  /** The first 404's body is never sent: the client gets the retry's answer, or the 404 when the body can't be replayed. */
  private decideFallback(): void {
    const held = this.held;
    if (held === null || (!this.overflowed && !this.bodyComplete)) return;
    this.held = null;
    if (this.overflowed) {
      this.relayHead(held.request, held.head);
      for (const chunk of held.body) this.onBody(held.request, chunk);
      if (held.ended) this.onEnd(held.request);
      else if (!this.waitingForDrain) held.request.resume();
      return;
    }
    // An attempt whose body was cut off is closed; one that got it all finishes quietly and its connection is reused.
    if (this.detached) held.request.abort();
    else held.request.resume();
    this.fellBack = true;
    this.path = `/api${this.path}`;
    this.replay();
  }

  private relayHead(up: UpstreamRequest, head: ResponseHead): void {
    try {
      this.res.writeHead(head.statusCode, head.statusMessage, clientResponseHeaders(head.rawHeaders, head.chunked));
    } catch {
      // Node refuses some fields a lenient upstream may send (e.g. a status text with control characters).
      up.abort();
      this.onError(up, new UpstreamError('response head not acceptable', 'UPSTREAM_BAD_RESPONSE', false));
    }
  }

  private abandon(): void {
    const up = this.upstream;
    this.upstream = null;
    this.held = null;
    this.feeding = false;
    up?.abort();
  }
}

class UpgradeExchange {
  private answered = false;

  constructor(
    private readonly context: ProxyContext,
    private readonly req: IncomingMessage,
    private readonly socket: Duplex,
    private readonly head: Buffer,
    private readonly target: RunningTarget,
    private readonly label: string,
  ) {}

  start(): void {
    const { host, port } = this.target.upstream;
    const up = http.request({
      agent: this.context.upgradeAgent,
      host,
      port,
      method: this.req.method,
      path: this.req.url ?? '/',
      headers: upstreamUpgradeHeaders(this.req),
      timeout: this.context.timeoutMs,
    });
    const onClientGone = () => up.destroy();
    this.socket.on('error', onClientGone);
    this.socket.on('close', onClientGone);
    up.on('upgrade', (upRes, upSocket, upHead) => {
      this.socket.off('error', onClientGone);
      this.socket.off('close', onClientGone);
      this.tunnel(upRes, upSocket, upHead);
    });
    up.on('response', (upRes) => this.refuse(upRes));
    up.on('timeout', () => up.destroy(timeoutError()));
    up.on('error', (err: NodeJS.ErrnoException) => this.fail(err));
    up.end();
  }

  private tunnel(upRes: IncomingMessage, upSocket: Socket, upHead: Buffer): void {
    const client = this.socket;
    this.answered = true;
    if (client.destroyed) {
      upSocket.destroy();
      return;
    }
    const { tunnels } = this.context;
    tunnels.add(client);
    tunnels.add(upSocket);
    const closeBoth = () => {
      tunnels.delete(client);
      tunnels.delete(upSocket);
      client.destroy();
      upSocket.destroy();
    };
    client.on('error', closeBoth);
    client.on('close', closeBoth);
    upSocket.on('error', closeBoth);
    upSocket.on('close', closeBoth);
    // An established WebSocket may stay quiet for hours; only a dead peer ends it.
    upSocket.setTimeout(0);
    upSocket.setNoDelay(true);
    upSocket.setKeepAlive(true, 30_000);
    const clientSocket = client as Partial<Socket>;
    clientSocket.setTimeout?.(0);
    clientSocket.setNoDelay?.(true);
    clientSocket.setKeepAlive?.(true, 30_000);

    client.write(statusHead(upRes, upRes.rawHeaders));
    if (upHead.length > 0) client.write(upHead);
    if (this.head.length > 0) upSocket.write(this.head);
    upSocket.pipe(client);
    client.pipe(upSocket);
  }

  /** The upstream answered the upgrade with an ordinary response (e.g. 403): pass it on and close. */
  private refuse(upRes: IncomingMessage): void {
    this.answered = true;
    const client = this.socket;
    if (client.destroyed) {
      upRes.resume();
      return;
    }
    // The body goes out decoded and ends with the connection, so the upstream's framing fields don't apply.
    const headers = clientResponseHeaders(upRes.rawHeaders, true);
    headers.push('Connection', 'close');
    client.write(statusHead(upRes, headers));
    upRes.on('error', () => client.destroy());
    upRes.on('end', () => endSocket(client));
    upRes.pipe(client, { end: false });
  }

  private fail(err: NodeJS.ErrnoException): void {
    const timedOut = err.code === 'UPSTREAM_TIMEOUT';
    if (this.socket.destroyed) return;
    this.context.logger.warn(
      { instanceId: this.target.instanceId, label: this.label, path: pathOnly(this.req.url ?? '/'), code: err.code },
      'instance upgrade failed',
    );
    if (this.answered) this.socket.destroy();
    else sendErrorOnSocket(this.req, this.socket, timedOut ? upstreamTimeout(this.label) : upstreamUnreachable(this.label));
  }
}

function statusHead(upRes: IncomingMessage, headers: readonly string[]): string {
  let head = `HTTP/1.1 ${upRes.statusCode ?? 502} ${upRes.statusMessage ?? ''}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n`;
}
