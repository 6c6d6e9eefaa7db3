import { afterEach, describe, expect, it } from 'vitest';
import type { ResponseHead } from '../../src/routing/response-parser.js';
import { UpstreamPool, type UpstreamError, type UpstreamRequest } from '../../src/routing/upstream-pool.js';
import { listen, rawServer, within, type Loopback } from './loopback.js';

interface Outcome {
  readonly status: number;
  readonly body: string;
}

function get(pool: UpstreamPool, port: number, path: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    let status = 0;
    const chunks: Buffer[] = [];
    const up = pool.request(
      { host: '127.0.0.1', port },
      { head: `GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`, bodyless: false, chunked: false },
      {
        onHead: (_r: UpstreamRequest, head: ResponseHead) => (status = head.statusCode),
        onBody: (_r: UpstreamRequest, chunk: Buffer) => chunks.push(Buffer.from(chunk)),
        onEnd: () => resolve({ status, body: Buffer.concat(chunks).toString() }),
        onError: (_r: UpstreamRequest, error: UpstreamError) => reject(error),
        onDrain: () => undefined,
      },
    );
    up.end();
  });
}

describe('UpstreamPool', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const pool = (maxSockets = 8) => {
    const created = new UpstreamPool({ maxSockets, maxIdle: 4, idleTimeoutMs: 10_000, requestTimeoutMs: 10_000 });
    cleanups.push(() => created.destroy());
    return created;
  };

  it('queues requests beyond maxSockets and serves them all on one connection', async () => {
    let connections = 0;
    const server: Loopback = await listen((req, res) => setTimeout(() => res.end(`done ${req.url}`), 10));
    server.server.on('connection', () => (connections += 1));
    cleanups.push(() => server.close());
    const single = pool(1);
    const replies = await within(
      Promise.all([1, 2, 3, 4, 5].map((n) => get(single, server.port, `/${n}`))),
      20_000,
      'queued requests',
    );
    expect(replies.map((r) => r.body)).toEqual(['done /1', 'done /2', 'done /3', 'done /4', 'done /5']);
    expect(connections).toBe(1);
  });

  it('finishes a queued chunked request whose empty body ended before it got a connection', async () => {
    const server: Loopback = await listen((req, res) => {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => (bytes += chunk.length));
      req.on('end', () => setTimeout(() => res.end(`${req.url} ${bytes}`), 20));
    });
    cleanups.push(() => server.close());
    const single = pool(1);
    const busy = get(single, server.port, '/busy');
    const chunked = new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const up = single.request(
        { host: '127.0.0.1', port: server.port },
        { head: 'POST /empty HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n', bodyless: false, chunked: true },
        {
          onHead: () => undefined,
          onBody: (_r, chunk) => chunks.push(Buffer.from(chunk)),
          onEnd: () => resolve(Buffer.concat(chunks).toString()),
          onError: (_r, error) => reject(error),
          onDrain: () => undefined,
        },
      );
      up.end();
    });
    expect((await busy).body).toBe('/busy 0');
    expect(await within(chunked, 20_000, 'queued chunked request')).toBe('/empty 0');
  });

  it('drops idle connections the upstream closed and opens a fresh one', async () => {
    const server: Loopback = await listen((_req, res) => res.end('ok'));
    server.server.keepAliveTimeout = 100;
    let connections = 0;
    server.server.on('connection', () => (connections += 1));
    cleanups.push(() => server.close());
    const p = pool();
    expect((await get(p, server.port, '/')).body).toBe('ok');
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect((await get(p, server.port, '/')).body).toBe('ok');
    expect(connections).toBe(2);
  });

  it('reports a reused connection that dies before answering as stale', async () => {
    const raw = await rawServer((socket, index) => {
      if (index === 0) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      else socket.resetAndDestroy();
    });
    cleanups.push(() => raw.close());
    const p = pool();
    expect((await get(p, raw.port, '/')).body).toBe('ok');
    const error = await get(p, raw.port, '/').then(
      () => null,
      (e: UpstreamError) => e,
    );
    expect(error?.stale).toBe(true);
  });

  it('does not call a refused first connection stale', async () => {
    const closed = await rawServer(() => undefined);
    await closed.close();
    const error = await get(pool(), closed.port, '/').then(
      () => null,
      (e: UpstreamError) => e,
    );
    expect(error).toMatchObject({ code: 'ECONNREFUSED', stale: false });
  });

  it('closes a connection that sent more than one response', async () => {
    const raw = await rawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno');
    });
    cleanups.push(() => raw.close());
    const p = pool();
    expect((await get(p, raw.port, '/')).body).toBe('ok');
    expect((await get(p, raw.port, '/')).body).toBe('ok');
    expect(raw.connections()).toBe(2);
  });

  it('fails in-flight, waiting and new requests once destroyed', async () => {
    const raw = await rawServer(() => undefined);
    cleanups.push(() => raw.close());
    const p = pool(1);
    const first = get(p, raw.port, '/slow').catch((e: UpstreamError) => e.code);
    const second = get(p, raw.port, '/queued').catch((e: UpstreamError) => e.code);
    await new Promise((resolve) => setTimeout(resolve, 50));
    p.destroy();
    expect(await within(first, 10_000, 'in-flight request')).toBe('ECONNRESET');
    expect(await within(second, 10_000, 'queued request')).toBe('UPSTREAM_POOL_CLOSED');
    expect(await get(p, raw.port, '/late').catch((e: UpstreamError) => e.code)).toBe('UPSTREAM_POOL_CLOSED');
  });
});
