import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstanceDriverError, type InstanceSpec, type LogLine, type RuntimeInfo } from '../../src/drivers/instance-driver.js';
import { LoopbackNetwork } from '../../src/drivers/process-loopback.js';
import { ProcessDriver, SETTINGS_FILE_NAME, type ProcessDriverOptions } from '../../src/drivers/process.driver.js';
import {
  NODE_RED_BIN,
  REPO_ROOT,
  environOf,
  helloFlow,
  httpGet,
  isAlive,
  killAllUnder,
  listenersOn,
  makeSpec,
  processesUnder,
  randomPortRange,
  recordEvents,
  silentLogger,
  waitFor,
} from './process-driver.harness.js';

let root = '';
const drivers: ProcessDriver[] = [];
const managers: ChildProcess[] = [];
const network = new LoopbackNetwork();

function newDriver(overrides: Partial<ProcessDriverOptions> = {}): ProcessDriver {
  const driver = new ProcessDriver({
    nodeRedBin: NODE_RED_BIN,
    portRange: randomPortRange(),
    runDir: join(root, 'run'),
    stopGraceMs: 5_000,
    crash: { maxCrashes: 5, windowMs: 60_000, backoffMs: [200, 500] },
    logger: silentLogger,
    ...overrides,
  });
  drivers.push(driver);
  return driver;
}

function bearer(spec: InstanceSpec): Record<string, string> {
  return { Authorization: `Bearer ${spec.env.OPENFLOW_MAGIC_TOKEN ?? ''}` };
}

function writeFlows(spec: InstanceSpec, name: string): void {
  mkdirSync(spec.userDir, { recursive: true });
  writeFileSync(join(spec.userDir, 'flows.json'), helloFlow(name));
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'openflow-driver-'));
});

