import net from 'node:net';
import { ResponseParseError, ResponseParser, type ResponseHead, type ResponseSink } from './response-parser.js';

/**
 * Keep-alive HTTP/1.1 connections to instance upstreams. Node's `http.request` costs several times the CPU of the
 * server side per request (a ClientRequest, an IncomingMessage stream and agent bookkeeping each time); the router
 * proxies every instance request, so it talks to upstreams through this lean client instead. WebSocket upgrades,
 * which are rare and long-lived, still go through `node:http`.
 */

export interface UpstreamAddress {
  readonly host: string;
  readonly port: number;
}

export interface UpstreamPoolOptions {
  /** Connections per upstream; requests beyond it wait for a free one. */
  readonly maxSockets: number;
  /** Idle connections kept per upstream. */
  readonly maxIdle: number;
  /** How long an idle connection is kept, unless the upstream announces a shorter Keep-Alive timeout. */
  readonly idleTimeoutMs: number;
  /** How long a busy connection may stay silent. */
  readonly requestTimeoutMs: number;
}

export interface RequestOptions {
  /** The request line and header fields, ending in the blank line. */
  readonly head: string;
  /** HEAD requests: the response has no body whatever its headers say. */
  readonly bodyless: boolean;
  /** Frame the body written through `write` as chunked; otherwise it is sent as is (Content-Length or none). */
  readonly chunked: boolean;
}

/** Callbacks of one request; each gets the request it concerns, so a caller can ignore superseded attempts. */
export interface UpstreamHandler {
  onHead(request: UpstreamRequest, head: ResponseHead): void;
  onBody(request: UpstreamRequest, chunk: Buffer): void;
  onEnd(request: UpstreamRequest): void;
  onError(request: UpstreamRequest, error: UpstreamError): void;
  /** The request body may be written again after `write` returned false. */
  onDrain(request: UpstreamRequest): void;
}

export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly code: string,
    /** A pooled connection failed before any response byte arrived: the request never reached the upstream's app. */
    readonly stale: boolean,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

const CHUNK_END = Buffer.from('\r\n');
const LAST_CHUNK = Buffer.from('0\r\n\r\n');

class Origin {
  readonly all = new Set<Connection>();
  readonly idle: Connection[] = [];
  readonly waiting: UpstreamRequest[] = [];

  constructor(
    readonly key: string,
    readonly address: UpstreamAddress,
  ) {}
}

class Connection {
  readonly socket: net.Socket;
  request: UpstreamRequest | null = null;
  /** Has carried a request before: an error before any response byte may just be a keep-alive race. */
  reused = false;
  idleTimeoutMs: number;
  closed = false;

  constructor(
    readonly pool: UpstreamPool,
    readonly origin: Origin,
  ) {
    this.idleTimeoutMs = pool.options.idleTimeoutMs;
    const socket = net.connect({
      host: origin.address.host,
      port: origin.address.port,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: 30_000,
    });
    this.socket = socket;
    socket.on('data', (data: Buffer) => {
      if (this.request === null) socket.destroy();
      else this.request.received(data);
    });
    socket.on('end', () => {
      if (this.request === null) socket.destroy();
      else this.request.upstreamEnded();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.request?.failed(error.code ?? 'ECONNRESET', error.message);
    });
    socket.on('timeout', () => {
      if (this.request === null) socket.destroy();
      else this.request.failed('UPSTREAM_TIMEOUT', 'upstream timed out');
    });
    socket.on('drain', () => this.request?.drained());
    socket.on('close', () => this.pool.closed(this));
  }
}

export class UpstreamPool {
  private readonly origins = new Map<string, Origin>();
  private destroyed = false;

  constructor(readonly options: UpstreamPoolOptions) {}

  request(address: UpstreamAddress, options: RequestOptions, handler: UpstreamHandler): UpstreamRequest {
    const key = `${address.host}:${address.port}`;
    let origin = this.origins.get(key);
    if (origin === undefined) {
      origin = new Origin(key, address);
      this.origins.set(key, origin);
    }
    const request = new UpstreamRequest(this, options, handler);
    if (this.destroyed) {
      process.nextTick(() => request.failed('UPSTREAM_POOL_CLOSED', 'router is closed'));
      return request;
    }
    const idle = origin.idle.pop();
    if (idle !== undefined) request.attach(idle);
    else if (origin.all.size < this.options.maxSockets) request.attach(this.connect(origin));
    else origin.waiting.push(request);
    return request;
  }

  /** Closes every connection, busy ones included, and fails what waits for one. */
  destroy(): void {
    this.destroyed = true;
    for (const origin of this.origins.values()) {
      for (const request of origin.waiting.splice(0)) request.failed('UPSTREAM_POOL_CLOSED', 'router is closed');
      for (const connection of origin.all) connection.socket.destroy();
    }
  }

  /** Takes a connection back after a clean exchange: to a waiting request, to the idle list, or closed. */
  release(connection: Connection): void {
    const origin = connection.origin;
    connection.request = null;
    connection.reused = true;
    // A response may have completed while its consumer had paused the flow.
    if (connection.socket.isPaused()) connection.socket.resume();
    if (this.destroyed || connection.closed) {
      connection.socket.destroy();
      return;
    }
    const next = origin.waiting.shift();
    if (next !== undefined) {
      next.attach(connection);
    } else if (origin.idle.length < this.options.maxIdle) {
      connection.socket.setTimeout(connection.idleTimeoutMs);
      origin.idle.push(connection);
    } else {
      connection.socket.destroy();
    }
  }

