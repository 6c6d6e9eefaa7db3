/**
 * Throughput and latency of the built-in HostRouter against nginx (upstream keepalive) as the reference proxy, over
 * the same backend: a tiny plain Node server and a real Node-RED `http in` -> `http response` flow.
 *
 *   npx tsx bench/router.bench.ts        (needs `wrk` and `nginx` on PATH: apt-get install nginx-light wrk)
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { HostRouter, type RouteTarget } from '../src/routing/host-router.js';

const DURATION = process.env.BENCH_DURATION ?? '8s';
const CONNECTIONS = process.env.BENCH_CONNECTIONS ?? '32';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '3');
/** Linux reports process CPU time in clock ticks of 10 ms. */
const MS_PER_TICK = 10;
const LABEL = 'bench';
const ROOT = 'localhost';

interface Figures {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  /** CPU time the serving process spent per request, in µs: steadier than req/s on a shared machine. */
  readonly cpuUs: number;
  readonly requests: number;
}

/** CPU time (user + system) of a process so far, in ms, from /proc. */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
}

function childPids(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

/** Every child and temp dir this run creates, so that one place stops and removes them all. */
class Resources {
  private readonly children: ChildProcess[] = [];
  private readonly cleanups: (() => Promise<void> | void)[] = [];

  track(child: ChildProcess): ChildProcess {
    this.children.push(child);
    return child;
  }

  onRelease(cleanup: () => Promise<void> | void): void {
    this.cleanups.push(cleanup);
  }

  async release(): Promise<void> {
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            const force = setTimeout(() => child.kill('SIGKILL'), 5000);
            child.once('exit', () => {
              clearTimeout(force);
              done();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    for (const cleanup of this.cleanups.reverse()) await cleanup();
  }
}

async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

function get(port: number, path: string, host: string): Promise<number> {
  return new Promise((done) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { host }, agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(0));
    req.end();
  });
}

async function waitFor200(port: number, path: string, host: string, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if ((await get(port, path, host)) === 200) return;
    await new Promise((done) => setTimeout(done, 200));
  }
  throw new Error(`${what} did not answer 200 on ${path} within 60 s`);
}

interface Served {
  readonly port: number;
  readonly cpuMs: () => number;
}

async function plainBackend(resources: Resources): Promise<Served> {
  const port = await freePort();
  const script = `require('http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1')`;
  const child = resources.track(spawn(process.execPath, ['-e', script], { stdio: 'ignore' }));
  await waitFor200(port, '/', 'localhost', 'plain backend');
  return { port, cpuMs: () => processCpuMs(child.pid as number) };
}

async function nodeRedBackend(resources: Resources, dir: string): Promise<Served> {
  const port = await freePort();
  const userDir = join(dir, 'nodered');
  await mkdir(userDir, { recursive: true });
  await writeFile(
    join(userDir, 'flows.json'),
    JSON.stringify([
      { id: 'tab1', type: 'tab', label: 'bench' },
      { id: 'in1', type: 'http in', z: 'tab1', url: '/bench', method: 'get', wires: [['set1']] },
      {
        id: 'set1',
        type: 'change',
        z: 'tab1',
        rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'ok', tot: 'str' }],
        wires: [['out1']],
      },
      { id: 'out1', type: 'http response', z: 'tab1', statusCode: '', headers: {}, wires: [] },
    ]),
  );
  await writeFile(
    join(userDir, 'settings.js'),
    `module.exports = { flowFile: 'flows.json', uiHost: '127.0.0.1', httpAdminRoot: false, credentialSecret: 'bench',
  logging: { console: { level: 'warn', metrics: false, audit: false } } };\n`,
  );
  const redJs = resolve('node_modules/node-red/red.js');
  const child = resources.track(
    spawn(process.execPath, [redJs, '--userDir', userDir, '--port', String(port), '--no-telemetry'], { stdio: 'ignore' }),
  );
  await waitFor200(port, '/bench', 'localhost', 'Node-RED');
  return { port, cpuMs: () => processCpuMs(child.pid as number) };
}

