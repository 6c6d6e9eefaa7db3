import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackupRepository } from '../../src/backups/backup.repository.js';
import { BackupScheduler } from '../../src/backups/backup.scheduler.js';
import type { Clock } from '../../src/platform/clock.js';
import { startTestApp, type TestApp } from '../helpers/app.helper.js';
import { newUser, type ApiClient } from '../helpers/http.helper.js';
import { createRunning, deployFlows, viaRouter, waitFor } from '../helpers/instance.helper.js';
import { EXPECTED_REASON, maliciousFixtures, writeTarGz } from './archive-fixtures.js';
import { treeHash } from './tree-hash.js';

const MiB = 1024 * 1024;
// npm's cache and Node-RED's temporaries are not part of a backup; the settings file is rewritten on every start.
const notBackedUp = (rel: string) => rel === '.npm' || rel.startsWith('.npm/') || rel.endsWith('.$$$');

function portRange() {
  const base = 20000 + Math.floor(Math.random() * 20000);
  return { PORT_RANGE_START: String(base), PORT_RANGE_END: String(base + 20), PALETTE_CATALOGUES: 'none' };
}

function sha256File(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

async function pidOf(client: ApiClient, id: string): Promise<number> {
  return (await client.get(`/api/instances/${id}/status`)).body.pid;
}

describe('backups of real Node-RED instances', () => {
  let t: TestApp;
  let owner: ApiClient;
  let projectId: string;
  let inst: { id: string; magic: string };
  let userDir: string;
  let backupId: string;
  let originalHash: string;
  let originalFlows: string;

  const flows = [
    { id: 'bt', type: 'tab', label: 'Backed up' },
    { id: 'bin', type: 'http in', z: 'bt', url: '/state', method: 'get', wires: [['bfn']] },
    { id: 'bfn', type: 'function', z: 'bt', func: "msg.payload = 'original'; return msg;", outputs: 1, wires: [['bout']] },
    { id: 'bout', type: 'http response', z: 'bt', wires: [] },
    { id: 'bproxy', type: 'http proxy', name: 'p', url: 'http://127.0.0.1:9', credentials: { username: 'u', password: 'secret-one' } },
  ];

  beforeAll(async () => {
    t = await startTestApp({ env: portRange() });
    owner = (await newUser(t.url, undefined, 'backup')).client;
    projectId = (await owner.get('/api/projects')).body.items[0].id;
    inst = await createRunning(t, owner, projectId, 'bk');
    userDir = path.join(t.dataPath, 'instances', inst.id);
    await deployFlows(t, 'bk', inst.magic, flows);
    fs.mkdirSync(path.join(userDir, 'lib', 'flows'), { recursive: true });
    fs.writeFileSync(path.join(userDir, 'lib', 'flows', 'saved.json'), '[{"id":"x"}]');
    fs.mkdirSync(path.join(userDir, 'data'), { recursive: true });
    fs.writeFileSync(path.join(userDir, 'data', 'blob.bin'), crypto.randomBytes(3 * MiB));
    fs.symlinkSync('blob.bin', path.join(userDir, 'data', 'latest.bin'));
    fs.mkdirSync(path.join(userDir, '.npm', '_cacache'), { recursive: true });
    fs.writeFileSync(path.join(userDir, '.npm', '_cacache', 'junk'), 'cache');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('backs up a running instance: streamed file with recorded size and sha256, progress at 100 %', { timeout: 120_000 }, async () => {
    const res = await owner.post(`/api/instances/${inst.id}/backups?wait=true`);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ instanceId: inst.id, projectId, kind: 'manual', status: 'complete', progress: { percent: 100 }, restore: null });
    backupId = res.body.id;
    const file = path.join(t.dataPath, 'backups', inst.id, `${backupId}.tar.gz`);
    expect(res.body.sizeBytes).toBe(fs.statSync(file).size);
    expect(res.body.sha256).toBe(sha256File(file));
    originalHash = await treeHash(userDir, notBackedUp);
    originalFlows = fs.readFileSync(path.join(userDir, 'flows.json'), 'utf8');

    expect((await fetch(`${t.url}/api/backups/${backupId}/download`)).status).toBe(401);
    const token = (await owner.post('/api/tokens', { name: 'download' })).body.token;
    const got = await fetch(`${t.url}/api/backups/${backupId}/download`, { headers: { authorization: `Bearer ${token}` } });
    expect(got.headers.get('content-type')).toBe('application/gzip');
    expect(got.headers.get('content-disposition')).toMatch(/^attachment; filename="bk-\d{8}T\d{6}Z\.tar\.gz"$/);
    expect(crypto.createHash('sha256').update(Buffer.from(await got.arrayBuffer())).digest('hex')).toBe(res.body.sha256);

    const list = (await owner.get(`/api/instances/${inst.id}/backups`)).body.items;
    expect(list.map((b: any) => b.id)).toEqual([backupId]);
    const stranger = (await newUser(t.url, owner, 'outsider')).client;
    expect((await stranger.get(`/api/backups/${backupId}`)).status).toBe(404);
    expect((await stranger.post(`/api/backups/${backupId}/restore?wait=true`)).status).toBe(404);
  });

  it('backup → delete and change files → restore → the tree hashes equal the original', { timeout: 180_000 }, async () => {
    fs.rmSync(path.join(userDir, 'data', 'blob.bin'));
    fs.writeFileSync(path.join(userDir, 'lib', 'flows', 'saved.json'), '[{"id":"changed"}]');
    fs.writeFileSync(path.join(userDir, 'stray.txt'), 'new');
    await deployFlows(t, 'bk', inst.magic, [{ id: 'other', type: 'tab', label: 'Changed' }]);
    expect(await treeHash(userDir, notBackedUp)).not.toBe(originalHash);

    const res = await owner.post(`/api/backups/${backupId}/restore?wait=true`);
    expect(res.status).toBe(200);
    expect(res.body.restore).toMatchObject({ status: 'complete', percent: 100, error: null });
    expect((await owner.get(`/api/instances/${inst.id}`)).body.state).toBe('running');
    expect(await treeHash(userDir, notBackedUp)).toBe(originalHash);
    expect(fs.readFileSync(path.join(userDir, 'flows.json'), 'utf8')).toBe(originalFlows);
    await waitFor('restored flow answers', async () => (await viaRouter(t, 'bk', '/api/state')).body === 'original');
    expect(fs.readdirSync(path.dirname(userDir)).filter((n) => n.startsWith('.restore-'))).toEqual([]);
    const audit = (await owner.get(`/api/audit?projectId=${projectId}&action=backup.restore`)).body.items;
    expect(audit[0]).toMatchObject({ outcome: 'success', targetId: backupId });
  });

  it('a corrupted archive is refused before the instance is touched: it keeps running with its data', { timeout: 120_000 }, async () => {
    const b = (await owner.post(`/api/instances/${inst.id}/backups?wait=true`)).body;
    const file = path.join(t.dataPath, 'backups', inst.id, `${b.id}.tar.gz`);
    const pristine = fs.readFileSync(file);
    const pid = await pidOf(owner, inst.id);
    const before = await treeHash(userDir, notBackedUp);

    const flipped = Buffer.from(pristine);
    for (let i = Math.floor(flipped.length / 2); i < Math.floor(flipped.length / 2) + 64; i += 1) flipped[i] = flipped[i]! ^ 0xff;
    fs.writeFileSync(file, flipped);
    const bad = await owner.post(`/api/backups/${b.id}/restore?wait=true`);
    expect(bad.status).toBe(409);
    expect(['checksum_mismatch', 'archive_corrupt']).toContain(bad.body.code);

    fs.writeFileSync(file, pristine.subarray(0, pristine.length - 100));
    const short = await owner.post(`/api/backups/${b.id}/restore?wait=true`);
    expect([short.status, short.body.code]).toEqual([409, 'checksum_mismatch']);

    expect(await pidOf(owner, inst.id)).toBe(pid);
    expect((await owner.get(`/api/instances/${inst.id}`)).body.state).toBe('running');
    expect(await treeHash(userDir, notBackedUp)).toBe(before);
    expect((await viaRouter(t, 'bk', '/api/state')).body).toBe('original');
    const shown = (await owner.get(`/api/backups/${b.id}`)).body;
    expect(shown.restore).toMatchObject({ status: 'failed' });
    expect(shown.restore.error).toMatch(/size|sha256/);

    fs.writeFileSync(file, pristine);
    expect((await owner.delete(`/api/backups/${b.id}`)).status).toBe(204);
    expect(fs.existsSync(file)).toBe(false);
    expect((await owner.get(`/api/backups/${b.id}`)).status).toBe(404);
  });

  it('malicious archives (traversal, absolute, symlink escape, device, gzip bomb) are refused with nothing written outside staging', { timeout: 240_000 }, async () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'openflow-outside-'));
    try {
      const b = (await owner.post(`/api/instances/${inst.id}/backups?wait=true`)).body;
      const file = path.join(t.dataPath, 'backups', inst.id, `${b.id}.tar.gz`);
      const pid = await pidOf(owner, inst.id);
      const before = await treeHash(userDir, notBackedUp);
      const dataBefore = fs.readdirSync(t.dataPath).sort();
      const cases = { ...maliciousFixtures(outside), bomb: [{ header: { name: 'zeros.bin', type: 'file' as const }, body: 200 * MiB }] };
      for (const [name, entries] of Object.entries(cases)) {
        await writeTarGz(file, entries);
        // Pose as a genuine backup: the recorded size and checksum match the planted file.
        await t.testDb.db.query('UPDATE backups SET size_bytes = $2, sha256 = $3 WHERE id = $1', [b.id, fs.statSync(file).size, sha256File(file)]);
        const res = await owner.post(`/api/backups/${b.id}/restore?wait=true`);
        expect([name, res.status, res.body.code]).toEqual([name, 422, 'archive_refused']);
        expect([name, res.body.reason]).toEqual([name, name === 'bomb' ? 'too_large' : EXPECTED_REASON[name]]);
        expect(fs.readdirSync(outside)).toEqual([]);
        expect(fs.readdirSync(t.dataPath).sort()).toEqual(dataBefore);
        expect(fs.readdirSync(path.dirname(userDir)).filter((n) => n.startsWith('.restore-'))).toEqual([]);
      }
      expect(await treeHash(userDir, notBackedUp)).toBe(before);
      expect(await pidOf(owner, inst.id)).toBe(pid);
      expect((await viaRouter(t, 'bk', '/api/state')).body).toBe('original');
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('reports progress while a larger backup runs, then completes', { timeout: 120_000 }, async () => {
    fs.writeFileSync(path.join(userDir, 'data', 'large.bin'), crypto.randomBytes(40 * MiB));
    const started = await owner.post(`/api/instances/${inst.id}/backups`);
    expect(started.status).toBe(202);
    expect(started.body.status).toBe('running');
    const seen: number[] = [];
    const done = await waitFor('backup complete', async () => {
      const b = (await owner.get(`/api/backups/${started.body.id}`)).body;
      seen.push(b.progress.bytes);
      return b.status !== 'running' ? b : null;
    });
    expect(done.status).toBe('complete');
    expect(done.progress.percent).toBe(100);
    expect(done.progress.totalBytes).toBeGreaterThan(40 * MiB);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    fs.rmSync(path.join(userDir, 'data', 'large.bin'));
  });
});

describe('backup schedules with an injected clock', () => {
  let t: TestApp;
  let owner: ApiClient;
  let offsetMs = 0;
  const clock: Clock = { now: () => new Date(Date.now() + offsetMs) };
  /** Moves the clock to the next given UTC hour:minute, plus some seconds. */
  const jumpTo = (hour: number, minute: number, dayOffset = 0) => {
    const now = clock.now();
    const target = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + dayOffset, hour, minute, 20));
    if (target <= now) target.setUTCDate(target.getUTCDate() + 1);
    offsetMs += target.getTime() - now.getTime();
  };

  beforeAll(async () => {
    t = await startTestApp({ env: portRange(), deps: { clock } });
    owner = (await newUser(t.url, undefined, 'sched')).client;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('fires when due, once across replicas, and retention prunes the oldest scheduled backups', { timeout: 180_000 }, async () => {
    const projectId = (await owner.get('/api/projects')).body.items[0].id;
    const id = (await owner.post(`/api/projects/${projectId}/instances`, { subdomain: 'nightly' })).body.id;
    const dir = path.join(t.dataPath, 'instances', id);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'flows.json'), '[]');

    const initial = (await owner.get(`/api/instances/${id}/backup-schedule`)).body;
    expect(initial).toMatchObject({ cron: '0 3 * * *', timezone: 'UTC', enabled: true, retention: 7 });
    expect((await owner.request('PUT', `/api/instances/${id}/backup-schedule`, { body: { cron: 'not a cron' } })).body.code).toBe('invalid_cron');
    expect((await owner.request('PUT', `/api/instances/${id}/backup-schedule`, { body: { cron: '* * * * *' } })).body.code).toBe('invalid_cron');
    const set = await owner.request('PUT', `/api/instances/${id}/backup-schedule`, { body: { cron: '30 2 * * *', retention: 2 } });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ cron: '30 2 * * *', retention: 2, enabled: true });
    const manual = (await owner.post(`/api/instances/${id}/backups?wait=true`)).body;

    const scheduler = t.openflow.services.backupScheduler;
    const scheduled = async () => (await owner.get(`/api/instances/${id}/backups`)).body.items.filter((b: any) => b.kind === 'scheduled');
    expect(await scheduler.tick()).toBe(0);

    jumpTo(2, 30);
    // A second replica: its own scheduler over the same database and data.
    const replica = new BackupScheduler(t.testDb.db, new BackupRepository(t.testDb.db), t.openflow.services.backups, clock, { intervalMs: 3_600_000 }, t.openflow.log);
    const [a, b] = await Promise.all([scheduler.tick(), replica.tick()]);
    expect(a + b).toBe(1);
    expect(await scheduler.tick()).toBe(0);
    const first = await scheduled();
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ status: 'complete', kind: 'scheduled' });

    jumpTo(2, 30);
    expect(await scheduler.tick()).toBe(1);
    jumpTo(2, 30);
    expect(await scheduler.tick()).toBe(1);
    const kept = await scheduled();
    expect(kept).toHaveLength(2);
    expect(kept.map((x: any) => x.id)).not.toContain(first[0].id);
    expect(fs.existsSync(path.join(t.dataPath, 'backups', id, `${first[0].id}.tar.gz`))).toBe(false);
    expect((await owner.get(`/api/backups/${manual.id}`)).status).toBe(200);

    // Missed nights are caught up by one backup, not one per night.
    jumpTo(2, 30, 3);
    expect(await scheduler.tick()).toBe(1);

    const off = await owner.request('PUT', `/api/instances/${id}/backup-schedule`, { body: { enabled: false } });
    expect(off.body).toMatchObject({ enabled: false, nextRunAt: null });
    jumpTo(2, 30);
    expect(await scheduler.tick()).toBe(0);

    const audit = (await owner.get(`/api/audit?projectId=${projectId}`)).body.items;
    expect(audit.some((e: any) => e.action === 'backup.create' && e.details.kind === 'scheduled' && e.actor === null)).toBe(true);
    expect(audit.some((e: any) => e.action === 'backup.create' && e.details.kind === 'scheduled' && e.outcome === 'failure')).toBe(false);
    expect(audit.some((e: any) => e.action === 'backup.delete' && e.details.reason === 'retention')).toBe(true);
    expect(audit.some((e: any) => e.action === 'backup.schedule' && e.outcome === 'success')).toBe(true);
  });

  it('after a crash between the two renames of a restore, the moved-aside directory is put back', async () => {
    const projectId = (await owner.get('/api/projects')).body.items[0].id;
    const id = (await owner.post(`/api/projects/${projectId}/instances`, { subdomain: 'interrupted' })).body.id;
    const live = path.join(t.dataPath, 'instances', id);
    fs.mkdirSync(live, { recursive: true });
    fs.writeFileSync(path.join(live, 'flows.json'), '[{"id":"kept"}]');
    const aside = path.join(t.dataPath, 'instances', `.restore-old-${id}-0a1b2c3d`);
    fs.renameSync(live, aside);
    const staleStaging = path.join(t.dataPath, 'instances', `.restore-${id}-XXXXXX`);
    fs.mkdirSync(staleStaging);
    const old = new Date(Date.now() - 7 * 3600_000);
    fs.utimesSync(staleStaging, old, old);
    await t.openflow.services.backups.recoverInterrupted();
    expect(fs.readFileSync(path.join(live, 'flows.json'), 'utf8')).toBe('[{"id":"kept"}]');
    expect(fs.existsSync(aside)).toBe(false);
    expect(fs.existsSync(staleStaging)).toBe(false);
  });
});
