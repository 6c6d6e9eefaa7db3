/**
 * Launch redemption overhead: time from GET /?access_token=<fresh token> (router → shim → manager
 * redeem → 302 with the cookie) against a plain editor GET / with the cookie, same instance, same run.
 * Run: npx tsx bench/launch.bench.ts
 */
import { startTestApp } from '../test/helpers/app.helper.js';
import { newUser } from '../test/helpers/http.helper.js';
import { createRunning, viaRouter } from '../test/helpers/instance.helper.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200);

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function main(): Promise<void> {
  const base = 20000 + Math.floor(Math.random() * 20000);
  const t = await startTestApp({ env: { LOG_LEVEL: 'warn', PORT_RANGE_START: String(base), PORT_RANGE_END: String(base + 5), PALETTE_CATALOGUES: 'none' } });
  try {
    const admin = await newUser(t.url, undefined, 'launchbench');
    const pid = (await admin.client.get('/api/projects')).body.items[0].id;
    const inst = await createRunning(t, admin.client, pid, 'launch-bench');
    const cookie = `openflow_token=${inst.magic}`;
    for (let i = 0; i < 20; i++) await viaRouter(t, 'launch-bench', '/', { headers: { cookie } });
    const plain: number[] = [];
    const redeem: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const url = new URL((await admin.client.post(`/api/instances/${inst.id}/launch`)).body.url);
      let start = performance.now();
      const r = await viaRouter(t, 'launch-bench', `${url.pathname}${url.search}`);
      redeem.push(performance.now() - start);
      if (r.status !== 302) throw new Error(`redeem answered ${r.status}`);
      start = performance.now();
      await viaRouter(t, 'launch-bench', '/', { headers: { cookie } });
      plain.push(performance.now() - start);
    }
    const row = (name: string, v: number[]) => console.log(name.padEnd(34), pct(v, 50).toFixed(2).padStart(8), pct(v, 99).toFixed(2).padStart(8));
    console.log(`\nLaunch redemption vs editor GET through the built-in router (${ROUNDS} rounds, ms)`);
    console.log('request'.padEnd(34), 'p50'.padStart(8), 'p99'.padStart(8));
    row('GET / with cookie (editor page)', plain);
    row('GET /?access_token (redeem + 302)', redeem);
    console.log(`\nredemption overhead at p50: ${(pct(redeem, 50) - pct(plain, 50)).toFixed(2)} ms (${(pct(redeem, 50) / pct(plain, 50)).toFixed(2)}x)`);
  } finally {
    await t.close();
  }
}

void main();
