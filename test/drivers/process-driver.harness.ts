import { randomBytes, randomInt } from 'node:crypto';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import type { DriverEvent, DriverLogger, InstanceSpec } from '../../src/drivers/instance-driver.js';
import type { ProcessDriver } from '../../src/drivers/process.driver.js';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const NODE_RED_BIN = join(REPO_ROOT, 'node_modules/node-red/red.js');

export const silentLogger: DriverLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** About twenty ports somewhere in 20000-40000, so concurrent test runs rarely meet. */
export function randomPortRange(size = 20): { start: number; end: number } {
  const start = randomInt(20_000, 40_000 - size);
  return { start, end: start + size - 1 };
}

/** A minimal settings file: loopback, flows under /api, and admin access only with the token from the env. */
export function minimalSettings(): string {
  return `'use strict';
const crypto = require('node:crypto');
const magic = Buffer.from(process.env.OPENFLOW_MAGIC_TOKEN || '');
delete process.env.OPENFLOW_MAGIC_TOKEN;
module.exports = {
  uiHost: '127.0.0.1',
  httpAdminRoot: '/',
  httpNodeRoot: '/api',
  flowFile: 'flows.json',
  credentialSecret: 'driver-test-secret',
  adminAuth: {
    tokens(token) {
      const given = Buffer.from(String(token));
      const ok = magic.length > 0 && given.length === magic.length && crypto.timingSafeEqual(given, magic);
      return Promise.resolve(ok ? { username: 'openflow', permissions: '*' } : null);
    },
  },
  logging: { console: { level: 'info', metrics: false, audit: false } },
  telemetry: { enabled: false, updateNotification: false },
  diagnostics: { enabled: false, ui: false },
};
`;
}

export function makeSpec(root: string, name: string, overrides: Partial<InstanceSpec> = {}): InstanceSpec {
  const instanceId = `${name}-${randomBytes(4).toString('hex')}`;
  return {
    instanceId,
    subdomain: name,
    aliases: [],
    userDir: join(root, 'instances', instanceId),
    settingsJs: minimalSettings(),
    env: {
      OPENFLOW_INSTANCE_ID: instanceId,
      OPENFLOW_SUBDOMAIN: name,
      OPENFLOW_MAGIC_TOKEN: randomBytes(24).toString('hex'),
    },
    memoryMb: 512,
    cpu: 1,
    ...overrides,
  };
}

/** http in GET /hello -> template "hello from <name>" -> http response. */
export function helloFlow(name: string): string {
  return JSON.stringify([
    { id: 'tab1', type: 'tab', label: 'Flow 1' },
    { id: 'in1', type: 'http in', z: 'tab1', url: '/hello', method: 'get', upload: false, swaggerDoc: '', wires: [['tpl1']] },
    { id: 'tpl1', type: 'template', z: 'tab1', field: 'payload', fieldType: 'msg', format: 'text', syntax: 'plain', template: `hello from ${name}`, output: 'str', wires: [['out1']] },
    { id: 'out1', type: 'http response', z: 'tab1', statusCode: '', headers: {}, wires: [] },
  ]);
}

export interface HttpResult {
  status: number;
  body: string;
}

export function httpGet(port: number, path: string, headers: Record<string, string> = {}): Promise<HttpResult> {
  return new Promise((resolveResult, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolveResult({ status: res.statusCode ?? 0, body }));
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${path} on ${port} timed out`)));
    req.once('error', reject);
    req.end();
  });
}

export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every event a driver emits, in order. */
export function recordEvents(driver: ProcessDriver): DriverEvent[] {
  const events: DriverEvent[] = [];
  driver.onEvent((event) => events.push(event));
  return events;
}

export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Live processes whose working directory is inside `dir` (the driver runs Node-RED with cwd = userDir). */
export function processesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if ((cwd === dir || cwd.startsWith(`${dir}/`)) && isAlive(pid)) pids.push(pid);
    } catch {
      // Gone, or not ours to inspect.
    }
  }
  return pids;
}

/** The pids holding a socket that listens on 127.0.0.1:port, read from /proc like `ss -ltnp` would. */
export function listenersOn(port: number, candidates: number[]): number[] {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const row of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const cols = row.trim().split(/\s+/);
    if (cols[1] === local && cols[3] === '0A' && cols[9] !== undefined) inodes.add(cols[9]);
  }
  return candidates.filter((pid) => {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
          return m?.[1] !== undefined && inodes.has(m[1]);
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  });
}

export function environOf(pid: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

export function killAllUnder(dir: string): void {
  for (const pid of processesUnder(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
