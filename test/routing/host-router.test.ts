import { createHash } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { HostRouter, type RouteTarget } from '../../src/routing/host-router.js';
import { call, collect, deadPort, listen, rawServer, readBody, signal, within, type Loopback } from './loopback.js';

const MiB = 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);

interface Warning {
  readonly o: object;
  readonly msg: string | undefined;
}

function recordingLogger() {
  const warnings: Warning[] = [];
  return {
    warnings,
    warn: (o: object, msg?: string) => warnings.push({ o, msg }),
    error: (o: object, msg?: string) => warnings.push({ o, msg }),
  };
}

/** Puts a router in front of a fallback that answers `manager`, the way the manager wires it. */
async function front(router: HostRouter): Promise<Loopback> {
  const edge = await listen((req, res) => {
    if (!router.handleRequest(req, res)) res.end('manager');
  });
  edge.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (!router.handleUpgrade(req, socket, head)) socket.end('HTTP/1.1 418 Manager\r\nConnection: close\r\n\r\n');
  });
  return edge;
}

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function writeAll(req: http.ClientRequest, bytes: number): Promise<void> {
  for (let sent = 0; sent < bytes; sent += CHUNK.length) {
    if (!req.write(CHUNK.subarray(0, Math.min(CHUNK.length, bytes - sent)))) {
      await new Promise((resolve) => req.once('drain', resolve));
    }
  }
}