/** The router runs in this process, as it does in the manager; this process is otherwise idle while wrk runs. */
async function startRouter(resources: Resources, backendPort: number): Promise<Served> {
  const router = new HostRouter({ rootDomain: ROOT, logger: console });
  const target: RouteTarget = {
    instanceId: 'bench-instance',
    subdomain: LABEL,
    state: 'running',
    upstream: { host: '127.0.0.1', port: backendPort },
  };
  router.setTable(new Map([[LABEL, target]]));
  const server = http.createServer((req, res) => {
    if (!router.handleRequest(req, res)) res.end('manager');
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  resources.onRelease(async () => {
    router.close();
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
  });
  const cpuMs = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  return { port: (server.address() as AddressInfo).port, cpuMs };
}

/** nginx as the production shape configures it: Host-based map, upstream keepalive, the `/api` fallback. */
async function startNginx(resources: Resources, dir: string, backendPort: number, probePath: string): Promise<Served> {
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  await writeFile(
    conf,
    `worker_processes 1;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $subdomain $nr_upstream { ${LABEL} backend_${LABEL}; }
  upstream backend_${LABEL} { server 127.0.0.1:${backendPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    server_name ~^(?<subdomain>[^.]+)\\.${ROOT.replace(/\./g, '\\.')}$;
    location / {
      if ($nr_upstream = "") { return 404; }
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_intercept_errors on;
      error_page 404 = @api_fallback;
      proxy_pass http://$nr_upstream;
    }
    location @api_fallback {
      rewrite ^(.*)$ /api$1 break;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_pass http://$nr_upstream;
    }
  }
}
`,
  );
  const master = resources.track(spawn('nginx', ['-c', conf, '-e', join(dir, 'error.log'), '-p', dir], { stdio: 'ignore' }));
  await waitFor200(port, probePath, `${LABEL}.${ROOT}`, 'nginx');
  const workers = childPids(master.pid as number);
  return { port, cpuMs: () => workers.reduce((sum, pid) => sum + processCpuMs(pid), 0) };
}

function runWrk(port: number, path: string, host: string, duration: string): Promise<Omit<Figures, 'cpuUs'>> {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${duration}`, '--latency', '-H', `Host: ${host}`, `http://127.0.0.1:${port}${path}`];
  return new Promise((done, fail) => {
    execFile('wrk', args, { timeout: 120_000 }, (err, stdout) => {
      if (err) return fail(err);
      done(parseWrk(stdout));
    });
  });
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n;
}

function parseWrk(out: string): Omit<Figures, 'cpuUs'> {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const requests = /(\d+) requests in/.exec(out);
  const p50 = /\s50%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(out);
  if (!rps || !p50 || !p99 || !requests) throw new Error(`unexpected wrk output:\n${out}`);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const socketErrors = /Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)/.exec(out);
  const errors =
    Number(non2xx?.[1] ?? 0) + (socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0);
  return {
    rps: Number(rps[1]),
    p50: toMs(p50[1] as string, p50[2] as string),
    p99: toMs(p99[1] as string, p99[2] as string),
    errors,
    requests: Number(requests[1]),
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

interface Path {
  readonly name: string;
  readonly served: Served;
  readonly host: string;
}

async function measure(backend: string, paths: readonly Path[], urlPath: string): Promise<Map<string, Figures>> {
  const runs = new Map<string, Figures[]>(paths.map((p) => [p.name, []]));
  for (const p of paths) await runWrk(p.served.port, urlPath, p.host, '2s');
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const p of paths) {
      const cpuBefore = p.served.cpuMs();
      const load = await runWrk(p.served.port, urlPath, p.host, DURATION);
      const figures = { ...load, cpuUs: ((p.served.cpuMs() - cpuBefore) * 1000) / load.requests };
      runs.get(p.name)?.push(figures);
      console.log(
        `  ${backend.padEnd(8)} round ${round + 1} ${p.name.padEnd(10)} ${figures.rps.toFixed(0).padStart(7)} req/s  ` +
          `p50 ${figures.p50.toFixed(2)} ms  p99 ${figures.p99.toFixed(2)} ms  cpu ${figures.cpuUs.toFixed(1)} µs/req` +
          `${figures.errors ? `  errors ${figures.errors}` : ''}`,
      );
    }
  }
  const result = new Map<string, Figures>();
  for (const [name, list] of runs) {
    result.set(name, {
      rps: median(list.map((f) => f.rps)),
      p50: median(list.map((f) => f.p50)),
      p99: median(list.map((f) => f.p99)),
      cpuUs: median(list.map((f) => f.cpuUs)),
      requests: list.reduce((sum, f) => sum + f.requests, 0),
      errors: list.reduce((sum, f) => sum + f.errors, 0),
    });
  }
  return result;
}

function report(backend: string, results: Map<string, Figures>): void {
  const direct = results.get('direct') as Figures;
  const router = results.get('router') as Figures;
  const nginx = results.get('nginx') as Figures;
  console.log(`\n${backend}: median of ${ROUNDS} round(s), wrk -t1 -c${CONNECTIONS} -d${DURATION}`);
  console.log('  path        req/s     p50 ms   p99 ms   vs direct   cpu µs/req  errors');
  for (const [name, f] of results) {
    console.log(
      `  ${name.padEnd(10)} ${f.rps.toFixed(0).padStart(7)}   ${f.p50.toFixed(2).padStart(6)}   ${f.p99.toFixed(2).padStart(6)}   ` +
        `${(f.rps / direct.rps).toFixed(2).padStart(9)}   ${f.cpuUs.toFixed(1).padStart(10)}  ${f.errors}`,
    );
  }
  const ratio = router.rps / nginx.rps;
  console.log(`  router/nginx throughput ratio: ${ratio.toFixed(2)} (goal >= 0.60) ${ratio >= 0.6 ? 'MET' : 'NOT MET'}`);
  console.log(`  proxy CPU per request, router/nginx: ${(router.cpuUs / nginx.cpuUs).toFixed(2)}x\n`);
}

async function main(): Promise<void> {
  const resources = new Resources();
  const dir = await mkdtemp(join(tmpdir(), 'openflow-router-bench-'));
  resources.onRelease(() => rm(dir, { recursive: true, force: true }));
  const interrupt = () => void resources.release().then(() => process.exit(130));
  process.once('SIGINT', interrupt);
  // Other work on the machine moves req/s a lot; the load average says how much to trust this run.
  const load = () => loadavg().map((n) => n.toFixed(2)).join(' ');
  console.log(`load average at start: ${load()}`);
  try {
    const host = `${LABEL}.${ROOT}`;
    for (const backend of ['plain', 'node-red'] as const) {
      const work = join(dir, backend);
      await mkdir(work, { recursive: true });
      const direct = backend === 'plain' ? await plainBackend(resources) : await nodeRedBackend(resources, work);
      const urlPath = backend === 'plain' ? '/' : '/bench';
      const router = await startRouter(resources, direct.port);
      const nginx = await startNginx(resources, work, direct.port, urlPath);
      await waitFor200(router.port, urlPath, host, 'router');
      console.log(`${backend} backend on :${direct.port}, router :${router.port}, nginx :${nginx.port}`);
      const results = await measure(
        backend,
        [
          { name: 'direct', served: direct, host },
          { name: 'router', served: router, host },
          { name: 'nginx', served: nginx, host },
        ],
        urlPath,
      );
      report(backend, results);
    }
    console.log(`load average at end: ${load()}`);
  } finally {
    process.off('SIGINT', interrupt);
    await resources.release();
  }
}

await main();