afterAll(async () => {
  for (const manager of managers) manager.kill('SIGKILL');
  await Promise.allSettled(drivers.map((driver) => driver.close()));
  // Whatever a failed test left behind: every Node-RED here runs with its cwd inside root.
  killAllUnder(root);
  await waitFor('test processes to end', () => processesUnder(root).length === 0, 15_000).catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

describe('ProcessDriver lifecycle', () => {
  let driver: ProcessDriver;
  let spec: InstanceSpec;
  let first: RuntimeInfo;
  const followed: LogLine[] = [];

  beforeAll(() => {
    driver = newDriver();
    spec = makeSpec(root, 'life');
    writeFlows(spec, 'life');
    driver.followLogs(spec.instanceId, (line) => followed.push(line));
  });

  it('starts Node-RED on loopback and resolves only once it answers', async () => {
    process.env.OPENFLOW_DRIVER_TEST_LEAK = 'manager-only-secret';
    try {
      first = await driver.start(spec);
    } finally {
      delete process.env.OPENFLOW_DRIVER_TEST_LEAK;
    }
    expect(first.instanceId).toBe(spec.instanceId);
    expect(first.host).toBe('127.0.0.1');
    expect(first.pid).toBeTypeOf('number');
    const pid = first.pid ?? -1;
    expect(isAlive(pid)).toBe(true);
    expect(listenersOn(first.port, [pid])).toEqual([pid]);

    const root200 = await httpGet(first.port, '/');
    expect(root200.status).toBe(200);
    expect(readFileSync(join(spec.userDir, SETTINGS_FILE_NAME), 'utf8')).toBe(spec.settingsJs);

    const status = await driver.status(spec.instanceId);
    expect(status).not.toBeNull();
    expect(status?.pid).toBe(pid);
    expect(status?.port).toBe(first.port);
    expect(status?.restarts).toBe(0);
    expect(status?.nodeRedVersion).toBe('4.1.8');
    expect(status?.rssBytes).toBeGreaterThan(20 * 1024 * 1024);
    expect(status?.uptimeMs).toBeGreaterThanOrEqual(0);

    const record = JSON.parse(readFileSync(join(root, 'run', `${spec.instanceId}.json`), 'utf8')) as { pid: number; port: number };
    expect(record.pid).toBe(pid);
    expect(record.port).toBe(first.port);
  });

  it('guards the admin API with the token and serves flows under /api', async () => {
    expect((await httpGet(first.port, '/flows')).status).toBe(401);
    const flows = await httpGet(first.port, '/flows', bearer(spec));
    expect(flows.status).toBe(200);
    expect(flows.body).toContain('"in1"');
    const hello = await httpGet(first.port, '/api/hello');
    expect(hello).toEqual({ status: 200, body: 'hello from life' });
  });

  it('gives the child exactly the spec env plus PATH, HOME, NODE_ENV and OPENFLOW_PORT', () => {
    const env = environOf(first.pid ?? -1);
    expect(env.OPENFLOW_DRIVER_TEST_LEAK).toBeUndefined();
    expect(Object.keys(env).sort()).toEqual([...Object.keys(spec.env), 'HOME', 'NODE_ENV', 'OPENFLOW_PORT', 'PATH'].sort());
    expect(env.OPENFLOW_PORT).toBe(String(first.port));
    expect(env.HOME).toBe(spec.userDir);
    expect(env.OPENFLOW_INSTANCE_ID).toBe(spec.instanceId);
  });

  it('keeps output and driver actions in the log and pushes them to followers', () => {
    const lines = driver.logs(spec.instanceId);
    expect(lines.some((l) => l.stream === 'stdout' && l.line.includes('Server now running'))).toBe(true);
    expect(lines.some((l) => l.stream === 'system' && l.line.includes(`pid ${first.pid}`))).toBe(true);
    expect(followed.some((l) => l.line.includes('Server now running'))).toBe(true);
    expect(driver.logs(spec.instanceId, 2)).toHaveLength(2);
  });

  it('refuses a second runtime for a running instance', async () => {
    await expect(driver.start(spec)).rejects.toMatchObject({ code: 'already_running' });
    expect(processesUnder(spec.userDir)).toEqual([first.pid]);
  });

  it('stops: process gone, port free, run file gone; stopping again is a no-op', async () => {
    await driver.stop(spec.instanceId);
    expect(isAlive(first.pid ?? -1)).toBe(false);
    expect(await network.portIsFree(first.port)).toBe(true);
    expect(existsSync(join(root, 'run', `${spec.instanceId}.json`))).toBe(false);
    expect(await driver.status(spec.instanceId)).toBeNull();
    await driver.stop(spec.instanceId);
    expect(driver.logs(spec.instanceId).some((l) => l.stream === 'system' && l.line.includes('stopping'))).toBe(true);
  });

  it('starts again on the same port with the flows kept', async () => {
    const again = await driver.start(spec);
    expect(again.port).toBe(first.port);
    expect(again.pid).not.toBe(first.pid);
    expect(await httpGet(again.port, '/api/hello')).toEqual({ status: 200, body: 'hello from life' });
    const flows = await httpGet(again.port, '/flows', bearer(spec));
    expect(flows.body).toContain('"in1"');
    first = again;
  });

  it('restarts a child killed with SIGKILL and reports crashed then restarted', async () => {
    const events = recordEvents(driver);
    const killed = first.pid ?? -1;
    process.kill(killed, 'SIGKILL');
    const restarted = await waitFor('restarted event', () => events.find((e) => e.type === 'restarted'));
    const crashed = events.find((e) => e.type === 'crashed');
    expect(crashed).toMatchObject({ instanceId: spec.instanceId, restartInMs: 200 });
    expect(crashed?.type === 'crashed' && crashed.message).toContain('SIGKILL');
    expect(events.indexOf(crashed!)).toBeLessThan(events.indexOf(restarted));
    const runtime = restarted.type === 'restarted' ? restarted.runtime : first;
    expect(runtime.pid).not.toBe(killed);
    expect(isAlive(killed)).toBe(false);
    expect(await httpGet(runtime.port, '/api/hello')).toEqual({ status: 200, body: 'hello from life' });
    expect((await driver.status(spec.instanceId))?.restarts).toBe(1);
    expect(processesUnder(spec.userDir)).toEqual([runtime.pid]);
    expect(driver.logs(spec.instanceId).some((l) => l.stream === 'system' && l.line.includes('restarting after crash'))).toBe(true);
    first = runtime;
  });

  it('remove leaves no process, no run files and no logs', async () => {
    await driver.remove(spec.instanceId);
    expect(processesUnder(spec.userDir)).toEqual([]);
    expect(await network.portIsFree(first.port)).toBe(true);
    for (const suffix of ['.json', '.stdout.log', '.stderr.log']) {
      expect(existsSync(join(root, 'run', `${spec.instanceId}${suffix}`))).toBe(false);
    }
    expect(driver.logs(spec.instanceId)).toEqual([]);
    expect(existsSync(spec.userDir)).toBe(true);
  });
});

describe('ProcessDriver supervision', () => {
  it('gives up on a settings file that throws at load, with the thrown message', async () => {
    const driver = newDriver({ crash: { maxCrashes: 3, windowMs: 60_000, backoffMs: [100, 200] } });
    const events = recordEvents(driver);
    const spec = makeSpec(root, 'broken', { settingsJs: "throw new Error('settings exploded: kaboom-4711');\n" });

    const failure = await driver.start(spec).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(InstanceDriverError);
    expect((failure as InstanceDriverError).code).toBe('crash_loop');
    expect((failure as Error).message).toContain('kaboom-4711');

    expect(events.filter((e) => e.type === 'crashed')).toHaveLength(2);
    const failed = events.find((e) => e.type === 'failed');
    expect(failed?.type === 'failed' && failed.message).toContain('kaboom-4711');
    expect(events.at(-1)?.type).toBe('failed');
    expect(await driver.status(spec.instanceId)).toBeNull();
    expect(processesUnder(spec.userDir)).toEqual([]);
    expect(existsSync(join(root, 'run', `${spec.instanceId}.json`))).toBe(false);
  });

  it('restarts an instance over its memory limit', async () => {
    const driver = newDriver({ memoryPollMs: 200, crash: { maxCrashes: 20, windowMs: 60_000, backoffMs: [100] } });
    const events = recordEvents(driver);
    const spec = makeSpec(root, 'hungry', { memoryMb: 64 });
    const started = await driver.start(spec);

    const exceeded = await waitFor('memory-exceeded event', () => events.find((e) => e.type === 'memory-exceeded'));
    expect(exceeded).toMatchObject({ instanceId: spec.instanceId, limitBytes: 64 * 1024 * 1024 });
    expect(exceeded.type === 'memory-exceeded' && exceeded.rssBytes).toBeGreaterThan(64 * 1024 * 1024);
    const restarted = await waitFor('restarted event', () => events.find((e) => e.type === 'restarted'));
    expect(restarted.type === 'restarted' && restarted.reason).toContain('memory');
    expect(restarted.type === 'restarted' && restarted.runtime.pid).not.toBe(started.pid);
    expect(isAlive(started.pid ?? -1)).toBe(false);
    expect(driver.logs(spec.instanceId).some((l) => l.stream === 'system' && l.line.includes('memory limit exceeded'))).toBe(true);
    expect(events.some((e) => e.type === 'crashed')).toBe(false);

    await driver.stop(spec.instanceId);
    expect(processesUnder(spec.userDir)).toEqual([]);
  });

  it('rejects a start that never answers and leaves nothing running', async () => {
    const driver = newDriver({ startTimeoutMs: 3_000 });
    // Loads fine, then blocks the event loop before Node-RED can listen.
    const spec = makeSpec(root, 'hang', { settingsJs: "setTimeout(() => { console.log('about to hang'); for (;;) {} }, 0);\nmodule.exports = { uiHost: '127.0.0.1' };\n" });
    const failure = await driver.start(spec).catch((err: unknown) => err);
    expect(failure).toMatchObject({ code: 'start_timeout' });
    expect((failure as Error).message).toContain('about to hang');
    expect(processesUnder(spec.userDir)).toEqual([]);
    expect(await driver.status(spec.instanceId)).toBeNull();
  });

  it('stop during start ends the start and the process', async () => {
    const driver = newDriver();
    const spec = makeSpec(root, 'abort');
    const starting = driver.start(spec).catch((err: unknown) => err);
    await waitFor('the child to exist', () => processesUnder(spec.userDir).length === 1);
    await driver.stop(spec.instanceId);
    expect(await starting).toMatchObject({ code: 'stopped' });
    expect(processesUnder(spec.userDir)).toEqual([]);
  });
});

describe('ProcessDriver.recover after a manager was SIGKILLed', () => {
  interface Left {
    adopted: InstanceSpec;
    changed: InstanceSpec;
    unexpected: InstanceSpec;
    infos: RuntimeInfo[];
    range: { start: number; end: number };
    runDir: string;
  }

  async function leaveInstancesBehind(): Promise<Left> {
    const runDir = join(root, 'run-recover');
    const range = randomPortRange();
    const adopted = makeSpec(root, 'adopt');
    const changed = makeSpec(root, 'changed');
    const unexpected = makeSpec(root, 'orphan');
    writeFlows(adopted, 'adopt');
    const configPath = join(root, 'host-config.json');
    writeFileSync(configPath, JSON.stringify({ nodeRedBin: NODE_RED_BIN, runDir, portRange: range, specs: [adopted, changed, unexpected] }));
    const manager = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/drivers/fixtures/driver-host.ts'), configPath], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    managers.push(manager);
    let out = '';
    let err = '';
    manager.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    manager.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    const line = await waitFor(`the stand-in manager to start its instances (stderr: ${err})`, () => out.includes('\n') && out.split('\n')[0], 90_000);
    const infos = JSON.parse(line) as RuntimeInfo[];
    manager.kill('SIGKILL');
    await waitFor('the stand-in manager to die', () => manager.exitCode !== null || manager.signalCode !== null);
    return { adopted, changed, unexpected, infos, range, runDir };
  }

  it('adopts what still matches, restarts a changed spec, kills strays and unexpected instances', async () => {
    const left = await leaveInstancesBehind();
    const [adoptedInfo, changedInfo, unexpectedInfo] = left.infos;
    if (!adoptedInfo || !changedInfo || !unexpectedInfo) throw new Error('the stand-in manager started too few instances');
    for (const info of left.infos) expect(isAlive(info.pid ?? -1)).toBe(true);

    // A duplicate Node-RED for the adopted instance that no run record knows about.
    const strayPort = left.range.end;
    const stray = spawn(
      process.execPath,
      [NODE_RED_BIN, '--userDir', left.adopted.userDir, '--settings', join(left.adopted.userDir, SETTINGS_FILE_NAME), '--port', String(strayPort)],
      { cwd: left.adopted.userDir, stdio: 'ignore', detached: true, env: { PATH: process.env.PATH ?? '' } },
    );
    stray.unref();
    await waitFor('the stray to run', () => stray.pid !== undefined && isAlive(stray.pid));

    const driver = newDriver({ runDir: left.runDir, portRange: left.range });
    const events = recordEvents(driver);
    const changed = { ...left.changed, settingsJs: `${left.changed.settingsJs}// edited while the manager was down\n` };
    const result = await driver.recover([left.adopted, changed]);

    expect([...result.keys()].sort()).toEqual([left.adopted.instanceId, left.changed.instanceId].sort());
    expect(result.get(left.adopted.instanceId)?.pid).toBe(adoptedInfo.pid);
    expect(result.get(left.adopted.instanceId)?.port).toBe(adoptedInfo.port);
    expect(processesUnder(left.adopted.userDir)).toEqual([adoptedInfo.pid]);
    expect(listenersOn(adoptedInfo.port, [adoptedInfo.pid ?? -1])).toEqual([adoptedInfo.pid]);
    expect(isAlive(stray.pid ?? -1)).toBe(false);
    expect(await httpGet(adoptedInfo.port, '/api/hello')).toEqual({ status: 200, body: 'hello from adopt' });
    expect(driver.logs(left.adopted.instanceId).some((l) => l.stream === 'stdout' && l.line.includes('Server now running'))).toBe(true);

    const changedNow = result.get(left.changed.instanceId);
    expect(changedNow?.pid).not.toBe(changedInfo.pid);
    expect(isAlive(changedInfo.pid ?? -1)).toBe(false);
    expect(processesUnder(left.changed.userDir)).toEqual([changedNow?.pid]);
    expect(readFileSync(join(left.changed.userDir, SETTINGS_FILE_NAME), 'utf8')).toBe(changed.settingsJs);

    expect(isAlive(unexpectedInfo.pid ?? -1)).toBe(false);
    expect(processesUnder(left.unexpected.userDir)).toEqual([]);
    expect(existsSync(join(left.runDir, `${left.unexpected.instanceId}.json`))).toBe(false);
    expect(events.filter((e) => e.type === 'failed')).toEqual([]);

    // No port is handed out twice: a new instance avoids the adopted one's port.
    const fresh = makeSpec(root, 'fresh');
    const freshInfo = await driver.start(fresh);
    expect([adoptedInfo.port, changedNow?.port]).not.toContain(freshInfo.port);

    // The adopted process is supervised like one of our own children.
    process.kill(adoptedInfo.pid ?? -1, 'SIGKILL');
    const restarted = await waitFor('restart of the adopted instance', () =>
      events.find((e) => e.type === 'restarted' && e.instanceId === left.adopted.instanceId),
    );
    expect(events.find((e) => e.type === 'crashed')).toMatchObject({ instanceId: left.adopted.instanceId });
    const again = restarted.type === 'restarted' ? restarted.runtime : adoptedInfo;
    expect(again.port).toBe(adoptedInfo.port);
    expect(await httpGet(again.port, '/api/hello')).toEqual({ status: 200, body: 'hello from adopt' });
    expect(processesUnder(left.adopted.userDir)).toEqual([again.pid]);

    for (const spec of [left.adopted, changed, fresh]) await driver.remove(spec.instanceId);
    for (const spec of [left.adopted, changed, fresh]) expect(processesUnder(spec.userDir)).toEqual([]);
    expect(existsSync(join(left.runDir, `${left.adopted.instanceId}.json`))).toBe(false);
  });
});

describe('ProcessDriver.close', () => {
  it('stops every child by default and refuses work afterwards', async () => {
    const driver = newDriver();
    const spec = makeSpec(root, 'closing');
    const info = await driver.start(spec);
    await driver.close();
    expect(isAlive(info.pid ?? -1)).toBe(false);
    expect(processesUnder(spec.userDir)).toEqual([]);
    await expect(driver.start(spec)).rejects.toMatchObject({ code: 'closed' });
  });

  it("with onClose 'leave', leaves children for the next driver to adopt", async () => {
    const runDir = join(root, 'run-leave');
    const range = randomPortRange();
    const leaving = newDriver({ runDir, portRange: range, onClose: 'leave' });
    // Through a symlink: /proc shows the real path, and adoption must still recognise the process.
    mkdirSync(join(root, 'real-data'));
    symlinkSync(join(root, 'real-data'), join(root, 'linked-data'));
    const spec = makeSpec(join(root, 'linked-data'), 'left');
    writeFlows(spec, 'left');
    const realUserDir = realpathSync(spec.userDir);
    const info = await leaving.start(spec);
    await leaving.close();
    expect(isAlive(info.pid ?? -1)).toBe(true);
    expect(existsSync(join(runDir, `${spec.instanceId}.json`))).toBe(true);

    const next = newDriver({ runDir, portRange: range });
    const result = await next.recover([spec]);
    expect(result.get(spec.instanceId)).toMatchObject({ pid: info.pid, port: info.port });
    expect(processesUnder(realUserDir)).toEqual([info.pid]);
    expect(await httpGet(info.port, '/api/hello')).toEqual({ status: 200, body: 'hello from left' });
    await next.remove(spec.instanceId);
    expect(processesUnder(realUserDir)).toEqual([]);
  });
});
