/**
 * Foundation API latency on a seeded catalogue (issue 2): 1,000 projects x 10 instance rows x 20 audit rows per
 * instance (200,000 audit rows), one user who is a member of every project and one platform admin. Measures p50/p99
 * and requests/s of `GET /api/projects` (default page) and `GET /api/audit?limit=100` over real keep-alive HTTP, on
 * the embedded engine (PGlite, files under DATA_PATH/db) and on a real Postgres server, plus the embedded engine's
 * start time and the manager's RSS.
 *
 *   npx tsx bench/foundation.bench.ts
 *
 * Each engine runs in its own forked manager process so RSS figures do not carry over between engines; the load
 * generator runs in this parent process so it does not share the manager's event loop. Wall-clock figures swing with
 * whatever else the machine runs, so CPU time is printed beside them: the manager's, plus on Postgres that of the
 * server backends connected to the scratch database.
 *
 * Env: BENCH_REQUESTS (per endpoint and viewer, default 1000), BENCH_CONCURRENCY (default 8), BENCH_POSTGRES_URL
 * (server to create a scratch database on, default postgres://postgres@127.0.0.1:5432/postgres; "none" skips it).
 */
import { fork } from 'node:child_process';
import crypto from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { parseConfig } from '../src/config.js';
import type { Db } from '../src/db/db.js';
import { MIGRATIONS } from '../src/db/migrations.js';
import { migrate } from '../src/db/migrator.js';
import { PgliteDb } from '../src/db/pglite.db.js';
import { PostgresDb } from '../src/db/postgres.db.js';

const SELF = fileURLToPath(import.meta.url);
const PROJECTS = 1000;
const INSTANCES_PER_PROJECT = 10;
const AUDIT_PER_INSTANCE = 20;
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? '1000');
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? '8');
const WARMUP = 50;
const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PASSWORD = 'bench-password-123';

type Engine = 'pglite' | 'postgres';
type Viewer = 'member' | 'admin';

interface Ready {
  type: 'ready';
  url: string;
  cookies: Record<Viewer, string>;
  serverVersion: string;
  /** The scratch database on the Postgres server, whose backends' CPU counts as server CPU. */
  database: string | null;
  /** Open (create the data dir, or connect) plus migrate, in ms. */
  engineStartMs: number;
  /** CPU time of the manager process during open + migrate, in ms. */
  engineStartCpuMs: number;
  /** buildApp + listen after the engine is up, in ms. */
  managerStartMs: number;
  rssBeforeEngineMb: number;
  rssAfterStartMb: number;
  seedMs: number;
}

interface Done {
  type: 'done';
  rssAfterLoadMb: number;
}

interface LoadFigures {
  p50: number;
  p99: number;
  rps: number;
  requests: number;
  /** Server-side CPU time per request, in ms. */
  cpuMsPerRequest: number;
}

interface EngineResult {
  engine: Engine;
  ready: Ready;
  done: Done;
  load: { viewer: Viewer; endpoint: string; figures: LoadFigures }[];
}

const ENDPOINTS: { path: string; check: (body: any) => boolean }[] = [
  { path: '/api/projects', check: (b) => Array.isArray(b.items) && b.items.length === 100 && b.total >= PROJECTS },
  { path: '/api/audit?limit=100', check: (b) => Array.isArray(b.items) && b.items.length === 100 && typeof b.nextCursor === 'string' },
];

/** Linux reports process CPU time in clock ticks of 10 ms. */
const MS_PER_TICK = 10;

const rssMb = () => process.memoryUsage().rss / 1024 / 1024;

const cpuMs = (since?: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};

/** CPU time (user + system) of a process so far, in ms; 0 once it has gone. */
async function processCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return 0;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/* ---------------------------------------------------------------- manager process */