describe('HostRouter', () => {
  const logger = recordingLogger();
  let upstream: Loopback;
  let other: Loopback;
  let wss: WebSocketServer;
  let edge: Loopback;
  let router: HostRouter;
  let upstreamConnections = 0;
  let baseTable: ReadonlyMap<string, RouteTarget>;
  const uploadStarted = signal();
  const downloadSeen = signal();

  const running = (id: string, subdomain: string, port: number): RouteTarget => ({
    instanceId: id,
    subdomain,
    state: 'running',
    upstream: { host: '127.0.0.1', port },
  });

  async function upstreamApp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://upstream');
    switch (url.pathname) {
      case '/hello':
        res.end('hello from a');
        return;
      case '/headers':
        res.setHeader('Connection', 'X-Up-Hop');
        res.setHeader('X-Up-Hop', 'secret');
        res.setHeader('Set-Cookie', ['one=1', 'two=2']);
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify(req.headers));
        return;
      case '/stalled-hook':
        // Answers 404 and then stops reading, so a proxy still feeding it the body would block.
        req.once('data', () => {
          req.pause();
          res.writeHead(404);
          res.end('not here either');
        });
        return;
      case '/api/hook':
      case '/api/stalled-hook': {
        const body = await readBody(req);
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ path: req.url, method: req.method, bytes: body.length, sha: sha(body) }));
        return;
      }
      case '/upload': {
        let bytes = 0;
        req.once('data', () => uploadStarted.resolve());
        req.on('data', (chunk: Buffer) => (bytes += chunk.length));
        req.on('end', () => res.end(JSON.stringify({ bytes })));
        return;
      }
      case '/download': {
        const total = Number(url.searchParams.get('bytes'));
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        res.write(CHUNK);
        await downloadSeen.promise;
        for (let sent = CHUNK.length; sent < total; sent += CHUNK.length) {
          if (!res.write(CHUNK)) await new Promise((resolve) => res.once('drain', resolve));
        }
        res.end();
        return;
      }
      case '/crash':
        req.socket.destroy();
        return;
      case '/partial':
        res.writeHead(200, { 'Content-Length': '1000' });
        res.write('only a little');
        setTimeout(() => req.socket.destroy(), 50);
        return;
      case '/silent':
        return;
      default:
        // Node-RED answers unknown paths with 404 before reading any body.
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end(`not here: ${req.url}`);
    }
  }

  beforeAll(async () => {
    upstream = await listen((req, res) => void upstreamApp(req, res));
    upstream.server.on('connection', () => (upstreamConnections += 1));
    wss = new WebSocketServer({
      server: upstream.server,
      verifyClient: (info, done) => (info.req.url === '/forbidden' ? done(false, 403, 'Forbidden') : done(true)),
    });
    wss.on('connection', (ws, req) => {
      ws.on('message', (data) => ws.send(`${req.url}|${req.headers.host}|${String(data)}`));
    });
    other = await listen((_req, res) => res.end('hello from b'));
    router = new HostRouter({ rootDomain: 'localhost', logger });
    baseTable = new Map<string, RouteTarget>([
      ['alpha', running('i-a', 'alpha', upstream.port)],
      ['first-alias', running('i-a', 'alpha', upstream.port)],
      ['beta', running('i-b', 'beta', other.port)],
      ['sleepy', { instanceId: 'i-s', subdomain: 'sleepy', state: 'stopped' }],
      ['booting', { instanceId: 'i-t', subdomain: 'booting', state: 'starting' }],
      ['gone', running('i-g', 'gone', await deadPort())],
    ]);
    router.setTable(baseTable);
    edge = await front(router);
  });

  afterAll(async () => {
    router.close();
    await edge.close();
    for (const client of wss.clients) client.terminate();
    wss.close();
    await upstream.close();
    await other.close();
  });

  const host = (label: string) => `${label}.localhost:${edge.port}`;

  describe('labelFor', () => {
    it('reads the label from <label>.<root>[:port], case-insensitively', () => {
      expect(router.labelFor('alpha.localhost')).toBe('alpha');
      expect(router.labelFor('Alpha.LocalHost:4071')).toBe('alpha');
      expect(router.labelFor('alpha.localhost.')).toBe('alpha');
    });

    it('treats the root domain and other hosts as the manager', () => {
      expect(router.labelFor(undefined)).toBeNull();
      expect(router.labelFor('localhost:4071')).toBeNull();
      expect(router.labelFor('127.0.0.1:4071')).toBeNull();
      expect(router.labelFor('[::1]:4071')).toBeNull();
      expect(router.labelFor('alpha.example.com')).toBeNull();
      expect(router.labelFor('notlocalhost')).toBeNull();
    });
  });

  describe('HTTP', () => {
    it('routes by Host, with or without a port and in any case', async () => {
      expect((await call({ port: edge.port, host: host('alpha'), path: '/hello' })).text).toBe('hello from a');
      expect((await call({ port: edge.port, host: 'ALPHA.localhost', path: '/hello' })).text).toBe('hello from a');
      expect((await call({ port: edge.port, host: host('beta'), path: '/' })).text).toBe('hello from b');
    });

    it('routes an alias label to the same upstream', async () => {
      const reply = await call({ port: edge.port, host: host('first-alias'), path: '/hello' });
      expect(reply.status).toBe(200);
      expect(reply.text).toBe('hello from a');
    });

    it('lets the manager answer its own host and foreign hosts', async () => {
      expect((await call({ port: edge.port, host: `localhost:${edge.port}` })).text).toBe('manager');
      expect((await call({ port: edge.port, host: `127.0.0.1:${edge.port}` })).text).toBe('manager');
      expect((await call({ port: edge.port, host: 'alpha.example.com' })).text).toBe('manager');
    });

    it('answers an invalid Host with 400', async () => {
      for (const bad of ['under_score.localhost', 'a.b.localhost', `alpha.localhost:99999`, 'alpha.localhost:x']) {
        const reply = await call({ port: edge.port, host: bad, headers: { accept: 'application/json' } });
        expect(reply.status, bad).toBe(400);
        expect(JSON.parse(reply.text)).toMatchObject({ code: 'invalid_host' });
      }
    });

    it('keeps Host, sets X-Forwarded-*, and drops hop-by-hop fields both ways', async () => {
      const reply = await call({
        port: edge.port,
        host: host('alpha'),
        path: '/headers',
        headers: { connection: 'keep-alive, X-Hop', 'x-hop': 'secret', te: 'trailers', 'x-forwarded-for': '10.0.0.9' },
      });
      expect(reply.status).toBe(200);
      const seen = JSON.parse(reply.text) as Record<string, string>;
      expect(seen.host).toBe(host('alpha'));
      expect(seen['x-forwarded-host']).toBe(host('alpha'));
      expect(seen['x-forwarded-proto']).toBe('http');
      expect(seen['x-forwarded-for']).toBe('10.0.0.9, 127.0.0.1');
      expect(seen['x-hop']).toBeUndefined();
      expect(seen.te).toBeUndefined();
      expect(reply.headers['x-up-hop']).toBeUndefined();
      expect(reply.headers['set-cookie']).toEqual(['one=1', 'two=2']);
    });

    it('answers an unknown label with 404 as HTML for browsers and JSON for API clients', async () => {
      const html = await call({ port: edge.port, host: host('nobody'), headers: { accept: 'text/html,*/*;q=0.8' } });
      expect(html.status).toBe(404);
      expect(html.headers['content-type']).toMatch(/text\/html/);
      expect(html.text).toContain('nobody');
      const json = await call({ port: edge.port, host: host('nobody'), headers: { accept: 'application/json' } });
      expect(json.status).toBe(404);
      expect(JSON.parse(json.text)).toMatchObject({ code: 'instance_not_found' });
    });

    it('answers a stopped or starting instance with 503 naming the state', async () => {
      const stopped = await call({ port: edge.port, host: host('sleepy'), headers: { accept: 'application/json' } });
      expect(stopped.status).toBe(503);
      expect(stopped.headers['retry-after']).toBe('2');
      expect(JSON.parse(stopped.text)).toMatchObject({ code: 'instance_unavailable', state: 'stopped' });
      const starting = await call({ port: edge.port, host: host('booting') });
      expect(starting.status).toBe(503);
      expect(starting.text).toContain('starting');
    });

    it('answers 502 when the upstream refuses or drops the connection, and logs no query', async () => {
      const refused = await call({ port: edge.port, host: host('gone'), path: '/x?access_token=s3cret', headers: { accept: 'application/json' } });
      expect(refused.status).toBe(502);
      expect(JSON.parse(refused.text)).toMatchObject({ code: 'upstream_unreachable' });
      const dropped = await call({ port: edge.port, host: host('alpha'), path: '/crash', method: 'POST', body: 'x' });
      expect(dropped.status).toBe(502);
      expect(JSON.stringify(logger.warnings)).not.toContain('s3cret');
    });

    it('answers 502 and logs an error for a route to an impossible port', async () => {
      const log = recordingLogger();
      const broken = new HostRouter({ rootDomain: 'localhost', logger: log });
      broken.setTable(new Map([['bad', running('i-x', 'bad', 70_000)]]));
      const gate = await front(broken);
      try {
        expect((await call({ port: gate.port, host: 'bad.localhost', path: '/' })).status).toBe(502);
        expect(log.warnings.map((w) => w.msg)).toContain('instance proxy failed');
      } finally {
        broken.close();
        await gate.close();
      }
    });

    it('cuts the client off, rather than hanging, when the upstream dies mid-response', async () => {
      const outcome = new Promise<string>((resolve) => {
        const req = http.request(
          { host: '127.0.0.1', port: edge.port, path: '/partial', headers: { host: host('alpha') }, agent: false },
          (res) => {
            res.on('error', () => resolve('aborted'));
            res.on('end', () => resolve(res.complete ? 'complete' : 'aborted'));
            res.resume();
          },
        );
        req.on('error', () => resolve('aborted'));
        req.end();
      });
      expect(await within(outcome, 20_000, 'partial response')).toBe('aborted');
    });

    it('answers 504 when the upstream stays silent past the timeout', async () => {
      const impatient = new HostRouter({ rootDomain: 'localhost', logger: recordingLogger(), upstreamTimeoutMs: 300 });
      impatient.setTable(new Map([['alpha', running('i-a', 'alpha', upstream.port)]]));
      const gate = await front(impatient);
      try {
        const reply = await call({ port: gate.port, host: 'alpha.localhost', path: '/silent' });
        expect(reply.status).toBe(504);
      } finally {
        impatient.close();
        await gate.close();
      }
    });
  });

  describe('api fallback', () => {
    it('retries a 404 outside /api once under /api, with the same method, body and query', async () => {
      const body = Buffer.from(JSON.stringify({ event: 'push', n: 42 }));
      const reply = await call({ port: edge.port, host: host('alpha'), path: '/hook?x=1&y=2', method: 'POST', body });
      expect(reply.status).toBe(200);
      expect(reply.text).not.toContain('not here');
      expect(JSON.parse(reply.text)).toEqual({ path: '/api/hook?x=1&y=2', method: 'POST', bytes: body.length, sha: sha(body) });
    });

    it('replays a body the upstream had not finished reading when it answered 404', async () => {
      const body = Buffer.alloc(900 * 1024, 0x62);
      const reply = await new Promise<ReturnType<typeof collect>>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port: edge.port, path: '/hook', method: 'POST', headers: { host: host('alpha') }, agent: false },
          (res) => resolve(collect(res)),
        );
        req.on('error', reject);
        void (async () => {
          for (let at = 0; at < body.length; at += CHUNK.length) {
            req.write(body.subarray(at, at + CHUNK.length));
            await new Promise((r) => setTimeout(r, 5));
          }
          req.end();
        })();
      });
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.text)).toMatchObject({ path: '/api/hook', bytes: body.length, sha: sha(body) });
    });

    it('stops feeding an upstream that answered 404 and stopped reading, then replays the body', async () => {
      const roomy = new HostRouter({ rootDomain: 'localhost', logger: recordingLogger(), retryBodyLimitBytes: 64 * MiB });
      roomy.setTable(new Map([['alpha', running('i-a', 'alpha', upstream.port)]]));
      const gate = await front(roomy);
      try {
        // Larger than what loopback socket buffers absorb, so the body cannot all sit in the kernel.
        const body = Buffer.alloc(40 * MiB, 0x63);
        const reply = await within(
          call({ port: gate.port, host: 'alpha.localhost', path: '/stalled-hook', method: 'POST', body }),
          30_000,
          'fallback after a stalled 404',
        );
        expect(reply.status).toBe(200);
        expect(JSON.parse(reply.text)).toMatchObject({ path: '/api/stalled-hook', bytes: body.length });
      } finally {
        roomy.close();
        await gate.close();
      }
    });

    it('does not retry a 404 already under /api', async () => {
      const reply = await call({ port: edge.port, host: host('alpha'), path: '/api/x?q=1' });
      expect(reply.status).toBe(404);
      expect(reply.text).toBe('not here: /api/x?q=1');
    });

    it('returns the original 404 when the body is over the replay limit', async () => {
      const stingy = new HostRouter({ rootDomain: 'localhost', logger: recordingLogger(), retryBodyLimitBytes: 1024 });
      stingy.setTable(new Map([['alpha', running('i-a', 'alpha', upstream.port)]]));
      const gate = await front(stingy);
      try {
        const big = await call({ port: gate.port, host: 'alpha.localhost', path: '/hook', method: 'POST', body: Buffer.alloc(4096, 1) });
        expect(big.status).toBe(404);
        expect(big.text).toBe('not here: /hook');
        const small = await call({ port: gate.port, host: 'alpha.localhost', path: '/hook', method: 'POST', body: 'small' });
        expect(small.status).toBe(200);
      } finally {
        stingy.close();
        await gate.close();
      }
    });
  });

  describe('streaming', () => {
    it('streams a 20 MB upload: the upstream reads before the client has finished sending', async () => {
      const total = 20 * MiB;
      const replied = signal<Awaited<ReturnType<typeof collect>>>();
      const req = http.request(
        { host: '127.0.0.1', port: edge.port, path: '/upload', method: 'POST', headers: { host: host('alpha') }, agent: false },
        (res) => void collect(res).then(replied.resolve),
      );
      req.on('error', () => undefined);
      req.write(CHUNK);
      // A proxy that buffered the whole body would never pass this point.
      await within(uploadStarted.promise, 20_000, 'upstream seeing the first chunk');
      await writeAll(req, total - CHUNK.length);
      req.end();
      const reply = await within(replied.promise, 30_000, 'upload reply');
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.text)).toEqual({ bytes: total });
    });

    it('streams a 20 MB download: the client reads before the upstream has finished sending', async () => {
      const total = 20 * MiB;
      const bytes = await new Promise<number>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port: edge.port, path: `/download?bytes=${total}`, headers: { host: host('alpha') }, agent: false },
          (res) => {
            let received = 0;
            res.on('data', (chunk: Buffer) => {
              received += chunk.length;
              downloadSeen.resolve();
            });
            res.on('end', () => resolve(received));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(bytes).toBe(total);
    });
  });

  describe('table and connections', () => {
    it('never shows a request a missing route while tables are swapped', async () => {
      let swapping = true;
      let swaps = 0;
      const swapper = (async () => {
        while (swapping) {
          const table = new Map<string, RouteTarget>([['alpha', running('i-a', 'alpha', upstream.port)]]);
          if (swaps % 2 === 0) table.set(`extra-${swaps}`, running('i-b', 'beta', other.port));
          router.setTable(table);
          swaps += 1;
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
      try {
        const replies = await Promise.all(
          Array.from({ length: 300 }, () => call({ port: edge.port, host: host('alpha'), path: '/hello', agent })),
        );
        expect(replies.map((r) => r.status)).toEqual(replies.map(() => 200));
      } finally {
        swapping = false;
        await swapper;
        agent.destroy();
        router.setTable(baseTable);
      }
      expect(swaps).toBeGreaterThan(10);
    });

    it('reuses kept-alive upstream connections across sequential requests', async () => {
      const before = upstreamConnections;
      for (let i = 0; i < 25; i += 1) {
        expect((await call({ port: edge.port, host: host('alpha'), path: '/hello' })).status).toBe(200);
      }
      expect(upstreamConnections - before).toBeLessThanOrEqual(1);
    });
  });

  describe('WebSocket', () => {
    const open = (path: string, label: string) =>
      new WebSocket(`ws://127.0.0.1:${edge.port}${path}`, { headers: { host: host(label) } });

    const echo = async (path: string) => {
      const ws = open(path, 'alpha');
      try {
        await within(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 20_000, 'ws open');
        const answer = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
        ws.send('ping');
        return await within(answer, 20_000, 'ws echo');
      } finally {
        ws.close();
      }
    };

    it('proxies upgrades on any path and echoes both ways, keeping Host', async () => {
      expect(await echo('/comms')).toBe(`/comms|${host('alpha')}|ping`);
      expect(await echo('/api/ws/feed?x=1')).toBe(`/api/ws/feed?x=1|${host('alpha')}|ping`);
    });

    const refusal = (label: string, path = '/comms') =>
      within(
        new Promise<number>((resolve, reject) => {
          const ws = open(path, label);
          ws.on('unexpected-response', (_req, res) => {
            resolve(res.statusCode ?? 0);
            ws.terminate();
          });
          ws.on('open', () => reject(new Error('opened')));
          ws.on('error', () => undefined);
        }),
        20_000,
        'upgrade refusal',
      );

    it('refuses upgrades for unknown, stopped and unreachable instances with a plain HTTP answer', async () => {
      expect(await refusal('nobody')).toBe(404);
      expect(await refusal('sleepy')).toBe(503);
      expect(await refusal('gone')).toBe(502);
    });

    it("passes on the upstream's own refusal of an upgrade", async () => {
      expect(await refusal('alpha', '/forbidden')).toBe(403);
    });

    it('keeps an established WebSocket open past the upstream timeout', async () => {
      const impatient = new HostRouter({ rootDomain: 'localhost', logger: recordingLogger(), upstreamTimeoutMs: 200 });
      impatient.setTable(new Map([['alpha', running('i-a', 'alpha', upstream.port)]]));
      const gate = await front(impatient);
      const ws = new WebSocket(`ws://127.0.0.1:${gate.port}/comms`, { headers: { host: 'alpha.localhost' } });
      try {
        await within(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 20_000, 'ws open');
        await new Promise((resolve) => setTimeout(resolve, 800));
        const answer = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
        ws.send('still here');
        expect(await within(answer, 20_000, 'ws echo after quiet')).toBe('/comms|alpha.localhost|still here');
      } finally {
        ws.close();
        impatient.close();
        await gate.close();
      }
    });

    it('closes the client side when the upstream side goes away', async () => {
      const ws = open('/comms', 'alpha');
      await within(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 20_000, 'ws open');
      const closed = new Promise((resolve) => ws.once('close', resolve));
      for (const client of wss.clients) client.terminate();
      await within(closed, 20_000, 'client close');
    });
  });
});

describe('HostRouter with unusual upstreams', () => {
  const trickle = async (socket: Socket, wire: string) => {
    for (const byte of Buffer.from(wire, 'latin1')) {
      socket.write(Buffer.of(byte));
      await new Promise((resolve) => setImmediate(resolve));
    }
  };

  let raw: Awaited<ReturnType<typeof rawServer>>;
  let edge: Loopback;
  let router: HostRouter;

  beforeAll(async () => {
    raw = await rawServer((socket, index, head) => {
      const path = head.split(' ')[1];
      switch (path) {
        case '/trickled-chunks':
          void trickle(socket, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n');
          return;
        case '/until-close':
          socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nread me to the end');
          return;
        case '/early-hints':
          socket.write('HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal');
          return;
        case '/garbage':
          socket.write('HTTP/1.1 200 OK\r\nthis is not a header\r\n\r\n');
          return;
        case '/head':
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nX-Head: yes\r\n\r\n');
          return;
        case '/flaky':
          // The first request on a connection is answered; any later one finds the connection reset, as when a
          // keep-alive connection is closed by the upstream just as the router reuses it.
          if (index === 0) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh');
          else socket.resetAndDestroy();
          return;
        default:
          socket.write('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      }
    });
    router = new HostRouter({ rootDomain: 'localhost', logger: recordingLogger() });
    router.setTable(
      new Map<string, RouteTarget>([
        ['odd', { instanceId: 'i-o', subdomain: 'odd', state: 'running', upstream: { host: '127.0.0.1', port: raw.port } }],
      ]),
    );
    edge = await front(router);
  });

  afterAll(async () => {
    router.close();
    await edge.close();
    await raw.close();
  });

  const get = (path: string, method = 'GET') => call({ port: edge.port, host: 'odd.localhost', path, method });

  it('passes on a chunked body that arrives a byte at a time', async () => {
    const reply = await get('/trickled-chunks');
    expect(reply.status).toBe(200);
    expect(reply.text).toBe('abcdefg');
  });

  it('passes on a body delimited by the upstream closing', async () => {
    const reply = await get('/until-close');
    expect(reply.status).toBe(200);
    expect(reply.text).toBe('read me to the end');
  });

  it('skips interim responses and passes on the final one', async () => {
    const reply = await get('/early-hints');
    expect(reply.status).toBe(200);
    expect(reply.text).toBe('final');
  });

  it('answers 502 for a malformed upstream response', async () => {
    expect((await get('/garbage')).status).toBe(502);
  });

  it('answers HEAD with the upstream headers and no body', async () => {
    const reply = await get('/head', 'HEAD');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-length']).toBe('1234');
    expect(reply.headers['x-head']).toBe('yes');
    expect(reply.body.length).toBe(0);
  });

  it('sends a bodiless request again when a reused connection turns out dead', async () => {
    expect((await get('/flaky')).text).toBe('fresh');
    const before = raw.connections();
    const reply = await get('/flaky');
    expect(reply.status).toBe(200);
    expect(reply.text).toBe('fresh');
    expect(raw.connections()).toBe(before + 1);
  });
});

