import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptCredentials } from '../../src/nodered/credentials.js';
import { startTestApp, type TestApp } from '../helpers/app.helper.js';
import { newUser, type ApiClient } from '../helpers/http.helper.js';
import { createRunning, deployFlows, secretsOf, viaRouter, waitFor } from '../helpers/instance.helper.js';

const magicHeaders = (magic: string) => ({ authorization: `Bearer ${magic}`, 'content-type': 'application/json' });

/** The registry is needed only by the module-install test; without it that test is skipped, not faked. */
async function registryReachable(): Promise<boolean> {
  try {
    await promisify(execFile)('npm', ['view', 'node-red-node-random@0.4.1', 'version'], { timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

/** A loopback service that wants HTTP basic auth with one exact password. */
async function basicAuthServer(user: string, password: string) {
  const seen: { ok: number; refused: number } = { ok: 0, refused: 0 };
  const server = http.createServer((req, res) => {
    const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    if (req.headers.authorization === expected) {
      seen.ok += 1;
      res.end('authorized');
    } else {
      seen.refused += 1;
      res.statusCode = 401;
      res.end('denied');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { seen, port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function runtimeFlows(t: TestApp, label: string, magic: string): Promise<any[]> {
  const res = await viaRouter(t, label, '/flows', { headers: { authorization: `Bearer ${magic}` } });
  expect(res.status).toBe(200);
  return JSON.parse(res.body);
}

const flowsV1 = [
  { id: 'tab1', type: 'tab', label: 'Main', disabled: false, info: '' },
  { id: 'inj1', type: 'inject', z: 'tab1', name: 'tick', props: [{ p: 'payload' }], repeat: '', once: false, topic: '', payload: 'one', payloadType: 'str', x: 100, y: 80, wires: [['fn1']] },
  { id: 'fn1', type: 'function', z: 'tab1', name: 'double', func: 'msg.payload = msg.payload + msg.payload;\nreturn msg;', outputs: 1, x: 280, y: 80, wires: [['dbg1']] },
  { id: 'dbg1', type: 'debug', z: 'tab1', name: 'out', active: true, complete: 'payload', x: 460, y: 80, wires: [] },
  { id: 'hin', type: 'http in', z: 'tab1', name: '', url: '/version', method: 'get', x: 100, y: 160, wires: [['hfn']] },
  { id: 'hfn', type: 'function', z: 'tab1', name: 'version', func: "msg.payload = 'v1';\nreturn msg;", outputs: 1, x: 280, y: 160, wires: [['hout']] },
  { id: 'hout', type: 'http response', z: 'tab1', name: '', x: 460, y: 160, wires: [] },
];

describe('snapshots against real Node-RED instances', () => {
  let t: TestApp;
  let owner: ApiClient;
  let projectA: string;
  let projectB: string;
  /** The first answer of a flow endpoint that is not the runtime's 404 for a route not registered yet. */
  const answer = (label: string, p: string) =>
    waitFor(`${label}${p}`, async () => {
      const r = await viaRouter(t, label, p);
      return r.status === 404 ? null : r;
    });

  beforeAll(async () => {
    const base = 20000 + Math.floor(Math.random() * 20000);
    t = await startTestApp({ env: { PORT_RANGE_START: String(base), PORT_RANGE_END: String(base + 20), PALETTE_CATALOGUES: 'none' } });
    owner = (await newUser(t.url, undefined, 'snap')).client;
    projectA = (await owner.get('/api/projects')).body.items[0].id;
    const created = await owner.post('/api/projects', { name: 'Production' });
    expect(created.status).toBe(201);
    projectB = created.body.id;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('snapshot → change flows → roll back through the editor plugin route → the flows equal the snapshot', { timeout: 180_000 }, async () => {
    const src = await createRunning(t, owner, projectA, 'snapsrc');
    await deployFlows(t, 'snapsrc', src.magic, flowsV1);
    const deployedV1 = await runtimeFlows(t, 'snapsrc', src.magic);

    const snap = await owner.post(`/api/instances/${src.id}/snapshots`, { name: 'v1', description: 'first cut' });
    expect(snap.status).toBe(201);
    expect(snap.body).toMatchObject({ name: 'v1', description: 'first cut', nodeCount: 6, sourceInstanceId: src.id, projectId: projectA });
    expect(snap.body.author.name).toBe('snap');
    const detail = (await owner.get(`/api/snapshots/${snap.body.id}`)).body;
    expect(detail.flows).toEqual(deployedV1);

    const flowsV2 = flowsV1.map((n) => (n.id === 'hfn' ? { ...n, func: "msg.payload = 'v2';\nreturn msg;" } : n)).filter((n) => n.id !== 'dbg1');
    await deployFlows(t, 'snapsrc', src.magic, flowsV2);
    await waitFor('v2 live', async () => (await viaRouter(t, 'snapsrc', '/api/version')).body === 'v2');

    // The editor plugin's routes sit behind Node-RED's admin auth.
    expect((await viaRouter(t, 'snapsrc', '/openflow/snapshots')).status).toBe(401);
    const listed = await viaRouter(t, 'snapsrc', '/openflow/snapshots', { headers: { authorization: `Bearer ${src.magic}` } });
    expect(listed.status).toBe(200);
    const items = JSON.parse(listed.body).items;
    expect(items.map((s: any) => s.name)).toEqual(['v1']);

    const fromEditor = await viaRouter(t, 'snapsrc', '/openflow/snapshots', { method: 'POST', headers: magicHeaders(src.magic), body: JSON.stringify({ name: 'before rollback' }) });
    expect(fromEditor.status).toBe(201);
    expect(JSON.parse(fromEditor.body).author).toEqual({ id: null, name: 'editor of snapsrc' });

    const rolled = await viaRouter(t, 'snapsrc', `/openflow/snapshots/${snap.body.id}/rollback`, { method: 'POST', headers: magicHeaders(src.magic), body: '{}' });
    expect(rolled.status).toBe(200);
    expect(JSON.parse(rolled.body).mode).toBe('reloaded');
    expect(await runtimeFlows(t, 'snapsrc', src.magic)).toEqual(detail.flows);
    expect(JSON.parse(fs.readFileSync(path.join(t.dataPath, 'instances', src.id, 'flows.json'), 'utf8'))).toEqual(detail.flows);
    await waitFor('v1 live again', async () => (await viaRouter(t, 'snapsrc', '/api/version')).body === 'v1');

    // The list now has both, newest first; the audit names the instance as the actor of the editor's actions.
    const after = JSON.parse((await viaRouter(t, 'snapsrc', '/openflow/snapshots', { headers: { authorization: `Bearer ${src.magic}` } })).body).items;
    expect(after.map((s: any) => s.name)).toEqual(['before rollback', 'v1']);
    const audit = (await owner.get(`/api/audit?projectId=${projectA}`)).body.items;
    const apply = audit.find((e: any) => e.action === 'snapshot.apply');
    expect(apply).toMatchObject({ actor: 'instance:snapsrc', outcome: 'success', targetId: snap.body.id });

    // An instance may only roll back to its own snapshots, and only with its own secret.
    const other = await createRunning(t, owner, projectA, 'snapother');
    const foreign = await viaRouter(t, 'snapother', `/openflow/snapshots/${snap.body.id}/rollback`, { method: 'POST', headers: magicHeaders(other.magic), body: '{}' });
    expect(foreign.status).toBe(404);
    const forged = await fetch(`${t.url}/api/internal/instances/${src.id}/snapshots`, { headers: { authorization: `Bearer ${(await secretsOf(t, other.id)).instanceSecret}` } });
    expect(forged.status).toBe(401);
  });

  it('promotes across projects with a credential-bearing node: the target authenticates with the right password', { timeout: 240_000 }, async () => {
    const password = `pw-${crypto.randomBytes(8).toString('hex')}`;
    const service = await basicAuthServer('svc', password);
    try {
      const flows = [
        { id: 'ptab', type: 'tab', label: 'Calls' },
        { id: 'pin', type: 'http in', z: 'ptab', url: '/call', method: 'get', wires: [['preq']] },
        { id: 'preq', type: 'http request', z: 'ptab', name: 'secure call', method: 'GET', ret: 'txt', url: `http://127.0.0.1:${service.port}/secure`, authType: 'basic', credentials: { user: 'svc', password }, wires: [['pout']] },
        { id: 'pout', type: 'http response', z: 'ptab', wires: [] },
      ];
      const dev = await createRunning(t, owner, projectA, 'promote-dev');
      await deployFlows(t, 'promote-dev', dev.magic, flows);
      expect((await answer('promote-dev', '/api/call')).body).toBe('authorized');
      const snap = (await owner.post(`/api/instances/${dev.id}/snapshots`, { name: 'release' })).body;
      expect((await owner.get(`/api/snapshots/${snap.id}`)).body.credentialNodeIds).toEqual(['preq']);
      expect(JSON.stringify((await owner.get(`/api/snapshots/${snap.id}`)).body)).not.toContain(password);
      const [row] = await t.testDb.db.query<any>('SELECT credentials_enc, flows FROM snapshots WHERE id = $1', [snap.id]);
      expect(row.credentials_enc).not.toContain(password);
      expect(JSON.stringify(row.flows)).not.toContain(password);

      const prod = await createRunning(t, owner, projectB, 'promote-prod');
      const applied = await owner.post(`/api/snapshots/${snap.id}/apply`, { instanceId: prod.id });
      expect(applied.status).toBe(200);
      expect(applied.body).toMatchObject({ mode: 'reloaded', installedModules: [] });
      const refusedBefore = service.seen.refused;
      // Like any deploy, a reload answers once the files are loaded; the flows start right after.
      expect((await answer('promote-prod', '/api/call')).body).toBe('authorized');
      expect(service.seen.refused).toBe(refusedBefore);

      // On disk the target's credentials are sealed with the target's own secret, not the source's.
      const credFile = JSON.parse(fs.readFileSync(path.join(t.dataPath, 'instances', prod.id, 'flows_cred.json'), 'utf8'));
      expect(decryptCredentials(credFile, (await secretsOf(t, prod.id)).credentialSecret)).toEqual({ preq: { user: 'svc', password } });
      const devSecret = (await secretsOf(t, dev.id)).credentialSecret;
      expect(() => decryptCredentials(credFile, devSecret)).toThrow();

      // They survive a restart (the runtime reads them back from storage).
      expect((await owner.post(`/api/instances/${prod.id}/restart?wait=true`)).body.state).toBe('running');
      await waitFor('call after restart', async () => (await viaRouter(t, 'promote-prod', '/api/call')).body === 'authorized');

      // A stopped target gets the files and uses them when it starts.
      const staging = (await owner.post(`/api/projects/${projectB}/instances`, { subdomain: 'promote-staging' })).body;
      const written = await owner.post(`/api/snapshots/${snap.id}/apply`, { instanceId: staging.id });
      expect(written.body.mode).toBe('written');
      expect((await owner.post(`/api/instances/${staging.id}/start?wait=true`)).body.state).toBe('running');
      await waitFor('call on staging', async () => (await viaRouter(t, 'promote-staging', '/api/call')).body === 'authorized');

      // Someone outside project B cannot promote into it, nor see the snapshot.
      const stranger = (await newUser(t.url, owner, 'stranger')).client;
      expect((await stranger.post(`/api/snapshots/${snap.id}/apply`, { instanceId: prod.id })).status).toBe(404);
      const audit = (await owner.get(`/api/audit?projectId=${projectB}&action=snapshot.apply`)).body.items;
      expect(audit.some((e: any) => e.outcome === 'success' && e.targetId === snap.id)).toBe(true);
    } finally {
      await service.close();
    }
  });

  it('diffs a snapshot against the current flows and against another snapshot', { timeout: 120_000 }, async () => {
    const inst = await createRunning(t, owner, projectA, 'differ');
    const base = [
      { id: 'dt1', type: 'tab', label: 'Alpha' },
      { id: 'dn1', type: 'inject', z: 'dt1', name: 'a', repeat: '', payload: '1', payloadType: 'num', x: 100, y: 100, wires: [[]] },
      { id: 'dn2', type: 'debug', z: 'dt1', name: 'gone soon', x: 300, y: 100, wires: [] },
      { id: 'dcfg', type: 'http proxy', name: 'proxy', url: 'http://127.0.0.1:9', credentials: { username: 'u', password: 'p1' } },
    ];
    await deployFlows(t, 'differ', inst.magic, base);
    const s1 = (await owner.post(`/api/instances/${inst.id}/snapshots`, { name: 's1' })).body;
    const changed = [
      { id: 'dt1', type: 'tab', label: 'Beta' },
      { id: 'dn1', type: 'inject', z: 'dt1', name: 'a', repeat: '', payload: '2', payloadType: 'num', x: 140, y: 100, wires: [[]] },
      { id: 'dn3', type: 'debug', z: 'dt1', name: 'new one', x: 300, y: 200, wires: [] },
      { id: 'dcfg', type: 'http proxy', name: 'proxy', url: 'http://127.0.0.1:9', credentials: { username: 'u', password: 'p2' } },
    ];
    await deployFlows(t, 'differ', inst.magic, changed);
    const s2 = (await owner.post(`/api/instances/${inst.id}/snapshots`, { name: 's2' })).body;

    const d = (await owner.get(`/api/snapshots/${s1.id}/diff?against=current`)).body;
    expect(d.added.map((n: any) => n.id)).toEqual(['dn2']);
    expect(d.removed.map((n: any) => n.id)).toEqual(['dn3']);
    expect(d.renamed).toEqual([{ id: 'dt1', type: 'tab', from: 'Beta', to: 'Alpha' }]);
    const byId = Object.fromEntries(d.changed.map((c: any) => [c.id, c.properties]));
    expect(byId.dn1).toEqual(['payload', 'x']);
    expect(byId.dcfg).toEqual(['credentials.password']);
    expect(byId.dt1).toBeUndefined();
    expect(JSON.stringify(d)).not.toMatch(/p1|p2/);

    const between = (await owner.get(`/api/snapshots/${s2.id}/diff?against=${s1.id}`)).body;
    expect(between.added.map((n: any) => n.id)).toEqual(['dn3']);
    expect(between.removed.map((n: any) => n.id)).toEqual(['dn2']);
    expect(between.renamed).toEqual([{ id: 'dt1', type: 'tab', from: 'Alpha', to: 'Beta' }]);

    expect((await owner.delete(`/api/snapshots/${s2.id}`)).status).toBe(204);
    expect((await owner.get(`/api/snapshots/${s2.id}`)).status).toBe(404);
    expect((await owner.get(`/api/instances/${inst.id}/snapshots`)).body.items.map((s: any) => s.name)).toEqual(['s1']);
  });

  it('installs a missing palette module before the flows start, or fails with nothing changed', { timeout: 300_000 }, async (ctx) => {
    if (!(await registryReachable())) ctx.skip();
    const src = await createRunning(t, owner, projectA, 'modsrc');
    const install = await viaRouter(t, 'modsrc', '/nodes', { method: 'POST', headers: magicHeaders(src.magic), body: JSON.stringify({ module: 'node-red-node-random', version: '0.4.1' }) });
    expect(install.status).toBe(200);
    const flows = [
      { id: 'mt', type: 'tab', label: 'Random' },
      { id: 'min', type: 'http in', z: 'mt', url: '/roll', method: 'get', wires: [['mrand']] },
      { id: 'mrand', type: 'random', z: 'mt', name: '', low: '7', high: '7', inte: 'true', property: 'payload', wires: [['mstr']] },
      { id: 'mstr', type: 'function', z: 'mt', func: 'msg.payload = String(msg.payload); return msg;', outputs: 1, wires: [['mout']] },
      { id: 'mout', type: 'http response', z: 'mt', wires: [] },
    ];
    await deployFlows(t, 'modsrc', src.magic, flows);
    const snap = (await owner.post(`/api/instances/${src.id}/snapshots`, { name: 'with random' })).body;
    expect(snap.modules).toEqual({ 'node-red-node-random': '0.4.1' });

    const target = await createRunning(t, owner, projectB, 'modtarget');
    const applied = await owner.post(`/api/snapshots/${snap.id}/apply`, { instanceId: target.id });
    expect(applied.status).toBe(200);
    expect(applied.body).toMatchObject({ mode: 'restarted', installedModules: ['node-red-node-random'] });
    expect(applied.body.instance.state).toBe('running');
    const roll = await waitFor('random node on target', async () => {
      const r = await viaRouter(t, 'modtarget', '/api/roll');
      return r.status === 200 ? r : null;
    });
    expect(roll.body).toBe('7');

    // A module the registry does not have: the apply fails and the target keeps its flows and package.json.
    const bad = await createRunning(t, owner, projectB, 'modbad');
    const badDir = path.join(t.dataPath, 'instances', bad.id);
    const pkg = JSON.parse(fs.readFileSync(path.join(t.dataPath, 'instances', src.id, 'package.json'), 'utf8'));
    pkg.dependencies['node-red-contrib-openflow-missing-module-xyz'] = '1.0.0';
    fs.writeFileSync(path.join(t.dataPath, 'instances', src.id, 'package.json'), JSON.stringify(pkg));
    fs.mkdirSync(path.join(t.dataPath, 'instances', src.id, 'node_modules', 'node-red-contrib-openflow-missing-module-xyz'), { recursive: true });
    fs.writeFileSync(path.join(t.dataPath, 'instances', src.id, 'node_modules', 'node-red-contrib-openflow-missing-module-xyz', 'package.json'), JSON.stringify({ name: 'node-red-contrib-openflow-missing-module-xyz', version: '1.0.0' }));
    const broken = (await owner.post(`/api/instances/${src.id}/snapshots`, { name: 'broken' })).body;
    const flowsBefore = fs.readFileSync(path.join(badDir, 'flows.json'), 'utf8');
    const pkgBefore = fs.readFileSync(path.join(badDir, 'package.json'), 'utf8');
    const failed = await owner.post(`/api/snapshots/${broken.id}/apply`, { instanceId: bad.id });
    expect(failed.status).toBe(409);
    expect(failed.body.code).toBe('module_install_failed');
    expect(failed.body.message).toMatch(/nothing was changed/);
    expect(fs.readFileSync(path.join(badDir, 'flows.json'), 'utf8')).toBe(flowsBefore);
    expect(fs.readFileSync(path.join(badDir, 'package.json'), 'utf8')).toBe(pkgBefore);
    expect((await owner.get(`/api/instances/${bad.id}`)).body.state).toBe('running');
  });
});
