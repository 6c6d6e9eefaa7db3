import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DockerodeEngine } from '../../src/drivers/docker-engine.js';
import { DOCKER_RUNTIME_DIR, DOCKER_USER_DIR, DockerDriver, LABEL_INSTANCE, LABEL_SCOPE, LABEL_SPEC, type DockerDriverOptions } from '../../src/drivers/docker.driver.js';
import { InstanceDriverError, type DriverEvent, type InstanceSpec } from '../../src/drivers/instance-driver.js';
import { renderSettings } from '../../src/nodered/settings.renderer.js';
import { cleanEngine, dockerSocket, httpGetScript, httpTo, NODE_RED_TEST_IMAGE, requireImage, runInNetwork, SKIP_MESSAGE, uniqueName } from './docker-driver.harness.js';
import { helloFlow, silentLogger, waitFor } from './process-driver.harness.js';

const socket = dockerSocket();
if (!socket) console.warn(`docker.driver.test.ts skipped: ${SKIP_MESSAGE}`);

describe.skipIf(!socket)('Docker driver against a real engine', () => {
  const docker = new Docker({ socketPath: socket ?? '' });
  const engine = new DockerodeEngine(docker);
  const network = uniqueName('openflow-test-net');
  const scope = uniqueName('driver-test');
  const drivers: DockerDriver[] = [];
  let root = '';

  beforeAll(async () => {
    await requireImage(docker, NODE_RED_TEST_IMAGE);
    root = mkdtempSync(join(tmpdir(), 'openflow-docker-'));
  });

  // A failed test must not leave containers (or drivers that would restart them) to the next one.
  afterEach(async () => {
    for (const driver of drivers.splice(0)) await driver.close().catch(() => undefined);
    const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL_SCOPE}=${scope}`] } });
    await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  });

  afterAll(async () => {
    await cleanEngine(docker, scope, network);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  function newDriver(overrides: Partial<DockerDriverOptions> = {}): DockerDriver {
    const driver = new DockerDriver({
      engine,
      image: NODE_RED_TEST_IMAGE,
      network,
      scope,
      crash: { maxCrashes: 3, windowMs: 60_000, backoffMs: [300] },
      logger: silentLogger,
      ...overrides,
    });
    drivers.push(driver);
    return driver;
  }

  /** A spec the way the instance service renders it for the Docker layout, with a /hello flow seeded. */
  function makeSpec(name: string, overrides: Partial<InstanceSpec> = {}): InstanceSpec {
    const subdomain = uniqueName(name);
    const instanceId = `${subdomain}-${randomBytes(4).toString('hex')}`;
    const userDir = join(root, 'instances', instanceId);
    mkdirSync(userDir, { recursive: true });
    writeFileSync(join(userDir, 'flows.json'), helloFlow(name));
    return {
      instanceId,
      subdomain,
      aliases: [],
      userDir,
      settingsJs: renderSettings({
        port: 1880,
        host: '0.0.0.0',
        userDir: DOCKER_USER_DIR,
        credentialSecret: randomBytes(16).toString('hex'),
        subdomain,
        dashboardUrl: 'http://localhost:4071',
        runtimeDir: DOCKER_RUNTIME_DIR,
        memoryMb: 256,
        catalogues: [],
      }),
      env: { OPENFLOW_INSTANCE_ID: instanceId, OPENFLOW_SUBDOMAIN: subdomain, OPENFLOW_MAGIC_TOKEN: randomBytes(24).toString('hex') },
      memoryMb: 256,
      cpu: 0.5,
      ...overrides,
    };
  }

  async function containersOf(instanceId?: string): Promise<Docker.ContainerInfo[]> {
    const label = [`${LABEL_SCOPE}=${scope}`, ...(instanceId ? [`${LABEL_INSTANCE}=${instanceId}`] : [])];
    return docker.listContainers({ all: true, filters: { label } });
  }

  const bearer = (spec: InstanceSpec) => ({ authorization: `Bearer ${spec.env.OPENFLOW_MAGIC_TOKEN}` });

  it('runs Node-RED as the configured user in a labelled, limited container that answers the magic bearer', async () => {
    const driver = newDriver({ user: { uid: 1000, gid: 1000 } });
    const spec = makeSpec('life');
    const info = await driver.start(spec);
    expect(info.port).toBe(1880);
    expect(info.host).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    const [container, ...others] = await containersOf();
    expect(others).toEqual([]);
    expect(container?.Names).toEqual([`/nodered-${spec.subdomain}`]);
    expect(container?.Labels[LABEL_INSTANCE]).toBe(spec.instanceId);
    expect(container?.Labels[LABEL_SPEC]).toMatch(/^[0-9a-f]{64}$/);
    const inspected = await docker.getContainer(container?.Id ?? '').inspect();
    expect(inspected.HostConfig.Memory).toBe(256 * 1024 * 1024);
    expect(inspected.HostConfig.NanoCpus).toBe(500_000_000);
    expect(inspected.HostConfig.Binds).toEqual([`${spec.userDir}:/data`]);
    expect(inspected.HostConfig.ExtraHosts).toEqual(['host.docker.internal:host-gateway']);
    expect(inspected.HostConfig.RestartPolicy?.Name).toBe('no');
    expect(inspected.Config.User).toBe('1000:1000');
    expect(inspected.Config.Env).toContain(`OPENFLOW_SUBDOMAIN=${spec.subdomain}`);
    expect(Object.keys(inspected.NetworkSettings.Networks)).toEqual([network]);

    expect((await httpTo(info.host, info.port, '/flows')).status).toBe(401);
    const flows = await httpTo(info.host, info.port, '/flows', { headers: bearer(spec) });
    expect(flows.status).toBe(200);
    expect(flows.body).toContain('hello from life');
    expect((await httpTo(info.host, info.port, '/api/hello')).body).toBe('hello from life');

    // Node-RED, running as uid 1000, can write the bind-mounted data: deploy new flows and see them served.
    const deployed = await httpTo(info.host, info.port, '/flows', {
      method: 'POST',
      headers: { ...bearer(spec), 'content-type': 'application/json', 'node-red-deployment-type': 'full' },
      body: helloFlow('life, redeployed'),
    });
    expect(deployed.status).toBe(204);
    await waitFor('the redeployed flow to answer', async () => (await httpTo(info.host, info.port, '/api/hello')).body === 'hello from life, redeployed');
    expect(statSync(join(spec.userDir, 'flows.json')).uid).toBe(1000);
    const settings = statSync(join(spec.userDir, 'settings.cjs'));
    expect(settings.mode & 0o777).toBe(0o600);
    expect(settings.uid).toBe(1000);

    const status = await driver.status(spec.instanceId);
    expect(status?.nodeRedVersion).toBe('4.1.8');
    expect(status?.rssBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(status?.pid).toBeGreaterThan(0);
    await waitFor('the start-up banner in the logs', () => driver.logs(spec.instanceId).some((l) => l.stream === 'stdout' && l.line.includes('Server now running')));

    const followed: string[] = [];
    const unfollow = driver.followLogs(spec.instanceId, (line) => followed.push(line.line));
    await driver.stop(spec.instanceId);
    unfollow();
    expect(followed.some((line) => line.includes('stopping container'))).toBe(true);
    expect(await containersOf()).toEqual([]);
    expect(await driver.status(spec.instanceId)).toBeNull();
    await driver.stop(spec.instanceId);
  });

  it('pins aliases at create: a restart recreates the container and the alias resolves from a neighbour', async () => {
    const driver = newDriver();
    expect(driver.pinsNamesAtCreate).toBe(true);
    const spec = makeSpec('alias');
    const first = await driver.start(spec);
    const alias = uniqueName('side');
    const [before] = await containersOf(spec.instanceId);
    const beforeAliases = (await docker.getContainer(before?.Id ?? '').inspect()).NetworkSettings.Networks[network]?.Aliases ?? [];
    expect(beforeAliases).not.toContain(`nodered-${alias}`);

    await driver.stop(spec.instanceId);
    const withAlias = { ...spec, aliases: [alias] };
    const second = await driver.start(withAlias);
    const [after, ...duplicates] = await containersOf(spec.instanceId);
    expect(duplicates).toEqual([]);
    expect(after?.Id).not.toBe(before?.Id);
    expect(second.host).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(first.port).toBe(second.port);

    const byAlias = await runInNetwork(docker, network, httpGetScript(`http://nodered-${alias}:1880/api/hello`));
    expect(byAlias.output.trim()).toBe('200 hello from alias');
    const byName = await runInNetwork(docker, network, httpGetScript(`http://nodered-${spec.subdomain}:1880/api/hello`));
    expect(byName.output.trim()).toBe('200 hello from alias');

    await driver.remove(spec.instanceId);
    expect(await containersOf()).toEqual([]);
    expect(driver.logs(spec.instanceId)).toEqual([]);
  });

  it('restarts a container that dies, and gives up on a crash loop with the last log lines', async () => {
    const driver = newDriver();
    const events: DriverEvent[] = [];
    driver.onEvent((event) => events.push(event));
    const spec = makeSpec('crash');
    await driver.start(spec);
    const [victim] = await containersOf(spec.instanceId);
    await docker.getContainer(victim?.Id ?? '').kill({ signal: 'SIGKILL' });

    const restarted = await waitFor('a restarted event', () => events.find((e) => e.type === 'restarted' && e.instanceId === spec.instanceId));
    expect(events.find((e) => e.type === 'crashed')).toMatchObject({ instanceId: spec.instanceId, restartInMs: 300 });
    if (restarted.type !== 'restarted') throw new Error('unreachable');
    expect((await httpTo(restarted.runtime.host, 1880, '/api/hello')).body).toBe('hello from crash');
    const [replacement, ...duplicates] = await containersOf(spec.instanceId);
    expect(duplicates).toEqual([]);
    expect(replacement?.Id).not.toBe(victim?.Id);
    expect((await driver.status(spec.instanceId))?.restarts).toBe(1);
    await driver.stop(spec.instanceId);

    const broken = makeSpec('broken', { settingsJs: "throw new Error('settings exploded on purpose');\n" });
    const failure = await driver.start(broken).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(InstanceDriverError);
    expect((failure as InstanceDriverError).code).toBe('crash_loop');
    expect((failure as InstanceDriverError).message).toContain('settings exploded on purpose');
    expect(events.filter((e) => e.type === 'crashed' && e.instanceId === broken.instanceId)).toHaveLength(2);
    expect(events.some((e) => e.type === 'failed' && e.instanceId === broken.instanceId)).toBe(true);
    expect(await containersOf()).toEqual([]);
  });

  it('reports a container the kernel killed at its memory limit as memory-exceeded, then restarts it', async () => {
    const driver = newDriver();
    const events: DriverEvent[] = [];
    driver.onEvent((event) => events.push(event));
    const spec = makeSpec('greedy', { memoryMb: 128 });
    // Buffers live outside the V8 heap, so only the container's memory limit can stop this flow.
    writeFileSync(
      join(spec.userDir, 'flows.json'),
      JSON.stringify([
        { id: 't', type: 'tab', label: 'greedy' },
        { id: 'in', type: 'http in', z: 't', url: '/eat', method: 'get', upload: false, swaggerDoc: '', wires: [['fn']] },
        { id: 'fn', type: 'function', z: 't', func: "const kept = [];\nfor (let i = 0; i < 64; i++) kept.push(Buffer.alloc(4 * 1024 * 1024, 1));\ncontext.set('kept', kept);\nmsg.payload = 'survived';\nreturn msg;", outputs: 1, wires: [['out']] },
        { id: 'out', type: 'http response', z: 't', statusCode: '', headers: {}, wires: [] },
      ]),
    );
    const info = await driver.start(spec);
    const eaten = await httpTo(info.host, info.port, '/api/eat').catch((err: Error) => ({ status: 0, body: err.message }));
    expect(eaten.body).not.toBe('survived');
    const exceeded = await waitFor('a memory-exceeded event', () => events.find((e) => e.type === 'memory-exceeded'));
    expect(exceeded).toMatchObject({ instanceId: spec.instanceId, limitBytes: 128 * 1024 * 1024 });
    expect(events.find((e) => e.type === 'crashed')).toMatchObject({ message: expect.stringContaining('memory limit of 128 MiB') });
    await waitFor('the restart after the kill', () => events.find((e) => e.type === 'restarted'));
    await driver.stop(spec.instanceId);
  });

  it('lets a new manager adopt running containers, replace changed ones, start missing ones and remove the rest', async () => {
    const first = newDriver({ onClose: 'leave' });
    const kept = makeSpec('kept');
    const changed = makeSpec('changed');
    const gone = makeSpec('gone');
    await Promise.all([first.start(kept), first.start(changed), first.start(gone)]);
    const before = new Map((await containersOf()).map((c) => [c.Labels[LABEL_INSTANCE], c.Id]));
    await first.close();
    expect((await containersOf()).filter((c) => c.State === 'running')).toHaveLength(3);

    const second = newDriver();
    const changedNow = { ...changed, env: { ...changed.env, EXTRA: 'new value' } };
    const missing = makeSpec('missing');
    const running = await second.recover([kept, changedNow, missing]);
    expect([...running.keys()].sort()).toEqual([kept.instanceId, changed.instanceId, missing.instanceId].sort());

    const after = await containersOf();
    expect(after.map((c) => c.Labels[LABEL_INSTANCE]).sort()).toEqual([kept.instanceId, changed.instanceId, missing.instanceId].sort());
    const idOf = (spec: InstanceSpec) => after.find((c) => c.Labels[LABEL_INSTANCE] === spec.instanceId)?.Id;
    expect(idOf(kept)).toBe(before.get(kept.instanceId));
    expect(idOf(changed)).not.toBe(before.get(changed.instanceId));
    expect(second.logs(kept.instanceId).some((l) => l.line.includes('adopted container'))).toBe(true);

    const keptInfo = running.get(kept.instanceId);
    expect((await httpTo(keptInfo?.host ?? '', 1880, '/api/hello')).body).toBe('hello from kept');
    const changedInfo = running.get(changed.instanceId);
    expect((await httpTo(changedInfo?.host ?? '', 1880, '/flows', { headers: bearer(changed) })).status).toBe(200);

    // Supervision covers adopted containers too.
    const events: DriverEvent[] = [];
    second.onEvent((event) => events.push(event));
    await docker.getContainer(idOf(kept) ?? '').kill({ signal: 'SIGKILL' });
    await waitFor('the adopted container to be restarted', () => events.find((e) => e.type === 'restarted' && e.instanceId === kept.instanceId));

    await second.close();
    expect(await containersOf()).toEqual([]);
  });

  it('fails a start clearly when the image is neither present nor pullable', async () => {
    const driver = newDriver({ image: 'openflow/image-that-does-not-exist:never' });
    const failure = await driver.start(makeSpec('noimage')).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(InstanceDriverError);
    expect((failure as Error).message).toMatch(/openflow\/image-that-does-not-exist:never is not on the Docker engine and pulling it failed/);
    expect((failure as Error).message).toContain('NODE_RED_IMAGE');
    expect(await containersOf()).toEqual([]);
  });
});
