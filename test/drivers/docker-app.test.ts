import { readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCOPE, LABEL_INSTANCE, LABEL_SCOPE } from '../../src/drivers/docker.driver.js';
import { startTestApp, type TestApp } from '../helpers/app.helper.js';
import { ApiClient, newUser } from '../helpers/http.helper.js';
import { createRunning, deployFlows, viaRouter, waitFor } from '../helpers/instance.helper.js';
import { cleanEngine, dockerSocket, httpGetScript, NODE_RED_TEST_IMAGE, requireImage, runInNetwork, SKIP_MESSAGE, uniqueName } from './docker-driver.harness.js';
import { helloFlow } from './process-driver.harness.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const socket = dockerSocket();
if (!socket) console.warn(`docker-app.test.ts skipped: ${SKIP_MESSAGE}`);

describe.skipIf(!socket)('Openflow with DRIVER=docker', () => {
  const docker = new Docker({ socketPath: socket ?? '' });
  const network = uniqueName('openflow-app-net');
  /** Apps still open; the first one's database and data dir are dropped last. */
  const open = new Set<TestApp>();
  let shared: TestApp | null = null;

  beforeAll(async () => {
    await requireImage(docker, NODE_RED_TEST_IMAGE);
  });

  afterAll(async () => {
    for (const app of open) await app.close({ keepData: true }).catch(() => undefined);
    await cleanEngine(docker, DEFAULT_SCOPE, network);
    if (shared) {
      await shared.testDb.drop();
      rmSync(shared.dataPath, { recursive: true, force: true });
    }
  });

  const containersOf = (instanceId: string) => docker.listContainers({ all: true, filters: { label: [`${LABEL_SCOPE}=${DEFAULT_SCOPE}`, `${LABEL_INSTANCE}=${instanceId}`] } });

  it('runs instances as containers through the API, pins aliases until a restart and adopts them after a manager restart', { timeout: 300_000 }, async () => {
    // Fixed ports: the callback and broker URLs are part of what the containers were created with.
    const env = {
      PORT: String(await freePort()),
      MQTT_PORT: String(await freePort()),
      DRIVER: 'docker',
      DOCKER_SOCKET: socket ?? '',
      DOCKER_NETWORK: network,
      NODE_RED_IMAGE: NODE_RED_TEST_IMAGE,
      INSTANCES_ON_SHUTDOWN: 'leave',
      PALETTE_CATALOGUES: 'none',
    };
    const t = await startTestApp({ env });
    shared = t;
    open.add(t);
    const owner = await newUser(t.url);
    const projectId = (await owner.client.get('/api/projects')).body.items[0].id as string;
    const subdomain = uniqueName('app');
    const { id, magic } = await createRunning(t, owner.client, projectId, subdomain);

    const [container, ...duplicates] = await containersOf(id);
    expect(duplicates).toEqual([]);
    expect(container?.Names).toEqual([`/nodered-${subdomain}`]);
    const inspected = await docker.getContainer(container?.Id ?? '').inspect();
    expect(inspected.Config.Env).toContain(`OPENFLOW_AUTH_URL=http://host.docker.internal:${t.port}/api/internal/instances/${id}/redeem`);
    expect(inspected.Config.Env).toContain(`OPENFLOW_MQTT_URL=mqtt://host.docker.internal:${t.openflow.mqttPort}`);
    const settings = readFileSync(join(t.dataPath, 'instances', id, 'settings.cjs'), 'utf8');
    expect(settings).toContain('const runtimeDir = "/opt/openflow/nodered";');
    expect(settings).toContain('userDir: "/data"');

    // The manager's own router reaches the container, and the real shim inside it takes the magic bearer.
    expect((await viaRouter(t, subdomain, '/flows', { headers: { authorization: `Bearer ${magic}` } })).status).toBe(200);
    await deployFlows(t, subdomain, magic, JSON.parse(helloFlow('docker app')) as unknown[]);
    expect((await viaRouter(t, subdomain, '/hello')).body).toBe('hello from docker app');
    const status = (await owner.client.get(`/api/instances/${id}/status`)).body;
    expect(status).toMatchObject({ state: 'running', port: 1880, nodeRedVersion: '4.1.8' });
    expect(status.rssBytes).toBeGreaterThan(0);
    const logs = (await owner.client.get(`/api/instances/${id}/logs`)).body.items as { line: string }[];
    expect(logs.some((l) => l.line.includes('Server now running'))).toBe(true);

    const alias = uniqueName('alias');
    const added = await owner.client.post(`/api/instances/${id}/aliases`, { alias });
    expect(added.status).toBe(201);
    expect(added.body.restartNeeded).toBe(true);
    const restarted = await owner.client.post(`/api/instances/${id}/restart?wait=true`);
    expect(restarted.body.state).toBe('running');
    const [recreated] = await containersOf(id);
    expect(recreated?.Id).not.toBe(container?.Id);
    const byAlias = await runInNetwork(docker, network, httpGetScript(`http://nodered-${alias}:1880/api/hello`));
    expect(byAlias.output.trim()).toBe('200 hello from docker app');

    // A new manager on the same data adopts the running container instead of starting another.
    open.delete(t);
    await t.close({ keepData: true });
    expect((await containersOf(id)).map((c) => [c.Id, c.State])).toEqual([[recreated?.Id, 'running']]);
    const t2 = await startTestApp({ env, reuse: { testDb: t.testDb, dataPath: t.dataPath } });
    open.add(t2);
    const api = new ApiClient(t2.url);
    expect((await api.post('/api/auth/login', { email: owner.email, password: owner.password })).status).toBe(200);
    await waitFor('the instance to run again', async () => (await api.get(`/api/instances/${id}`)).body.state === 'running');
    expect((await containersOf(id)).map((c) => c.Id)).toEqual([recreated?.Id]);
    expect((await viaRouter(t2, alias, '/hello')).body).toBe('hello from docker app');

    expect((await api.post(`/api/instances/${id}/stop`)).body.state).toBe('stopped');
    expect(await containersOf(id)).toEqual([]);
    expect((await api.delete(`/api/instances/${id}`)).status).toBe(204);
    expect(await containersOf(id)).toEqual([]);
  });
});
