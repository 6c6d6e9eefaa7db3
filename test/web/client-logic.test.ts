import { describe, expect, it } from 'vitest';
import type { Project } from '../../web/src/api/types.js';
import { aliasUrl } from '../../web/src/lib/alias-url.js';
import { auditQuery, emptyAuditFilter, actionChoices } from '../../web/src/lib/audit-filter.js';
import { percentOf } from '../../web/src/lib/backup-progress.js';
import { envFromRows, rowsFromEnv } from '../../web/src/lib/env-rows.js';
import { formatBytes, formatDuration, plural } from '../../web/src/lib/format.js';
import { limitProblem } from '../../web/src/lib/limits.js';
import { createLogsReducer, initialLogs } from '../../web/src/lib/logs.reducer.js';
import { defaultProject, groupProjects } from '../../web/src/lib/project-order.js';
import { mergeRestorePoints } from '../../web/src/lib/restore-points.js';
import { parseRoute, routePath, type Route } from '../../web/src/lib/route.parser.js';
import { parseTemplateForm } from '../../web/src/lib/template-form.js';
import { MAX_TOASTS, toastLifetimeMs, toastsReducer, type Toast } from '../../web/src/lib/toasts.reducer.js';

describe('routes', () => {
  const id = '0b7c6f1e-1111-4222-8333-944445555666';
  const iid = '5d1c2b3a-aaaa-4bbb-8ccc-ddddeeeeffff';
  it('round-trips every screen through its path', () => {
    const routes: Route[] = [
      { name: 'login' },
      { name: 'register' },
      { name: 'home' },
      { name: 'account' },
      { name: 'project', projectId: id },
      { name: 'members', projectId: id },
      { name: 'audit', projectId: id },
      { name: 'instance', projectId: id, instanceId: iid, tab: 'overview' },
      { name: 'instance', projectId: id, instanceId: iid, tab: 'backups' },
      { name: 'admin', section: 'users' },
      { name: 'admin', section: 'templates' },
    ];
    for (const r of routes) expect(parseRoute(routePath(r))).toEqual(r);
  });
  it('tolerates a trailing slash and reports unknown paths', () => {
    expect(parseRoute(`/projects/${id}/`)).toEqual({ name: 'project', projectId: id });
    expect(parseRoute(`/projects/${id}/instances/${iid}/nope`).name).toBe('not-found');
    expect(parseRoute('/what')).toEqual({ name: 'not-found', path: '/what' });
  });
});

describe('log tail', () => {
  const line = (n: number) => ({ ts: n, stream: 'stdout' as const, line: `line ${n}` });
  it('appends in batches, keeps the newest lines and counts what it dropped', () => {
    const reduce = createLogsReducer(3);
    let s = reduce(initialLogs, { type: 'append', lines: [line(1), line(2)] });
    s = reduce(s, { type: 'append', lines: [line(3), line(4), line(5)] });
    expect(s.lines.map((l) => l.ts)).toEqual([3, 4, 5]);
    expect(s.dropped).toBe(2);
    expect(reduce(s, { type: 'append', lines: [] })).toBe(s);
    expect(reduce(s, { type: 'reset' })).toEqual(initialLogs);
  });
});

describe('toasts', () => {
  const t = (id: number, title = `t${id}`): Toast => ({ id, kind: 'info', title });
  it('keeps the newest few and shows a repeated message once', () => {
    let s: Toast[] = [];
    for (let i = 1; i <= MAX_TOASTS + 2; i++) s = toastsReducer(s, { type: 'add', toast: t(i) });
    expect(s.map((x) => x.id)).toEqual([3, 4, 5, 6]);
    s = toastsReducer(s, { type: 'add', toast: t(7, 't4') });
    expect(s.map((x) => x.id)).toEqual([3, 5, 6, 7]);
    expect(toastsReducer(s, { type: 'dismiss', id: 5 }).map((x) => x.id)).toEqual([3, 6, 7]);
  });
  it('lets toasts with a button wait for the person', () => {
    expect(toastLifetimeMs({ kind: 'warning', title: 'x', action: { label: 'Restart now', run: () => {} } })).toBeNull();
    expect(toastLifetimeMs({ kind: 'error', title: 'x' })).toBeGreaterThan(toastLifetimeMs({ kind: 'success', title: 'x' })!);
  });
});