/** One platform admin (the first account) and one plain user who will be made owner of every seeded project. */
async function registerViewers(url: string): Promise<Record<Viewer, string>> {
  const register = async (email: string, name: string) => {
    const res = await fetch(`${url}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, name, password: PASSWORD }),
    });
    if (res.status !== 201) throw new Error(`register ${email}: ${res.status} ${await res.text()}`);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('openflow_session='));
    if (!cookie) throw new Error(`register ${email}: no session cookie`);
    return cookie.split(';')[0]!;
  };
  const admin = await register('admin@bench.test', 'Bench Admin');
  const member = await register('member@bench.test', 'Bench Member');
  return { admin, member };
}

/** Deterministic ids from md5 so instance and audit rows can point at their project without a join. */
async function seed(db: Db, memberEmail: string): Promise<void> {
  await db.exec(`
INSERT INTO projects (id, name, created_at)
  SELECT md5('bench-project-' || p)::uuid, 'Bench project ' || p, now() - (${PROJECTS} - p) * interval '1 second'
  FROM generate_series(1, ${PROJECTS}) p;

INSERT INTO project_members (project_id, user_id, role)
  SELECT md5('bench-project-' || p)::uuid, (SELECT id FROM users WHERE email = '${memberEmail}'), 'owner'
  FROM generate_series(1, ${PROJECTS}) p;

INSERT INTO instances (id, project_id, subdomain, template_id, memory_mb, cpu, secrets_enc, mqtt_username)
  SELECT md5('bench-instance-' || p || '-' || i)::uuid, md5('bench-project-' || p)::uuid, 'bench-' || p || '-' || i,
         'default', 256, 0.5, 'bench-not-a-secret', 'bench-' || p || '-' || i
  FROM generate_series(1, ${PROJECTS}) p, generate_series(1, ${INSTANCES_PER_PROJECT}) i;

INSERT INTO audit_log (created_at, actor_id, actor_label, action, target_type, target_id, target_label, project_id, outcome, details)
  SELECT now() - ((p * ${INSTANCES_PER_PROJECT} + i) * ${AUDIT_PER_INSTANCE} + a) * interval '1 second',
         (SELECT id FROM users WHERE email = '${memberEmail}'), '${memberEmail}',
         (ARRAY['instance.start', 'instance.stop', 'instance.update', 'snapshot.create'])[1 + a % 4],
         'instance', md5('bench-instance-' || p || '-' || i)::uuid::text, 'bench-' || p || '-' || i,
         md5('bench-project-' || p)::uuid, CASE WHEN a % 10 = 0 THEN 'failure' ELSE 'success' END, '{"bench": true}'
  FROM generate_series(1, ${PROJECTS}) p, generate_series(1, ${INSTANCES_PER_PROJECT}) i, generate_series(1, ${AUDIT_PER_INSTANCE}) a;

ANALYZE;
`);
}

async function createScratchDatabase(): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = `openflow_bench_${crypto.randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} TEMPLATE template0`);
  await admin.end();
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: POSTGRES_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

async function managerRole(engine: Engine): Promise<void> {
  const dataPath = await mkdtemp(join(tmpdir(), 'openflow-bench-'));
  const scratch = engine === 'postgres' ? await createScratchDatabase() : null;
  const config = parseConfig({
    PORT: '0',
    DATA_PATH: dataPath,
    SESSION_SECRET: crypto.randomBytes(32).toString('base64url'),
    PASSWORD_HASH_COST: '10',
    MQTT_PORT: '0',
    PALETTE_CATALOGUES: 'none',
    ALLOW_SIGNUP: 'true',
    AUTH_RATE_LIMIT: '10000',
    LOG_LEVEL: 'error',
    DATABASE_URL: scratch?.url,
  });
  const rssBeforeEngineMb = rssMb();
  let started = performance.now();
  const cpuBefore = process.cpuUsage();
  const db: Db = scratch ? new PostgresDb(scratch.url) : await PgliteDb.open(join(dataPath, 'db'));
  await migrate(db, MIGRATIONS);
  const engineStartMs = performance.now() - started;
  const engineStartCpuMs = cpuMs(cpuBefore);
  started = performance.now();
  const openflow = await buildApp(config, { db, logStream: process.stderr });
  const port = await openflow.listen();
  const managerStartMs = performance.now() - started;
  const rssAfterStartMb = rssMb();
  const url = `http://127.0.0.1:${port}`;
  try {
    const cookies = await registerViewers(url);
    started = performance.now();
    await seed(db, 'member@bench.test');
    const seedMs = performance.now() - started;
    const serverVersion = (await db.query<{ v: string }>('SELECT version() AS v'))[0]!.v.split(' on ')[0]!;
    const stop = new Promise<void>((resolve) => process.once('message', () => resolve()));
    const ready: Ready = {
      type: 'ready',
      url,
      cookies,
      serverVersion,
      database: scratch?.name ?? null,
      engineStartMs,
      engineStartCpuMs,
      managerStartMs,
      rssBeforeEngineMb,
      rssAfterStartMb,
      seedMs,
    };
    process.send!(ready);
    await stop;
    const done: Done = { type: 'done', rssAfterLoadMb: rssMb() };
    process.send!(done);
  } finally {
    await openflow.close();
    await db.close();
    await scratch?.drop();
    await rm(dataPath, { recursive: true, force: true });
  }
}

/* ---------------------------------------------------------------- load generator */

/** Sums CPU time of the manager process and of the Postgres backends serving the scratch database. */
class ServerCpu {
  private readonly baseline = new Map<number, number>();

  private constructor(
    private readonly managerPid: number,
    private readonly monitor: pg.Client | null,
    private readonly database: string | null,
  ) {}

  static async open(managerPid: number, database: string | null): Promise<ServerCpu> {
    if (!database) return new ServerCpu(managerPid, null, null);
    const monitor = new pg.Client({ connectionString: POSTGRES_URL });
    await monitor.connect();
    return new ServerCpu(managerPid, monitor, database);
  }

  private async pids(): Promise<number[]> {
    if (!this.monitor) return [this.managerPid];
    const rows = await this.monitor.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [this.database]);
    return [this.managerPid, ...rows.rows.map((r) => r.pid)];
  }

  async mark(): Promise<void> {
    this.baseline.clear();
    for (const pid of await this.pids()) this.baseline.set(pid, await processCpuMs(pid));
  }

  /** CPU spent since mark(); backends that appeared since count in full, ones that exited are lost. */
  async spent(): Promise<number> {
    const pids = new Set([...this.baseline.keys(), ...(await this.pids())]);
    let total = 0;
    for (const pid of pids) {
      const now = await processCpuMs(pid);
      if (now > 0) total += now - (this.baseline.get(pid) ?? 0);
    }
    return total;
  }

  async close(): Promise<void> {
    await this.monitor?.end();
  }
}

async function load(url: string, cookie: string, check: (body: any) => boolean, requests: number, cpu: ServerCpu): Promise<LoadFigures> {
  const latencies: number[] = [];
  let issued = 0;
  const worker = async () => {
    while (issued < requests) {
      issued++;
      const t = performance.now();
      const res = await fetch(url, { headers: { cookie } });
      const body = await res.json();
      latencies.push(performance.now() - t);
      if (res.status !== 200 || !check(body)) throw new Error(`${url}: unexpected ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
    }
  };
  await cpu.mark();
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = performance.now() - started;
  const cpuMsPerRequest = (await cpu.spent()) / latencies.length;
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), rps: (latencies.length / elapsed) * 1000, requests: latencies.length, cpuMsPerRequest };
}

function runEngine(engine: Engine): Promise<EngineResult> {
  return new Promise((resolve, reject) => {
    const child = fork(SELF, ['manager', engine], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let ready: Ready | null = null;
    let done: Done | null = null;
    const measured: EngineResult['load'] = [];
    child.on('message', (msg: Ready | Done) => {
      if (msg.type === 'done') {
        done = msg;
        return;
      }
      ready = msg;
      void (async () => {
        const cpu = await ServerCpu.open(child.pid!, msg.database);
        try {
          for (const viewer of ['member', 'admin'] as const) {
            for (const ep of ENDPOINTS) {
              await load(msg.url + ep.path, msg.cookies[viewer], ep.check, WARMUP, cpu);
              measured.push({ viewer, endpoint: `GET ${ep.path}`, figures: await load(msg.url + ep.path, msg.cookies[viewer], ep.check, REQUESTS, cpu) });
            }
          }
        } finally {
          await cpu.close();
        }
      })()
        .catch((err: unknown) => {
          reject(err instanceof Error ? err : new Error(String(err)));
        })
        .finally(() => child.send('stop'));
    });
    child.once('exit', (code) => {
      if (code === 0 && ready && done) resolve({ engine, ready, done, load: measured });
      else reject(new Error(`${engine} manager exited with code ${code} before reporting`));
    });
  });
}

async function main(): Promise<void> {
  const engines: Engine[] = POSTGRES_URL === 'none' ? ['pglite'] : ['pglite', 'postgres'];
  console.log(
    `Seed: ${PROJECTS} projects x ${INSTANCES_PER_PROJECT} instances x ${AUDIT_PER_INSTANCE} audit rows per instance ` +
      `(${PROJECTS * INSTANCES_PER_PROJECT * AUDIT_PER_INSTANCE} audit rows); ${REQUESTS} requests per row at concurrency ${CONCURRENCY}, keep-alive fetch.`,
  );
  const results: EngineResult[] = [];
  for (const engine of engines) results.push(await runEngine(engine));

  for (const r of results) console.log(`  ${r.engine}: ${r.ready.serverVersion}`);
  console.log('\nengine    open+migrate ms (CPU ms)  build+listen ms  seed s   RSS MB: no engine / started / after load');
  for (const r of results) {
    const x = r.ready;
    const start = `${x.engineStartMs.toFixed(0)} (${x.engineStartCpuMs.toFixed(0)})`;
    console.log(
      `${r.engine.padEnd(9)} ${start.padStart(24)} ${x.managerStartMs.toFixed(0).padStart(16)} ` +
        `${(x.seedMs / 1000).toFixed(1).padStart(7)}   ${x.rssBeforeEngineMb.toFixed(0).padStart(17)} / ${x.rssAfterStartMb.toFixed(0).padStart(7)} / ${r.done.rssAfterLoadMb.toFixed(0).padStart(10)}`,
    );
  }
  console.log('\nengine    viewer  endpoint                       p50 ms   p99 ms    req/s   server CPU ms/req');
  for (const r of results) {
    for (const m of r.load) {
      const f = m.figures;
      console.log(
        `${r.engine.padEnd(9)} ${m.viewer.padEnd(7)} ${m.endpoint.padEnd(28)} ${f.p50.toFixed(1).padStart(8)} ${f.p99.toFixed(1).padStart(8)} ` +
          `${f.rps.toFixed(0).padStart(8)} ${f.cpuMsPerRequest.toFixed(2).padStart(19)}`,
      );
    }
  }
  console.log(
    '\nRSS is the manager process; "no engine" is with the app code loaded before the database opens. On Postgres the ' +
      "server's own memory is not included (it runs outside the manager). Server CPU is the manager process plus, on " +
      'Postgres, the backends of the scratch database. Shared 2-core machine: compare engines within one run.',
  );
}

const [role, arg] = process.argv.slice(2);
if (role === 'manager') await managerRole(arg as Engine);
else await main();
