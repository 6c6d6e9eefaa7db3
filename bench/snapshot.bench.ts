/**
 * Snapshot capture and apply for a ~1 MB flows file (with credentials), through the manager's HTTP API against real
 * Node-RED instances: capture from a running instance, apply to a running one in another project (write + reload),
 * and apply to a stopped one (write only).
 * Run: npx tsx bench/snapshot.bench.ts
 */
import { performance } from 'node:perf_hooks';
import { startTestApp } from '../test/helpers/app.helper.js';
import { newUser } from '../test/helpers/http.helper.js';
import { createRunning, deployFlows } from '../test/helpers/instance.helper.js';

const ROUNDS = 5;

/** A mix of node kinds as real flows have them: templates with text, changes and switches, some functions. */
function bigFlows(targetBytes: number): unknown[] {
  const flows: Record<string, unknown>[] = [{ id: 'bench-tab', type: 'tab', label: 'Bench' }];
  const text = 'Lorem ipsum dolor sit amet, {{payload.name}} consectetur adipiscing elit. '.repeat(10);
  for (let i = 0; JSON.stringify(flows, null, 4).length < targetBytes; i += 1) {
    const common = { id: `n-${i}`, z: 'bench-tab', name: `step ${i}`, x: 100 + (i % 40) * 20, y: 100 + Math.floor(i / 40) * 20, wires: [[`n-${i + 1}`]] };
    const kind = i % 4;
    if (kind === 0) flows.push({ ...common, type: 'template', field: 'payload', fieldType: 'msg', format: 'handlebars', syntax: 'mustache', template: `${i}: ${text}`, output: 'str' });
    else if (kind === 1) flows.push({ ...common, type: 'change', rules: [{ t: 'set', p: 'topic', pt: 'msg', to: `topic/${i}`, tot: 'str' }] });
    else if (kind === 2) flows.push({ ...common, type: 'switch', property: 'payload', propertyType: 'msg', rules: [{ t: 'neq', v: String(i), vt: 'str' }], checkall: 'true', outputs: 1 });
    else if (i % 20 === 3) flows.push({ ...common, type: 'function', func: `msg.step = ${i};\nreturn msg;`, outputs: 1 });
    else flows.push({ ...common, type: 'delay', pauseType: 'delay', timeout: '1', timeoutUnits: 'milliseconds' });
    if (i % 50 === 0) flows.push({ id: `proxy-${i}`, type: 'http proxy', name: `proxy ${i}`, url: 'http://127.0.0.1:9', credentials: { username: `user${i}`, password: `secret-${i}` } });
  }
  return flows;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await fn();
  return [performance.now() - t0, v];
}

async function main(): Promise<void> {
  const base = 20000 + Math.floor(Math.random() * 20000);
  const t = await startTestApp({ env: { PORT_RANGE_START: String(base), PORT_RANGE_END: String(base + 10), PALETTE_CATALOGUES: 'none', LOG_LEVEL: 'warn' } });
  try {
    const owner = (await newUser(t.url, undefined, 'bench')).client;
    const projectA = (await owner.get('/api/projects')).body.items[0].id;
    const projectB = (await owner.post('/api/projects', { name: 'Target' })).body.id;
    const flows = bigFlows(1024 * 1024);
    const src = await createRunning(t, owner, projectA, 'bench-src');
    await deployFlows(t, 'bench-src', src.magic, flows);
    const running = await createRunning(t, owner, projectB, 'bench-running');
    const stopped = (await owner.post(`/api/projects/${projectB}/instances`, { subdomain: 'bench-stopped' })).body;

    const capture: number[] = [];
    const applyRunning: number[] = [];
    const applyStopped: number[] = [];
    let snapshotId = '';
    let nodeCount = 0;
    for (let r = 0; r < ROUNDS; r += 1) {
      const [ms, res] = await timed(() => owner.post(`/api/instances/${src.id}/snapshots`, { name: `bench ${r}` }));
      if (res.status !== 201) throw new Error(`capture: ${res.status} ${res.text}`);
      capture.push(ms);
      snapshotId = res.body.id;
      nodeCount = res.body.nodeCount;
    }
    for (let r = 0; r < ROUNDS; r += 1) {
      const [ms, res] = await timed(() => owner.post(`/api/snapshots/${snapshotId}/apply`, { instanceId: running.id }));
      if (res.status !== 200 || res.body.mode !== 'reloaded') throw new Error(`apply: ${res.status} ${res.text}`);
      applyRunning.push(ms);
      const [ms2, res2] = await timed(() => owner.post(`/api/snapshots/${snapshotId}/apply`, { instanceId: stopped.id }));
      if (res2.status !== 200 || res2.body.mode !== 'written') throw new Error(`apply stopped: ${res2.status} ${res2.text}`);
      applyStopped.push(ms2);
    }
    const kib = (JSON.stringify(flows, null, 4).length / 1024).toFixed(0);
    console.log(`flows file ${kib} KiB, ${nodeCount} nodes, ${flows.filter((n: any) => n.credentials).length} nodes with credentials; median of ${ROUNDS}`);
    console.log(`capture (read + decrypt + seal + store)         ${median(capture).toFixed(0)} ms`);
    console.log(`apply to a running instance (write + reload)    ${median(applyRunning).toFixed(0)} ms`);
    console.log(`apply to a stopped instance (write only)        ${median(applyStopped).toFixed(0)} ms`);
  } finally {
    await t.close();
  }
}

await main();
