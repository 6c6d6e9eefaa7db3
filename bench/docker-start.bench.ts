/**
 * Cold start of one instance through the Docker driver against the process driver in the same run (start call ->
 * GET / answers 200), then memory per instance for a handful of each.
 * Needs an engine and the local image: scripts/docker-up.sh, scripts/build-local-image.sh, then
 *   DOCKER_HOST=unix:///tmp/openflow-docker/docker.sock npx tsx bench/docker-start.bench.ts
 */
import { randomBytes, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { DockerodeEngine } from '../src/drivers/docker-engine.js';
import { DockerDriver, LABEL_SCOPE } from '../src/drivers/docker.driver.js';
import type { InstanceDriver, InstanceSpec } from '../src/drivers/instance-driver.js';
import { ProcessDriver } from '../src/drivers/process.driver.js';

const ROUNDS = 5;
const DENSITY = 5;
const POLL_MS = 50;
const MIB = 1024 * 1024;
const NODE_RED_BIN = resolve(import.meta.dirname, '../node_modules/node-red/red.js');
const IMAGE = process.env.NODE_RED_IMAGE ?? 'openflow/node-red:local';

/** The same file for both drivers; only the listening address differs (a container must listen beyond loopback). */
function settings(uiHost: string): string {
  return `'use strict';
const crypto = require('node:crypto');
const magic = Buffer.from(process.env.OPENFLOW_MAGIC_TOKEN || '');
delete process.env.OPENFLOW_MAGIC_TOKEN;
module.exports = {
  uiHost: ${JSON.stringify(uiHost)},
  uiPort: 1880,
  httpNodeRoot: '/api',
  flowFile: 'flows.json',
  credentialSecret: 'bench-secret',
  adminAuth: {
    tokens(token) {
      const given = Buffer.from(String(token));
      const ok = magic.length > 0 && given.length === magic.length && crypto.timingSafeEqual(given, magic);
      return Promise.resolve(ok ? { username: 'openflow', permissions: '*' } : null);
    },
  },
};
`;
}

function statusOf(host: string, port: number): Promise<number> {
  return new Promise((done) => {
    const req = request({ host, port, path: '/', agent: false, timeout: 2_000 }, (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => done(0));
    req.end();
  });
}

async function until200(host: string, port: number): Promise<void> {
  const deadline = performance.now() + 60_000;
  while ((await statusOf(host, port)) !== 200) {
    if (performance.now() > deadline) throw new Error(`no 200 from ${host}:${port} within 60 s`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function spec(root: string, name: string, uiHost: string): InstanceSpec {
  const subdomain = `${name}-${randomBytes(3).toString('hex')}`;
  const instanceId = `${subdomain}-${randomBytes(4).toString('hex')}`;
  return {
    instanceId,
    subdomain,
    aliases: [],
    userDir: join(root, 'instances', instanceId),
    settingsJs: settings(uiHost),
    env: { OPENFLOW_INSTANCE_ID: instanceId, OPENFLOW_MAGIC_TOKEN: randomBytes(24).toString('hex') },
    memoryMb: 512,
    cpu: 1,
  };
}

async function coldStart(driver: InstanceDriver, s: InstanceSpec): Promise<number> {
  const started = performance.now();
  const info = await driver.start(s);
  await until200(info.host, info.port);
  const elapsed = performance.now() - started;
  await driver.remove(s.instanceId);
  return elapsed;
}

interface Memory {
  /** What the driver's status() reports: RSS of the process, or the container cgroup's anonymous memory. */
  reported: number;
  /** RssAnon of the Node-RED process from /proc, measured the same way for both drivers. */
  anon: number;
  /** RssFile: the node binary's and libraries' pages, shared between all instances. */
  file: number;
}

function procKb(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

/** The container's init (docker-init) is what the driver reports as pid; Node-RED is its child. */
function nodePid(pid: number): number {
  if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'docker-init') return pid;
  const [child] = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  if (child === undefined) throw new Error(`docker-init ${pid} has no child`);
  return child;
}

async function memory(driver: InstanceDriver, specs: InstanceSpec[]): Promise<Memory[]> {
  const queue = [...specs];
  await Promise.all(
    Array.from({ length: 2 }, async () => {
      for (let s = queue.shift(); s; s = queue.shift()) await driver.start(s);
    }),
  );
  await new Promise((r) => setTimeout(r, 5_000));
  const figures: Memory[] = [];
  for (const s of specs) {
    const status = await driver.status(s.instanceId);
    const pid = nodePid(status?.pid ?? 0);
    figures.push({ reported: status?.rssBytes ?? 0, anon: procKb(pid, 'RssAnon'), file: procKb(pid, 'RssFile') });
  }
  await Promise.all(specs.map((s) => driver.remove(s.instanceId)));
  return figures;
}

async function main(): Promise<void> {
  const host = process.env.DOCKER_HOST ?? '';
  if (!host.startsWith('unix://')) throw new Error('set DOCKER_HOST=unix://<socket> (scripts/docker-up.sh prints it)');
  const docker = new Docker({ socketPath: host.slice('unix://'.length) });
  const root = await mkdtemp(join(tmpdir(), 'openflow-docker-bench-'));
  const network = `openflow-bench-${randomBytes(3).toString('hex')}`;
  const scope = `bench-${randomBytes(3).toString('hex')}`;
  const quiet = () => undefined;
  const logger = { info: quiet, warn: quiet, error: quiet };
  const crash = { maxCrashes: 5, windowMs: 60_000, backoffMs: [1_000] };
  const rangeStart = randomInt(20_000, 39_900);
  const processes = new ProcessDriver({ nodeRedBin: NODE_RED_BIN, portRange: { start: rangeStart, end: rangeStart + 59 }, runDir: join(root, 'run'), crash, logger });
  const containers = new DockerDriver({ engine: new DockerodeEngine(docker), image: IMAGE, network, scope, crash, logger });
  try {
    // The first container start also creates the network and checks the image; keep that out of the figures.
    const warm = spec(root, 'warm', '0.0.0.0');
    await containers.start(warm);
    await containers.remove(warm.instanceId);

    const viaProcess: number[] = [];
    const viaDocker: number[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const runProcess = async () => viaProcess.push(await coldStart(processes, spec(root, 'proc', '127.0.0.1')));
      const runDocker = async () => viaDocker.push(await coldStart(containers, spec(root, 'dock', '0.0.0.0')));
      if (round % 2 === 0) {
        await runProcess();
        await runDocker();
      } else {
        await runDocker();
        await runProcess();
      }
      console.log(`round ${round + 1}: process ${viaProcess.at(-1)?.toFixed(0)} ms, docker ${viaDocker.at(-1)?.toFixed(0)} ms`);
    }
    const processMedian = median(viaProcess);
    const dockerMedian = median(viaDocker);
    console.log(`cold start median of ${ROUNDS} (start call -> GET / 200), Node-RED ${processes.nodeRedVersion}, image ${IMAGE}:`);
    console.log(`  process driver  ${processMedian.toFixed(0)} ms`);
    console.log(`  docker driver   ${dockerMedian.toFixed(0)} ms`);
    console.log(`  ratio           ${(dockerMedian / processMedian).toFixed(2)}`);

    const processRss = await memory(processes, Array.from({ length: DENSITY }, (_, i) => spec(root, `pmem${i}`, '127.0.0.1')));
    const dockerRss = await memory(containers, Array.from({ length: DENSITY }, (_, i) => spec(root, `dmem${i}`, '0.0.0.0')));
    const mean = (figures: Memory[], key: keyof Memory) => (figures.reduce((sum, f) => sum + f[key], 0) / figures.length / MIB).toFixed(1);
    console.log(`memory after 5 s idle, mean of ${DENSITY} instances each, MiB:`);
    console.log('            status().rssBytes  RssAnon  RssFile (shared)');
    console.log(`  process   ${mean(processRss, 'reported').padStart(16)}  ${mean(processRss, 'anon').padStart(7)}  ${mean(processRss, 'file').padStart(7)}`);
    console.log(`  docker    ${mean(dockerRss, 'reported').padStart(16)}  ${mean(dockerRss, 'anon').padStart(7)}  ${mean(dockerRss, 'file').padStart(7)}`);
  } finally {
    await containers.close();
    await processes.close();
    const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL_SCOPE}=${scope}`] } });
    await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true })));
    await docker.getNetwork(network).remove().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
}

await main();