  closed(connection: Connection): void {
    connection.closed = true;
    const origin = connection.origin;
    origin.all.delete(connection);
    const at = origin.idle.indexOf(connection);
    if (at !== -1) origin.idle.splice(at, 1);
    connection.request?.failed('ECONNRESET', 'upstream connection closed');
    const next = this.destroyed ? undefined : origin.waiting.shift();
    if (next !== undefined) next.attach(this.connect(origin));
    else if (origin.all.size === 0) this.origins.delete(origin.key);
  }

  private connect(origin: Origin): Connection {
    const connection = new Connection(this, origin);
    origin.all.add(connection);
    return connection;
  }
}

/** One request/response exchange on one pooled connection. */
export class UpstreamRequest implements ResponseSink {
  private connection: Connection | null = null;
  private readonly parser: ResponseParser;
  /** Body written before a connection was free. */
  private queued: Buffer[] | null = null;
  private ended = false;
  /** The handler has had its onEnd or onError; nothing more is reported. */
  private reported = false;
  /** The connection has been handed back or closed; nothing more is written. */
  private settled = false;

  constructor(
    private readonly pool: UpstreamPool,
    private readonly options: RequestOptions,
    private readonly handler: UpstreamHandler,
  ) {
    this.parser = new ResponseParser(this, options.bodyless);
  }

  /** Writes part of the request body; false means wait for `onDrain`. */
  write(chunk: Buffer): boolean {
    if (this.settled || chunk.length === 0) return true;
    const connection = this.connection;
    if (connection === null) {
      (this.queued ??= []).push(chunk);
      return false;
    }
    const socket = connection.socket;
    if (!this.options.chunked) return socket.write(chunk);
    socket.cork();
    socket.write(`${chunk.length.toString(16)}\r\n`);
    socket.write(chunk);
    const flowing = socket.write(CHUNK_END);
    socket.uncork();
    return flowing;
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    const connection = this.connection;
    if (connection === null || this.settled) return;
    if (this.options.chunked) connection.socket.write(LAST_CHUNK);
    if (this.parser.complete) this.settle(connection);
  }

  pause(): void {
    this.connection?.socket.pause();
  }

  resume(): void {
    this.connection?.socket.resume();
  }

  /** The caller no longer wants this exchange. Unless it is already over, its connection is closed. */
  abort(): void {
    this.reported = true;
    if (this.settled) return;
    this.settled = true;
    const connection = this.connection;
    this.connection = null;
    if (connection !== null) {
      connection.request = null;
      connection.socket.destroy();
    }
  }

  attach(connection: Connection): void {
    if (this.settled) {
      this.pool.release(connection);
      return;
    }
    this.connection = connection;
    connection.request = this;
    const socket = connection.socket;
    socket.setTimeout(this.pool.options.requestTimeoutMs);
    const queued = this.queued;
    if (queued === null) {
      socket.write(this.options.head);
      if (this.ended && this.options.chunked) socket.write(LAST_CHUNK);
      return;
    }
    this.queued = null;
    socket.cork();
    socket.write(this.options.head);
    for (const chunk of queued) this.write(chunk);
    if (this.ended && this.options.chunked) socket.write(LAST_CHUNK);
    socket.uncork();
    if (!this.ended) process.nextTick(() => this.drained());
  }

  received(data: Buffer): void {
    let used: number;
    try {
      used = this.parser.execute(data);
    } catch (error) {
      const message = error instanceof ResponseParseError ? error.message : String(error);
      this.failed('UPSTREAM_BAD_RESPONSE', message);
      return;
    }
    if (!this.parser.complete) return;
    // Bytes beyond the response were never asked for: the connection is no longer trusted.
    if (used < data.length) this.parser.reusable = false;
    this.completed();
  }

  upstreamEnded(): void {
    this.parser.reusable = false;
    if (this.parser.end()) {
      this.completed();
      return;
    }
    this.failed('ECONNRESET', 'upstream closed the connection mid-response');
  }

  drained(): void {
    if (!this.reported) this.handler.onDrain(this);
  }

  /** The connection broke or misbehaved: it is closed, and the handler hears of it unless its response was whole. */
  failed(code: string, message: string): void {
    const connection = this.connection;
    const stale = connection !== null && connection.reused && !this.parser.started;
    if (!this.settled) {
      this.settled = true;
      this.connection = null;
      if (connection !== null) {
        connection.request = null;
        connection.socket.destroy();
      }
    }
    if (this.reported) return;
    this.reported = true;
    this.handler.onError(this, new UpstreamError(message, code, stale));
  }

  onHead(head: ResponseHead): void {
    const connection = this.connection;
    const hint = this.parser.keepAliveSeconds;
    if (connection !== null && hint !== -1) {
      // Leave a second's margin before the upstream's own idle timeout, or a reuse could race its close.
      const ms = (hint - 1) * 1000;
      if (ms <= 0) this.parser.reusable = false;
      else connection.idleTimeoutMs = Math.min(connection.idleTimeoutMs, ms);
    }
    if (!this.reported) this.handler.onHead(this, head);
  }

  onBody(chunk: Buffer): void {
    if (!this.reported) this.handler.onBody(this, chunk);
  }

  private completed(): void {
    const connection = this.connection;
    // Until the whole request has been written the connection stays with this exchange; `end` hands it back.
    if (this.ended && connection !== null) this.settle(connection);
    if (this.reported) return;
    this.reported = true;
    this.handler.onEnd(this);
  }

  private settle(connection: Connection): void {
    this.settled = true;
    this.connection = null;
    if (this.parser.reusable) {
      this.pool.release(connection);
    } else {
      connection.request = null;
      connection.socket.destroy();
    }
  }
}
