import type { TestApp } from './app.helper.js';
import type { ApiClient } from './http.helper.js';
import { httpRequest } from '../nodered/nodered.harness.js';

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Test-only peek at an instance's sealed secrets, straight from the database. */
export async function secretsOf(t: TestApp, id: string) {
  const [row] = await t.testDb.db.query<any>('SELECT * FROM instances WHERE id = $1', [id]);
  return t.openflow.services.instances.openSecrets(row);
}

/** A request through the manager's router, addressed to an instance by its Host header. */
export function viaRouter(t: TestApp, label: string, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return httpRequest(t.port, { path, method: opts.method, body: opts.body, headers: { host: `${label}.localhost:${t.port}`, ...opts.headers } });
}

export async function createRunning(t: TestApp, client: ApiClient, projectId: string, subdomain: string, body: Record<string, unknown> = {}): Promise<{ id: string; magic: string }> {
  const created = await client.post(`/api/projects/${projectId}/instances`, { subdomain, ...body });
  if (created.status !== 201) throw new Error(`create ${subdomain}: ${created.status} ${created.text}`);
  const started = await client.post(`/api/instances/${created.body.id}/start?wait=true`);
  if (started.body.state !== 'running') throw new Error(`start ${subdomain}: ${started.text}`);
  return { id: created.body.id, magic: (await secretsOf(t, created.body.id)).magicToken };
}

export async function deployFlows(t: TestApp, label: string, magic: string, flows: unknown[]): Promise<void> {
  const res = await viaRouter(t, label, '/flows', { method: 'POST', headers: { authorization: `Bearer ${magic}`, 'content-type': 'application/json', 'node-red-deployment-type': 'full' }, body: JSON.stringify(flows) });
  if (res.status !== 204 && res.status !== 200) throw new Error(`deploy to ${label}: ${res.status} ${res.body}`);
}