describe('forms', () => {
  it('checks limits against the template bounds', () => {
    const b = { min: 128, max: 4096 };
    expect(limitProblem('256', b, 'Memory', true)).toBeNull();
    expect(limitProblem('', b, 'Memory', true)).toBe('Memory is required');
    expect(limitProblem('64', b, 'Memory', true)).toBe('Memory must be between 128 and 4096');
    expect(limitProblem('256.5', b, 'Memory', true)).toBe('Memory must be a whole number');
    expect(limitProblem('abc', { min: 0.1, max: 4 }, 'CPU', false)).toBe('CPU must be a number');
    expect(limitProblem('0.5', { min: 0.1, max: 4 }, 'CPU', false)).toBeNull();
  });
  it('turns env rows into a record, skipping blank rows and catching duplicates', () => {
    expect(envFromRows([{ key: ' A ', value: '1' }, { key: '', value: '' }, { key: 'B', value: '' }])).toEqual({ env: { A: '1', B: '' }, problem: null });
    expect(envFromRows([{ key: 'A', value: '1' }, { key: 'A', value: '2' }]).problem).toBe('A is set twice');
    expect(envFromRows([{ key: '', value: 'x' }]).problem).toBe('Row 1 has a value but no name');
    expect(rowsFromEnv({ B: '2', A: '1' })).toEqual([{ key: 'A', value: '1' }, { key: 'B', value: '2' }]);
  });
  it('parses the new-template form', () => {
    const form = { id: 'kit', name: 'Kit', description: '', memoryMin: '128', memoryMax: '512', memoryDefault: '256', cpuMin: '0.1', cpuMax: '2', cpuDefault: '1', flows: '[{"id":"n1","type":"tab"}]', settings: '{}' };
    const ok = parseTemplateForm(form, { X: '1' });
    expect(ok).toEqual({ ok: true, template: { id: 'kit', name: 'Kit', description: '', flows: [{ id: 'n1', type: 'tab' }], settings: {}, env: { X: '1' }, memory: { min: 128, max: 512, default: 256 }, cpu: { min: 0.1, max: 2, default: 1 } } });
    expect(parseTemplateForm({ ...form, id: 'Bad Id' }, {})).toMatchObject({ ok: false });
    expect(parseTemplateForm({ ...form, memoryDefault: '1024' }, {})).toEqual({ ok: false, problem: 'Memory: the default must lie between the minimum and the maximum' });
    expect(parseTemplateForm({ ...form, flows: '{' }, {})).toEqual({ ok: false, problem: 'Flows is not valid JSON' });
    expect(parseTemplateForm({ ...form, flows: '[1]' }, {})).toEqual({ ok: false, problem: 'Flows must be a JSON array of node objects' });
  });
});

describe('projects', () => {
  const p = (id: string, name: string, personal: boolean, role: Project['role']): Project => ({ id, name, personal, role, memberCount: 1, instanceCount: 0, createdAt: '2026-01-01T00:00:00Z' });
  const all = [p('3', 'zeta', false, 'member'), p('9', 'Someone personal', true, null), p('1', 'Alpha', false, 'owner'), p('2', 'Me', true, 'owner'), p('4', 'other personal', true, 'member')];
  it('puts the personal project first, then shared ones by name, then projects seen only as admin', () => {
    const { mine, others } = groupProjects(all);
    expect(mine.map((x) => x.id)).toEqual(['2', '1', '4', '3']);
    expect(others.map((x) => x.id)).toEqual(['9']);
  });
  it('opens the last used project if still visible, else the personal one', () => {
    expect(defaultProject(all, '3')?.id).toBe('3');
    expect(defaultProject(all, 'gone')?.id).toBe('2');
    expect(defaultProject([], null)).toBeNull();
  });
});

describe('backups tab', () => {
  it('merges snapshots and backups into one timeline, newest first', () => {
    const points = mergeRestorePoints(
      [
        { id: 's1', createdAt: '2026-01-01T10:00:00Z' },
        { id: 's2', createdAt: '2026-01-03T10:00:00Z' },
      ],
      [{ id: 'b1', createdAt: '2026-01-02T10:00:00Z' }],
    );
    expect(points.map((x) => `${x.kind}:${x.id}`)).toEqual(['snapshot:s2', 'backup:b1', 'snapshot:s1']);
  });
  it('computes progress from the percent or from bytes, and says when it cannot', () => {
    expect(percentOf({ bytes: 5, totalBytes: 10, percent: 42 })).toBe(42);
    expect(percentOf({ bytes: 5, totalBytes: 10, percent: null })).toBe(50);
    expect(percentOf({ bytes: 5, totalBytes: null, percent: null })).toBeNull();
  });
});

describe('small helpers', () => {
  it('derives an alias address from the instance URL', () => {
    expect(aliasUrl('http://alpha.localhost:4071', 'beta')).toBe('http://beta.localhost:4071');
    expect(aliasUrl('https://alpha.flows.example.com', 'beta')).toBe('https://beta.flows.example.com');
  });
  it('formats bytes and durations', () => {
    expect(formatBytes(null)).toBe('—');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(85 * 1024 * 1024)).toBe('85.0 MiB');
    expect(formatDuration(65_000)).toBe('1 min 5 s');
    expect(formatDuration(3 * 86_400_000 + 3_600_000)).toBe('3 d 1 h');
    expect([plural(1, 'node'), plural(2, 'node'), plural(0, 'entry', 'entries')]).toEqual(['1 node', '2 nodes', '0 entries']);
  });
  it('builds audit queries: areas as wildcards, whole days for "to"', () => {
    const { areas, actions } = actionChoices();
    expect(areas).toContain('instance.*');
    expect(actions).toContain('instance.alias.add');
    expect(auditQuery(emptyAuditFilter, 'p1')).toEqual({ limit: 50, projectId: 'p1' });
    const q = auditQuery({ action: 'instance.*', actorId: 'u1', since: '2026-06-10', until: '2026-06-10' }, null, '42');
    expect(q).toMatchObject({ action: 'instance.*', actorId: 'u1', cursor: '42' });
    expect(Date.parse(q.until!) - Date.parse(q.since!)).toBe(86_400_000);
    expect(q.projectId).toBeUndefined();
  });
});
