import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.helper.js';
import { ApiClient, newUser } from '../helpers/http.helper.js';
import { createRunning, deployFlows, secretsOf, viaRouter as routed, waitFor } from '../helpers/instance.helper.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('instances as real Node-RED runtimes', () => {
  let t: TestApp;
  let owner: ApiClient;
  let pid: string;
  const magicOf = async (id: string) => (await secretsOf(t, id)).magicToken;
  const viaRouter = (sub: string, p: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}) => routed(t, sub, p, opts);

  beforeAll(async () => {
    const base = 20000 + Math.floor(Math.random() * 20000);
    t = await startTestApp({ env: { PORT_RANGE_START: String(base), PORT_RANGE_END: String(base + 40), INSTANCE_CRASH_BACKOFF_MS: '200,200,200,200,200' } });
    owner = (await newUser(t.url, undefined, 'inst')).client;
    pid = (await owner.get('/api/projects')).body.items[0].id;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses bad subdomains, duplicates, reserved names and out-of-bounds limits, creating nothing', async () => {
    const bad: [unknown, number, string][] = [
      [{ subdomain: 'Has_Underscore' }, 400, 'invalid_subdomain'],
      [{ subdomain: '9starts-with-digit' }, 400, 'invalid_subdomain'],
      [{ subdomain: 'trailing-' }, 400, 'invalid_subdomain'],
      [{ subdomain: 'a'.repeat(64) }, 400, 'validation_failed'],
      [{ subdomain: 'www' }, 400, 'reserved_subdomain'],
      [{ subdomain: 'admin' }, 400, 'reserved_subdomain'],
      [{ subdomain: 'okname', memoryMb: 64 }, 400, 'limit_out_of_bounds'],
      [{ subdomain: 'okname', cpu: 99 }, 400, 'limit_out_of_bounds'],
      [{ subdomain: 'okname', template: 'nope' }, 400, 'unknown_template'],
      [{ subdomain: 'okname', env: { OPENFLOW_MAGIC_TOKEN: 'x' } }, 400, 'invalid_env'],
      [{ subdomain: 'okname', extra: true }, 400, 'validation_failed'],
    ];
    for (const [body, status, code] of bad) {
      const res = await owner.post(`/api/projects/${pid}/instances`, body);
      expect([res.status, res.body.code], JSON.stringify(body)).toEqual([status, code]);
    }
    expect((await owner.post(`/api/projects/${pid}/instances`, { subdomain: 'dupe' })).status).toBe(201);
    const dup = await owner.post(`/api/projects/${pid}/instances`, { subdomain: 'dupe' });
    expect([dup.status, dup.body.code]).toEqual([409, 'subdomain_taken']);
    const items = (await owner.get(`/api/projects/${pid}/instances`)).body.items;
    expect(items.map((i: any) => i.subdomain)).toEqual(['dupe']);
    expect(JSON.stringify(items)).not.toMatch(/magic|secret/i);
  });

  it('create → start → running → admin API by magic bearer only → flow under /api → restart keeps it', async () => {
    const created = await owner.post(`/api/projects/${pid}/instances`, { subdomain: 'alpha', template: 'starter' });
    expect(created.status).toBe(201);
    expect(created.body.state).toBe('stopped');
    const id = created.body.id;
    const other = (await owner.post(`/api/projects/${pid}/instances`, { subdomain: 'beta' })).body.id;

    const started = await owner.post(`/api/instances/${id}/start?wait=true`);
    expect(started.status).toBe(200);
    expect(started.body.state).toBe('running');
    const magic = await magicOf(id);
    const otherMagic = await magicOf(other);

    expect((await viaRouter('alpha', '/flows', { headers: { authorization: `Bearer ${magic}` } })).status).toBe(200);
    expect((await viaRouter('alpha', '/flows')).status).toBe(401);
    expect((await viaRouter('alpha', '/flows', { headers: { authorization: `Bearer ${otherMagic}` } })).status).toBe(401);
    const starterFlows = JSON.parse((await viaRouter('alpha', '/flows', { headers: { authorization: `Bearer ${magic}` } })).body);
    expect(starterFlows.some((n: any) => n.type === 'mqtt-broker')).toBe(true);

    const flows = [
      { id: 'tab1', type: 'tab', label: 'Test' },
      { id: 'in1', type: 'http in', z: 'tab1', url: '/hello', method: 'get', wires: [['fn1']] },
      { id: 'fn1', type: 'function', z: 'tab1', func: "msg.payload = { hello: 'world', magic: env.get('OPENFLOW_MAGIC_TOKEN') || null, secret: env.get('OPENFLOW_INSTANCE_SECRET') || null, id: env.get('OPENFLOW_INSTANCE_ID') }; return msg;", outputs: 1, wires: [['out1']] },
      { id: 'out1', type: 'http response', z: 'tab1', wires: [] },
    ];
    const deploy = await viaRouter('alpha', '/flows', { method: 'POST', headers: { authorization: `Bearer ${magic}`, 'content-type': 'application/json', 'node-red-deployment-type': 'full' }, body: JSON.stringify(flows) });
    expect(deploy.status).toBe(204);
    const hello = await waitFor('flow endpoint', async () => {
      const r = await viaRouter('alpha', '/api/hello');
      return r.status === 200 ? r : null;
    });
    const payload = JSON.parse(hello.body);
    expect(payload).toEqual({ hello: 'world', magic: null, secret: null, id });

    const status = (await owner.get(`/api/instances/${id}/status`)).body;
    expect(status).toMatchObject({ state: 'running', nodeRedVersion: '4.1.8' });
    expect(status.pid).toBeGreaterThan(0);
    expect(status.rssBytes).toBeGreaterThan(10_000_000);

    const restarted = await owner.post(`/api/instances/${id}/restart?wait=true`);
    expect(restarted.body.state).toBe('running');
    const again = await waitFor('flow after restart', async () => {
      const r = await viaRouter('alpha', '/api/hello');
      return r.status === 200 ? r : null;
    });
    expect(JSON.parse(again.body).hello).toBe('world');

    const logs = (await owner.get(`/api/instances/${id}/logs?limit=50`)).body.items;
    expect(logs.some((l: any) => /Started flows|Server now running/.test(l.line))).toBe(true);
    expect(JSON.stringify(logs)).not.toContain(magic);
  });

  it('restarts a killed runtime and routes to the new one', async () => {
    const id = (await owner.post(`/api/projects/${pid}/instances`, { subdomain: 'crashy' })).body.id;
    await owner.post(`/api/instances/${id}/start?wait=true`);
    const before = (await owner.get(`/api/instances/${id}/status`)).body;
    process.kill(before.pid, 'SIGKILL');
    const after = await waitFor('restart after SIGKILL', async () => {
      const s = (await owner.get(`/api/instances/${id}/status`)).body;
      return s.state === 'running' && s.pid && s.pid !== before.pid ? s : null;
    });
    expect(after.restarts).toBeGreaterThanOrEqual(1);
    expect((await viaRouter('crashy', '/flows')).status).toBe(401);
    const audit = (await owner.get(`/api/audit?projectId=${pid}&action=instance.crash`)).body.items;
    expect(audit.length).toBeGreaterThanOrEqual(1);
  });

  it('puts a crash-looping instance in error with the crash in errorMessage', { timeout: 150_000 }, async () => {
    const { id, magic } = await createRunning(t, owner, pid, 'looper');
    const crasher = [
      { id: 't1', type: 'tab', label: 'crash' },
      { id: 'inj', type: 'inject', z: 't1', props: [{ p: 'payload' }], once: true, onceDelay: '0.1', repeat: '', payload: '', payloadType: 'date', wires: [['fn']] },
      { id: 'fn', type: 'function', z: 't1', func: "node.error('boom-from-a-flow'); return msg;", outputs: 1, wires: [['ex']] },
      // The function sandbox catches exceptions, so the flow kills its own runtime the way a native crash would.
      { id: 'ex', type: 'exec', z: 't1', command: 'sleep 0.2; kill -KILL $PPID', addpay: '', append: '', useSpawn: 'false', timer: '', winHide: false, oldrc: false, wires: [[], [], []] },
    ];
    await deployFlows(t, 'looper', magic, crasher);
    const failed = await waitFor('error state', async () => {
      const i = (await owner.get(`/api/instances/${id}`)).body;
      return i.state === 'error' ? i : null;
    }, 120_000);
    expect(failed.errorMessage).toContain('boom-from-a-flow');
    expect((await viaRouter('looper', '/', { headers: { accept: 'application/json' } })).status).toBe(503);
  });

  it('serializes transitions: a second start while starting is refused with 409', async () => {
    const id = (await owner.post(`/api/projects/${pid}/instances`, { subdomain: 'racer' })).body.id;
    const [a, b] = await Promise.all([owner.post(`/api/instances/${id}/start`), owner.post(`/api/instances/${id}/start`)]);
    expect([a.status, b.status].sort()).toEqual([202, 409]);
    await waitFor('running', async () => (await owner.get(`/api/instances/${id}`)).body.state === 'running');
    const stop = await owner.post(`/api/instances/${id}/stop`);
    expect(stop.body.state).toBe('stopped');
    const stopAgain = await owner.post(`/api/instances/${id}/stop`);
    expect([stopAgain.status, stopAgain.body.code]).toEqual([409, 'instance_stopped']);
    expect((await viaRouter('racer', '/')).status).toBe(503);
  });

  it('delete leaves no process, no port and no directory', async () => {
    const id = (await owner.post(`/api/projects/${pid}/instances`, { subdomain: 'doomed' })).body.id;
    await owner.post(`/api/instances/${id}/start?wait=true`);
    const s = (await owner.get(`/api/instances/${id}/status`)).body;
    const dir = path.join(t.dataPath, 'instances', id);
    expect(fs.existsSync(dir)).toBe(true);
    expect((await owner.delete(`/api/instances/${id}`)).status).toBe(204);
    expect(alive(s.pid)).toBe(false);
    expect(fs.existsSync(dir)).toBe(false);
    expect((await owner.get(`/api/instances/${id}`)).status).toBe(404);
    expect((await viaRouter('doomed', '/')).status).toBe(404);
    const net = await import('node:net');
    await new Promise<void>((resolve, reject) => {
      const srv = net.createServer().once('error', reject).listen(s.port, '127.0.0.1', () => srv.close(() => resolve()));
    });
  });
});
