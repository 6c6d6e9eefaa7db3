import { describe, expect, it } from 'vitest';
import type { Instance } from '../../web/src/api/types.js';
import { initialInstances, instancesReducer, type InstancesAction, type InstancesState } from '../../web/src/lib/instances.reducer.js';

const P = 'project-1';
function inst(id: string, patch: Partial<Instance> = {}): Instance {
  return {
    id,
    projectId: P,
    subdomain: id,
    url: `http://${id}.localhost:4071`,
    state: 'stopped',
    errorMessage: null,
    template: 'blank',
    memoryMb: 256,
    cpu: 1,
    env: {},
    aliases: [],
    mqtt: { url: 'mqtt://127.0.0.1:1883', username: `nr-${id}` },
    restartCount: 0,
    startedAt: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...patch,
  };
}
const run = (...actions: InstancesAction[]) => actions.reduce<InstancesState>(instancesReducer, initialInstances);

describe('instance list state driven by pushed events', () => {
  it('takes the snapshot for the chosen project, sorted by subdomain', () => {
    const s = run({ type: 'reset', projectId: P }, { type: 'snapshot', items: [inst('beta'), inst('alpha'), inst('other', { projectId: 'p2' })] });
    expect(s.loaded).toBe(true);
    expect(s.items.map((i) => i.subdomain)).toEqual(['alpha', 'beta']);
  });

  it('applies state changes in place and inserts new instances in order', () => {
    const s = run(
      { type: 'reset', projectId: P },
      { type: 'snapshot', items: [inst('alpha'), inst('gamma')] },
      { type: 'upsert', instance: inst('alpha', { state: 'starting', updatedAt: '2026-01-01T00:00:01.000Z' }) },
      { type: 'upsert', instance: inst('beta') },
    );
    expect(s.items.map((i) => [i.subdomain, i.state])).toEqual([
      ['alpha', 'starting'],
      ['beta', 'stopped'],
      ['gamma', 'stopped'],
    ]);
  });

  it('never lets an older copy replace a newer one (a late 202 after the stream said running)', () => {
    const running = inst('alpha', { state: 'running', updatedAt: '2026-01-01T00:00:05.000Z' });
    const lateStarting = inst('alpha', { state: 'starting', updatedAt: '2026-01-01T00:00:02.000Z' });
    const s = run({ type: 'reset', projectId: P }, { type: 'snapshot', items: [] }, { type: 'upsert', instance: running }, { type: 'upsert', instance: lateStarting });
    expect(s.items[0]?.state).toBe('running');
  });

  it('keeps a newer local copy when a reconnect snapshot carries an older one', () => {
    const s = run(
      { type: 'reset', projectId: P },
      { type: 'snapshot', items: [inst('alpha')] },
      { type: 'upsert', instance: inst('alpha', { state: 'running', updatedAt: '2026-01-01T00:00:09.000Z' }) },
      { type: 'snapshot', items: [inst('alpha', { state: 'starting', updatedAt: '2026-01-01T00:00:03.000Z' }), inst('delta')] },
    );
    expect(s.items.map((i) => [i.subdomain, i.state])).toEqual([
      ['alpha', 'running'],
      ['delta', 'stopped'],
    ]);
  });

  it('drops instances a reconnect snapshot no longer lists, and removed ones', () => {
    const s = run({ type: 'reset', projectId: P }, { type: 'snapshot', items: [inst('a'), inst('b'), inst('c')] }, { type: 'snapshot', items: [inst('a'), inst('c')] }, { type: 'remove', id: 'c' });
    expect(s.items.map((i) => i.id)).toEqual(['a']);
  });

  it('ignores instances of another project (a reply that arrives after switching projects)', () => {
    const before = run({ type: 'reset', projectId: P }, { type: 'snapshot', items: [inst('a')] });
    expect(instancesReducer(before, { type: 'upsert', instance: inst('x', { projectId: 'p2' }) })).toBe(before);
  });

  it('tracks the connection and forgets everything on a project switch', () => {
    let s = run({ type: 'reset', projectId: P }, { type: 'snapshot', items: [inst('a')] }, { type: 'connection', live: true });
    expect(s.live).toBe(true);
    expect(instancesReducer(s, { type: 'connection', live: true })).toBe(s);
    s = instancesReducer(s, { type: 'reset', projectId: 'p2' });
    expect(s).toEqual({ projectId: 'p2', items: [], loaded: false, live: false });
  });
});
