import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  clientResponseHeaders,
  hasRequestBody,
  upstreamRequestHeaders,
  upstreamUpgradeHeaders,
} from './forwarded-headers.js';
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
  readonly agent: http.Agent;
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
      agent: new http.Agent({
        keepAlive: true,
        maxSockets: 128,
        maxFreeSockets: 32,
        maxTotalSockets: 1024,
        scheduling: 'lifo',
        // Idle pooled sockets expire after this, or sooner when the upstream announces a shorter Keep-Alive timeout.
        timeout: 30_000,
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
    else new HttpExchange(this.context, req, res, target, kind).start();
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
    else new UpgradeExchange(this.context, req, socket, head, target, kind).start();
    return true;
  }

  close(): void {
    this.context.agent.destroy();
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

/** Safe text for logs: the query can carry a launch token, so it never leaves this function. */
function pathOnly(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

const timeoutError = () => Object.assign(new Error('upstream timed out'), { code: 'UPSTREAM_TIMEOUT' });

/**
 * Keeps a bounded copy of a request body while it streams upstream, so it can be sent once more to `/api/...`.
 * Past the limit the copy is dropped and only the fact that it overflowed is kept.
 */
class BodyTee {
  chunks: Buffer[] = [];
  overflowed = false;
  complete = false;
  private size = 0;
  private waiter: ((fits: boolean) => void) | null = null;

  constructor(req: IncomingMessage, limit: number) {
    req.on('data', (chunk: Buffer) => {
      if (this.overflowed) return;
      this.size += chunk.length;
      if (this.size > limit) {
        this.overflowed = true;
        this.chunks = [];
        this.settle(false);
      } else {
        this.chunks.push(chunk);
      }
    });
    req.on('end', () => {
      this.complete = true;
      this.settle(!this.overflowed);
    });
  }

  /** Calls back once it is known whether the whole body fits, or right away if that is known already. */
  whenSettled(callback: (fits: boolean) => void): void {
    if (this.overflowed || this.complete) callback(!this.overflowed);
    else this.waiter = callback;
  }

  private settle(fits: boolean): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.(fits);
  }
}

class HttpExchange {
  private upstream: ClientRequest | null = null;
  private path: string;
  private readonly hasBody: boolean;
  private readonly fallback: boolean;
  private readonly tee: BodyTee | null;
  private readonly headers: string[];
  private fellBack = false;
  private resent = false;
  private responded = false;
  /** Set when the request body stopped flowing upstream mid-way; that upstream socket can't serve another request. */
  private detached = false;

  constructor(
    private readonly context: ProxyContext,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly target: RunningTarget,
    private readonly label: string,
  ) {
    this.path = req.url ?? '/';
    this.hasBody = hasRequestBody(req);
    this.fallback = fallbackEligible(this.path);
    this.tee = this.fallback && this.hasBody ? new BodyTee(req, context.retryBodyLimit) : null;
    this.headers = upstreamRequestHeaders(req);
  }

  start(): void {
    this.res.on('close', () => {
      if (!this.res.writableFinished) this.abandonUpstream();
    });
    this.send(false);
  }

  private send(replay: boolean): void {
    const { host, port } = this.target.upstream;
    const up = http.request({
      agent: this.context.agent,
      host,
      port,
      method: this.req.method,
      path: this.path,
      headers: this.headers,
      timeout: this.context.timeoutMs,
    });
    this.upstream = up;
    up.on('response', (upRes) => this.onResponse(up, upRes));
    up.on('error', (err) => this.onError(up, err));
    up.on('timeout', () => up.destroy(timeoutError()));
    if (replay) {
      for (const chunk of this.tee?.chunks ?? []) up.write(chunk);
      up.end();
    } else if (this.hasBody) {
      this.req.pipe(up);
    } else {
      up.end();
    }
  }

  private onResponse(up: ClientRequest, upRes: IncomingMessage): void {
    if (up !== this.upstream) {
      upRes.resume();
      return;
    }
    if (upRes.statusCode === 404 && this.fallback && !this.fellBack) this.fallBack(up, upRes);
    else this.relay(up, upRes);
  }

  /** The first 404's body is never sent: the client gets the retry's answer, or the 404 when the body can't be replayed. */
  private fallBack(up: ClientRequest, upRes: IncomingMessage): void {
    const tee = this.tee;
    if (tee !== null && !tee.complete && !tee.overflowed) {
      // The upstream answered before the body was all sent; stop feeding it and keep reading only into the copy.
      this.detached = true;
      this.req.unpipe(up);
      this.req.resume();
    }
    const proceed = (fits: boolean) => {
      if (up !== this.upstream) return;
      if (!fits) {
        this.relay(up, upRes);
        return;
      }
      upRes.resume();
      if (this.detached) up.destroy();
      this.fellBack = true;
      this.path = `/api${this.path}`;
      this.send(true);
    };
    if (tee === null) proceed(true);
    else tee.whenSettled(proceed);
  }

  private relay(up: ClientRequest, upRes: IncomingMessage): void {
    this.responded = true;
    const res = this.res;
    if (upRes.destroyed) {
      // It broke while held back for the fallback decision.
      this.onError(up, Object.assign(new Error('upstream response aborted'), { code: 'ECONNRESET' }));
      return;
    }
    res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, clientResponseHeaders(upRes.rawHeaders));
    upRes.on('error', () => res.destroy());
    if (this.detached) upRes.on('end', () => up.destroy());
    upRes.pipe(res);
  }

  private onError(up: ClientRequest, err: NodeJS.ErrnoException): void {
    if (up !== this.upstream) return;
    // A pooled socket the upstream closed just as it was reused: a bodiless request is safe to send again.
    if (!this.hasBody && !this.responded && !this.resent && up.reusedSocket && err.code === 'ECONNRESET') {
      this.resent = true;
      this.send(true);
      return;
    }
    this.upstream = null;
    const timedOut = err.code === 'UPSTREAM_TIMEOUT';
    this.context.logger.warn(
      {
        instanceId: this.target.instanceId,
        label: this.label,
        method: this.req.method,
        path: pathOnly(this.req.url ?? '/'),
        code: err.code,
      },
      timedOut ? 'instance upstream timed out' : 'instance upstream failed',
    );
    // Drain what is left of the client's body, or its keep-alive connection would stall behind it.
    this.req.unpipe(up);
    this.req.resume();
    if (this.res.headersSent) this.res.destroy();
    else sendError(this.req, this.res, timedOut ? upstreamTimeout(this.label) : upstreamUnreachable(this.label));
  }

  private abandonUpstream(): void {
    const up = this.upstream;
    this.upstream = null;
    up?.destroy();
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
    const headers = clientResponseHeaders(upRes.rawHeaders);
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
