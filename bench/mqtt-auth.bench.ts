/**
 * /mqtt/auth throughput and latency (the EMQX HTTP-auth hot path), measured with wrk against the real
 * manager on the embedded database, in one run: a valid credential, a wrong password, and as a baseline
 * the manager's trivial /api/health route on the same server.
 * Run: npx tsx bench/mqtt-auth.bench.ts   (needs wrk: apt-get install wrk)
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestApp } from '../test/helpers/app.helper.js';
import { newUser } from '../test/helpers/http.helper.js';

const DURATION = process.env.BENCH_SECONDS ?? '8';

/** wrk runs as a child process; the server under test shares this process's event loop, so the wait must be async. */
async function wrk(url: string, body: string | null): Promise<{ rps: number; p50: number; p99: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wrk-'));
  const script = path.join(dir, 'post.lua');
  fs.writeFileSync(
    script,
    body === null
      ? 'done = function(summary, latency, requests) io.write(string.format("P50 %d\\nP99 %d\\n", latency:percentile(50), latency:percentile(99))) end\n'
      : `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/json"\ndone = function(summary, latency, requests) io.write(string.format("P50 %d\\nP99 %d\\n", latency:percentile(50), latency:percentile(99))) end\n`,
  );
  const { stdout: out } = await promisify(execFile)('wrk', ['-t1', '-c16', `-d${DURATION}s`, '-s', script, url], { encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true, force: true });
  if (process.env.BENCH_DEBUG) console.log(out);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const p50 = Number(/P50 (\d+)/.exec(out)?.[1] ?? 0) / 1000;
  const p99 = Number(/P99 (\d+)/.exec(out)?.[1] ?? 0) / 1000;
  return { rps, p50, p99 };
}

async function main(): Promise<void> {
  const t = await startTestApp({ env: { LOG_LEVEL: 'warn' } });
  try {
    const admin = await newUser(t.url, undefined, 'bench');
    const pid = (await admin.client.get('/api/projects')).body.items[0].id;
    const cred = (await admin.client.post(`/api/projects/${pid}/mqtt-clients`, { description: 'bench' })).body;
    // The per-peer failure limit would turn the wrong-password run into cheap early denials; it runs last and is reported as such.
    const rows = [
      { name: 'GET /api/health (baseline)', r: await wrk(`${t.url}/api/health`, null) },
      { name: 'POST /mqtt/auth allow', r: await wrk(`${t.url}/mqtt/auth`, JSON.stringify({ username: cred.username, password: cred.password, clientid: 'c', peerhost: '10.0.0.1' })) },
      { name: 'POST /mqtt/auth deny (rate-limited after 20)', r: await wrk(`${t.url}/mqtt/auth`, JSON.stringify({ username: cred.username, password: 'wrong', clientid: 'c', peerhost: '10.0.0.2' })) },
    ];
    console.log(`\n/mqtt/auth on ${t.testDb.url ? 'Postgres' : 'PGlite'}, wrk -t1 -c16 -d${DURATION}s, ${os.cpus().length} CPUs`);
    console.log('case'.padEnd(46), 'req/s'.padStart(9), 'p50 ms'.padStart(8), 'p99 ms'.padStart(8));
    for (const { name, r } of rows) console.log(name.padEnd(46), r.rps.toFixed(0).padStart(9), r.p50.toFixed(2).padStart(8), r.p99.toFixed(2).padStart(8));
    const allow = rows[1]!.r;
    console.log(`\nallow vs baseline: ${(allow.rps / rows[0]!.r.rps).toFixed(2)}x; goal >= 5000 req/s (${allow.rps >= 5000 ? 'met' : 'not met'}), p99 < 5 ms (${allow.p99 < 5 ? 'met' : 'not met'})`);
  } finally {
    await t.close();
  }
}

void main();
