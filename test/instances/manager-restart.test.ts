import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/app.helper.js';
import { createTestDb, type TestDb } from '../helpers/db.helper.js';
import { ApiClient } from '../helpers/http.helper.js';
import { waitFor } from '../helpers/instance.helper.js';
import { httpRequest } from '../nodered/nodered.harness.js';

/** Processes whose working directory is the instance's data dir: the process driver runs each runtime there. */
function runtimesIn(dir: string): number[] {
  const real = fs.realpathSync(dir);
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readlinkSync(`/proc/${entry}/cwd`) === real) pids.push(Number(entry));
    } catch {
      /* gone or not ours */
    }
  }
  return pids;
}

describe('manager killed with SIGKILL while instances run', () => {
  const children: ChildProcess[] = [];
  let testDb: TestDb | null = null;
  let dataPath = '';

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    if (dataPath && fs.existsSync(path.join(dataPath, 'instances'))) {
      for (const id of fs.readdirSync(path.join(dataPath, 'instances'))) for (const pid of runtimesIn(path.join(dataPath, 'instances', id))) process.kill(pid, 'SIGKILL');
    }
    await testDb?.drop();
    if (dataPath) fs.rmSync(dataPath, { recursive: true, force: true });
  });

  it('a new manager on the same data serves each instance exactly once', { timeout: 240_000 }, async () => {
    dataPath = fs.mkdtempSync(path.join(os.tmpdir(), 'openflow-kill-'));
    testDb = process.env.TEST_DATABASE_URL ? await createTestDb() : null;
    const port = await freePort();
    const base = 20000 + Math.floor(Math.random() * 20000);
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: os.tmpdir(),
      PORT: String(port),
      DATA_PATH: dataPath,
      SESSION_SECRET: 'kill-test-session-secret-0123456789abcdefghij',
      PASSWORD_HASH_COST: '10',
      MQTT_PORT: '0',
      PORT_RANGE_START: String(base),
      PORT_RANGE_END: String(base + 10),
      PALETTE_CATALOGUES: 'none',
      ...(testDb?.url ? { DATABASE_URL: testDb.url } : {}),
    };
    const start = () => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.resume();
      child.stderr!.resume();
      children.push(child);
      return child;
    };
    const api = new ApiClient(`http://127.0.0.1:${port}`);
    const healthy = () => waitFor('manager health', async () => (await fetch(`http://127.0.0.1:${port}/api/health`).catch(() => null))?.ok ?? false, 120_000);

    const first = start();
    await healthy();
    expect((await api.post('/api/auth/register', { email: 'kill@example.test', password: 'long password', name: 'Kill' })).status).toBe(201);
    const pid = (await api.get('/api/projects')).body.items[0].id;
    const ids: string[] = [];
    for (const sub of ['kill-a', 'kill-b']) {
      const id = (await api.post(`/api/projects/${pid}/instances`, { subdomain: sub })).body.id;
      expect((await api.post(`/api/instances/${id}/start?wait=true`)).body.state).toBe('running');
      ids.push(id);
    }
    const stopped = (await api.post(`/api/projects/${pid}/instances`, { subdomain: 'kill-c' })).body.id;
    const before = new Map(ids.map((id) => [id, runtimesIn(path.join(dataPath, 'instances', id))]));
    for (const pids of before.values()) expect(pids).toHaveLength(1);

    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));

    const second = start();
    await healthy();
    for (const [i, id] of ids.entries()) {
      await waitFor(`instance ${id} running again`, async () => (await api.get(`/api/instances/${id}`)).body.state === 'running', 120_000);
      expect(runtimesIn(path.join(dataPath, 'instances', id))).toHaveLength(1);
      const res = await httpRequest(port, { path: '/flows', headers: { host: `kill-${'ab'[i]}.localhost:${port}` } });
      expect(res.status).toBe(401);
    }
    expect((await api.get(`/api/instances/${stopped}`)).body.state).toBe('stopped');
    const ports = await Promise.all(ids.map(async (id) => (await api.get(`/api/instances/${id}/status`)).body.port));
    expect(new Set(ports).size).toBe(ports.length);

    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));
    for (const id of ids) expect(runtimesIn(path.join(dataPath, 'instances', id))).toHaveLength(0);
  });
});
