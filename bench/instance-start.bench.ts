/**
 * Cold start of one instance through the process driver against bare Node-RED of the same version, then density.
 * Run: npx tsx bench/instance-start.bench.ts
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { InstanceSpec } from '../src/drivers/instance-driver.js';
import { LoopbackNetwork } from '../src/drivers/process-loopback.js';
import { ProcessDriver } from '../src/drivers/process.driver.js';

const ROUNDS = 5;
const DENSITY = 20;
const POLL_MS = 100;
const NODE_RED_BIN = resolve(import.meta.dirname, '../node_modules/node-red/red.js');
const MIB = 1024 * 1024;

const SETTINGS = `'use strict';
const crypto = require('node:crypto');
const magic = Buffer.from(process.env.OPENFLOW_MAGIC_TOKEN || '');
delete process.env.OPENFLOW_MAGIC_TOKEN;
module.exports = {
  uiHost: '127.0.0.1',
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

function statusOf(port: number): Promise<number> {
  return new Promise((done) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 2_000 }, (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => done(0));
    req.end();
  });
}

async function until200(port: number): Promise<void> {
  const deadline = performance.now() + 60_000;
  while ((await statusOf(port)) !== 200) {
    if (performance.now() > deadline) throw new Error(`no 200 on ${port} within 60 s`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

async function freePort(network: LoopbackNetwork, avoid: { start: number; end: number }): Promise<number> {
  for (;;) {
    const port = randomInt(40_001, 60_000);
    if ((port < avoid.start || port > avoid.end) && (await network.portIsFree(port))) return port;
  }
}

/** `node red.js --userDir <empty dir>`, plus a free port and loopback so it cannot collide or leave the host. */
async function bareStart(root: string, port: number): Promise<number> {
  const userDir = await mkdtemp(join(root, 'bare-'));
  const started = performance.now();
  const child = spawn(process.execPath, [NODE_RED_BIN, '--userDir', userDir, '--port', String(port), '--define', 'uiHost=127.0.0.1'], {
    cwd: userDir,
    stdio: 'ignore',
  });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    await until200(port);
    return performance.now() - started;
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

function spec(root: string, name: string): InstanceSpec {
  const instanceId = `${name}-${randomBytes(4).toString('hex')}`;
  return {
    instanceId,
    subdomain: name,
    aliases: [],
    userDir: join(root, 'instances', instanceId),
    settingsJs: SETTINGS,
    env: { OPENFLOW_INSTANCE_ID: instanceId, OPENFLOW_MAGIC_TOKEN: randomBytes(24).toString('hex') },
    memoryMb: 512,
    cpu: 1,
  };
}

async function driverStart(driver: ProcessDriver, root: string): Promise<number> {
  const s = spec(root, 'cold');
  const started = performance.now();
  const info = await driver.start(s);
  await until200(info.port);
  const elapsed = performance.now() - started;
  await driver.remove(s.instanceId);
  return elapsed;
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'openflow-bench-'));
  const rangeStart = randomInt(20_000, 39_900);
  const portRange = { start: rangeStart, end: rangeStart + 59 };
  const network = new LoopbackNetwork();
  const quiet = () => undefined;
  const driver = new ProcessDriver({
    nodeRedBin: NODE_RED_BIN,
    portRange,
    runDir: join(root, 'run'),
    crash: { maxCrashes: 5, windowMs: 60_000, backoffMs: [1_000] },
    logger: { info: quiet, warn: quiet, error: quiet },
  });
  try {
    const bare: number[] = [];
    const viaDriver: number[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      // Alternate the order so neither side always runs on a warmer cache.
      const runBare = async () => bare.push(await bareStart(root, await freePort(network, portRange)));
      const runDriver = async () => viaDriver.push(await driverStart(driver, root));
      if (round % 2 === 0) {
        await runBare();
        await runDriver();
      } else {
        await runDriver();
        await runBare();
      }
      console.log(`round ${round + 1}: bare ${bare.at(-1)?.toFixed(0)} ms, driver ${viaDriver.at(-1)?.toFixed(0)} ms`);
    }
    const bareMedian = median(bare);
    const driverMedian = median(viaDriver);
    console.log(`cold start median of ${ROUNDS} (start -> GET / 200), Node-RED ${driver.nodeRedVersion}:`);
    console.log(`  bare red.js     ${bareMedian.toFixed(0)} ms`);
    console.log(`  process driver  ${driverMedian.toFixed(0)} ms`);
    console.log(`  ratio           ${(driverMedian / bareMedian).toFixed(3)} (goal <= 1.15)`);

    const managerBefore = process.memoryUsage().rss;
    const specs = Array.from({ length: DENSITY }, (_, i) => spec(root, `dense${i}`));
    const startedAt = performance.now();
    const queue = [...specs];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let s = queue.shift(); s; s = queue.shift()) await driver.start(s);
      }),
    );
    console.log(`density: ${DENSITY} instances running after ${((performance.now() - startedAt) / 1000).toFixed(1)} s; settling 5 s`);
    await new Promise((r) => setTimeout(r, 5_000));
    let total = 0;
    for (const s of specs) {
      const status = await driver.status(s.instanceId);
      const rss = status?.rssBytes ?? 0;
      total += rss;
      console.log(`  ${s.instanceId.padEnd(16)} pid ${String(status?.pid).padEnd(8)} port ${status?.port}  RSS ${(rss / MIB).toFixed(1)} MiB`);
    }
    const managerGrowth = process.memoryUsage().rss - managerBefore;
    console.log(`  total RSS ${(total / MIB).toFixed(0)} MiB, mean ${(total / DENSITY / MIB).toFixed(1)} MiB per instance`);
    console.log(`  manager RSS growth ${(managerGrowth / MIB).toFixed(1)} MiB, ${(managerGrowth / DENSITY / 1024).toFixed(0)} KiB per instance`);
  } finally {
    await driver.close();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
