import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  InstanceDriverError,
  type Clock,
  type DriverEvent,
  type DriverLogger,
  type InstanceDriver,
  type InstanceSpec,
  type LogLine,
  type RuntimeInfo,
  type RuntimeStatus,
} from './instance-driver.js';
import { LinuxProcessHost, type ProcessExit, type ProcessHost } from './process-host.js';
import { InstanceLogs } from './instance-logs.js';
import { LogFileTail } from './process-logs.js';
import { LOOPBACK_HOST, LoopbackNetwork, type LoopbackProbe } from './process-loopback.js';
import { PortAllocator, type PortRange } from './process-port-allocator.js';
import { RunDirectory, type RunRecord } from './process-run-dir.js';
import {
  assertCrashPolicy,
  awaitReady,
  CrashWindow,
  DriverEvents,
  pauseUnlessStopped,
  settlesWithin,
  startConcurrently,
  stoppedError,
  StopQueue,
  throwIfStopped,
  type CrashPolicy,
  type ReadyOutcome,
} from './supervision.js';

export interface ProcessDriverOptions {
  /** node_modules/node-red/red.js of the project: no network is needed to start an instance. */
  nodeRedBin: string;
  portRange: PortRange;
  /** Run records and stdout/stderr files, e.g. data/run. */
  runDir: string;
  stopGraceMs?: number;
  startTimeoutMs?: number;
  crash: CrashPolicy;
  memoryPollMs?: number;
  logPollMs?: number;
  readyPollMs?: number;
  /** 'leave' keeps the children running on close() for the next manager's recover() to adopt. */
  onClose?: 'stop' | 'leave';
  /** Instances recover() starts at once: start-up is CPU-bound, about one core-second each. */
  recoverConcurrency?: number;
  /** PATH, HOME and NODE_ENV for children; defaults to the manager's PATH and NODE_ENV with HOME = userDir. */
  baseEnv?: { PATH?: string; NODE_ENV?: string };
  clock?: Clock;
  logger: DriverLogger;
  host?: ProcessHost;
  network?: LoopbackProbe;
}

/**
 * CommonJS whatever package.json sits above the userDir: a data dir inside a `"type": "module"` checkout would
 * otherwise make Node load a `.js` settings file as ESM and hand red.js an empty module.
 */
export const SETTINGS_FILE_NAME = 'settings.cjs';

const TITLE_PREFIX = 'openflow-nr:';
const LOG_LINES_KEPT = 1_000;
const LINES_IN_MESSAGES = 20;
const ADOPTION_BACKFILL_BYTES = 128 * 1024;
const MAX_LOG_FILE_BYTES = 8 * 1024 * 1024;
const MAX_LINE_CHARS = 8 * 1024;
const PORT_CLASH_RETRIES = 3;
const HTTP_PROBE_TIMEOUT_MS = 2_000;
const MIB = 1024 * 1024;
const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** One Node-RED process, started here or adopted from a previous manager. */
interface Live {
  pid: number;
  startTicks: string;
  port: number;
  startedAt: Date;
  adopted: boolean;
  exited: Promise<ProcessExit>;
  /** Settles `exited` for adopted processes, whose exit is noticed by polling /proc. */
  markGone: ((exit: ProcessExit) => void) | null;
  gone: boolean;
  /** Set before the driver ends the process on purpose, so its exit is not taken for a crash. */
  expected: boolean;
  terminating: Promise<void> | null;
  tails: LogFileTail[];
}

/** One instance the driver is responsible for, from start() until stop(), remove() or giving up. */
interface Managed {
  spec: InstanceSpec;
  specHash: string;
  abort: AbortController;
  live: Live | null;
  /** The live process answers HTTP; only then do memory checks and crash supervision apply. */
  ready: boolean;
  restarts: number;
  crashes: CrashWindow;
  /** The start or restart chain in flight; stop() waits for it. */
  task: Promise<unknown>;
}

function describeExit(exit: ProcessExit): string {
  if (exit.signal) return `Node-RED was killed by ${exit.signal}`;
  if (exit.code !== null) return `Node-RED exited with code ${exit.code}`;
  return 'the Node-RED process ended';
}

/**
 * Runs Node-RED instances as local child processes bound to 127.0.0.1.
 *
 * Manager restarts use adoption: children lead their own process group, write stdout/stderr to files under runDir
 * and are described by a run record (pid, /proc start time, port, spec hash). A manager killed with SIGKILL leaves
 * them serving; the next manager's recover() adopts every recorded process that is provably ours (same pid and start
 * time, cwd = its userDir) and was started from the same spec, tails its log files and watches it through /proc.
 * Everything else of ours (unexpected instances, other specs, unrecorded duplicates) is killed, and missing instances
 * are started fresh. Adopting rather than restarting keeps flows running across manager upgrades and crashes.
 */
export class ProcessDriver implements InstanceDriver {
  readonly name = 'process' as const;
  readonly pinsNamesAtCreate = false;
  readonly nodeRedVersion: string;

  private readonly nodeRedBin: string;
  private readonly host: ProcessHost;
  private readonly network: LoopbackProbe;
  private readonly ports: PortAllocator;
  private readonly runs: RunDirectory;
  private readonly clock: Clock;
  private readonly logger: DriverLogger;
  private readonly crash: CrashPolicy;
  private readonly stopGraceMs: number;
  private readonly startTimeoutMs: number;
  private readonly memoryPollMs: number;
  private readonly logPollMs: number;
  private readonly readyPollMs: number;
  private readonly onClose: 'stop' | 'leave';
  private readonly recoverConcurrency: number;
  private readonly baseEnv: { PATH?: string; NODE_ENV?: string };

  private readonly managed = new Map<string, Managed>();
  private readonly stops = new StopQueue();
  private readonly logLines: InstanceLogs;
  private readonly events: DriverEvents;
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  private leaving = false;

  constructor(options: ProcessDriverOptions) {
    assertCrashPolicy(options.crash);
    this.nodeRedBin = resolve(options.nodeRedBin);
    const pkg = JSON.parse(readFileSync(join(dirname(this.nodeRedBin), 'package.json'), 'utf8')) as { version?: unknown };
    if (typeof pkg.version !== 'string') throw new Error(`no version in Node-RED's package.json next to ${this.nodeRedBin}`);
    this.nodeRedVersion = pkg.version;
    this.host = options.host ?? new LinuxProcessHost();
    this.network = options.network ?? new LoopbackNetwork();
    this.ports = new PortAllocator(options.portRange, this.network);
    this.runs = new RunDirectory(resolve(options.runDir), this.host);
    this.clock = options.clock ?? { now: () => Date.now() };
    this.logger = options.logger;
    this.crash = options.crash;
    this.stopGraceMs = options.stopGraceMs ?? 10_000;
    this.startTimeoutMs = options.startTimeoutMs ?? 60_000;
    this.memoryPollMs = options.memoryPollMs ?? 5_000;
    this.logPollMs = options.logPollMs ?? 250;
    this.readyPollMs = options.readyPollMs ?? 100;
    this.onClose = options.onClose ?? 'stop';
    this.recoverConcurrency = Math.max(1, options.recoverConcurrency ?? 4);
    this.baseEnv = options.baseEnv ?? { PATH: process.env.PATH, NODE_ENV: process.env.NODE_ENV };
    // File tails already cut long lines, so the log store does not cut them again.
    this.logLines = new InstanceLogs({ capacity: LOG_LINES_KEPT, linesInMessages: LINES_IN_MESSAGES, clock: this.clock, logger: this.logger });
    this.events = new DriverEvents(this.logLines, this.logger);
  }

  // ---- public API ----------------------------------------------------------------------------------------------

  async start(spec: InstanceSpec): Promise<RuntimeInfo> {
    this.assertOpen();
    this.validate(spec);
    const id = spec.instanceId;
    await this.stops.underWay(id);
    if (this.managed.has(id)) throw new InstanceDriverError('already_running', `instance ${id} is already running`);
    const m: Managed = {
      spec,
      specHash: this.hashSpec(spec),
      abort: new AbortController(),
      live: null,
      ready: false,
      restarts: 0,
      crashes: new CrashWindow(this.crash, this.clock),
      task: Promise.resolve(),
    };
    this.managed.set(id, m);
    this.ensureTimers();
    const task = (async () => {
      // A process a previous manager left, which recover() was not asked about, must not run next to the new one.
      await this.killRecorded(id, 'a new start of this instance');
      return this.launch(m);
    })();
    m.task = task;
    try {
      return await task;
    } catch (err) {
      if (err instanceof InstanceDriverError && err.code === 'crash_loop') this.emit({ type: 'failed', instanceId: id, message: err.message });
      await this.settle(m);
      throw err;
    }
  }

  stop(instanceId: string): Promise<void> {
    return this.stops.run(instanceId, () => this.stopNow(instanceId));
  }

  async remove(instanceId: string): Promise<void> {
    await this.stop(instanceId);
    this.runs.removeAll(instanceId);
    this.ports.forget(instanceId);
    this.logLines.forget(instanceId);
  }

  status(instanceId: string): Promise<RuntimeStatus | null> {
    const m = this.managed.get(instanceId);
    if (!m) return Promise.resolve(null);
    const live = m.ready ? m.live : null;
    const now = this.clock.now();
    return Promise.resolve({
      instanceId,
      pid: live?.pid ?? null,
      host: LOOPBACK_HOST,
      port: live?.port ?? this.ports.portOf(instanceId) ?? 0,
      startedAt: live?.startedAt ?? new Date(now),
      rssBytes: live ? this.host.rssBytes(live.pid) : null,
      uptimeMs: live ? Math.max(0, now - live.startedAt.getTime()) : 0,
      restarts: m.restarts,
      nodeRedVersion: this.nodeRedVersion,
    });
  }

  logs(instanceId: string, limit = LOG_LINES_KEPT): LogLine[] {
    this.pollTails(this.managed.get(instanceId));
    return this.logLines.last(instanceId, limit);
  }

  followLogs(instanceId: string, onLine: (line: LogLine) => void): () => void {
    return this.logLines.follow(instanceId, onLine);
  }

  onEvent(listener: (event: DriverEvent) => void): () => void {
    return this.events.on(listener);
  }

  async recover(expected: InstanceSpec[]): Promise<Map<string, RuntimeInfo>> {
    this.assertOpen();
    for (const spec of expected) this.validate(spec);
    const wanted = new Map(expected.map((spec) => [spec.instanceId, spec]));
    const running = new Map<string, RuntimeInfo>();
    const userDirs = new Set(expected.map((spec) => this.host.realPath(spec.userDir)));

    for (const record of this.runs.list()) {
      const id = record.instanceId;
      userDirs.add(record.userDir);
      if (this.managed.has(id)) continue;
      this.ports.prefer(id, record.port);
      if (!this.isRecordedProcess(record)) {
        this.runs.removeRecord(id);
        continue;
      }
      const spec = wanted.get(id);
      if (spec && this.canAdopt(spec, record)) {
        try {
          running.set(id, await this.adopt(spec, record));
          continue;
        } catch (err) {
          this.logger.warn({ instanceId: id, pid: record.pid, err: (err as Error).message }, 'could not adopt Node-RED; starting it afresh');
        }
      }
      await this.killUnmanaged(record.pid, record.startTicks, spec ? 'it was started from another spec' : 'no such instance is expected to run');
      this.runs.removeRecord(id);
    }

    await this.killStrays(userDirs);

    const toStart: InstanceSpec[] = [];
    for (const spec of expected) {
      const m = this.managed.get(spec.instanceId);
      if (!m) toStart.push(spec);
      else if (m.ready && m.live) running.set(spec.instanceId, this.runtimeInfo(spec.instanceId, m.live));
    }
    await startConcurrently(toStart, this.recoverConcurrency, (spec) => this.start(spec), running, this.events);
    return running;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.onClose === 'stop') {
      await Promise.all([...this.managed.keys()].map((id) => this.stop(id)));
    } else {
      this.leaving = true;
      for (const m of this.managed.values()) {
        m.abort.abort();
        if (m.live) {
          m.live.expected = true;
          this.closeTails(m.live);
        }
      }
      await Promise.all([...this.managed.values()].map((m) => m.task.catch(() => undefined)));
      this.managed.clear();
    }
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  // ---- launching -----------------------------------------------------------------------------------------------

  /**
   * Spawns until Node-RED answers. A child that dies while loading counts as a crash and is retried with backoff,
   * except when another program took its port meanwhile: then it retries at once on another port.
   */
  private async launch(m: Managed): Promise<RuntimeInfo> {
    const id = m.spec.instanceId;
    const clashing = new Set<number>();
    for (;;) {
      throwIfStopped(m.abort.signal, id);
      const port = await this.ports.acquire(id, clashing);
      throwIfStopped(m.abort.signal, id);
      const live = this.spawnNodeRed(m, port);
      const outcome = await this.awaitReady(m, live);
      if (outcome.kind === 'ready') {
        m.ready = true;
        this.logger.info({ instanceId: id, pid: live.pid, port }, 'Node-RED answers');
        return this.runtimeInfo(id, live);
      }
      if (outcome.kind === 'aborted') throw stoppedError(id);
      if (outcome.kind === 'timeout') {
        const lines = this.lastOutput(id);
        await this.terminate(m, live, 'it did not answer in time');
        throw new InstanceDriverError('start_timeout', `Node-RED did not answer on ${LOOPBACK_HOST}:${port} within ${this.startTimeoutMs} ms`, lines);
      }
      this.retire(m, live);
      const message = describeExit(outcome.exit);
      if (clashing.size < PORT_CLASH_RETRIES && !(await this.network.portIsFree(port))) {
        clashing.add(port);
        this.system(id, `port ${port} was taken by another program; retrying on another port`);
        continue;
      }
      const delay = this.events.crashed(id, m.crashes, message, (ms) => `${message} while starting; restarting in ${ms} ms`);
      if (delay === null) throw this.crashLoopError(m, message);
      await pauseUnlessStopped(m.abort.signal, delay, id);
    }
  }

  private spawnNodeRed(m: Managed, port: number): Live {
    const { spec } = m;
    const id = spec.instanceId;
    const userDir = resolve(spec.userDir);
    const settingsPath = join(userDir, SETTINGS_FILE_NAME);
    mkdirSync(userDir, { recursive: true });
    this.host.writePrivateFile(settingsPath, spec.settingsJs);
    const paths = this.runs.paths(id);
    mkdirSync(this.runs.dir, { recursive: true });
    const heapMb = Math.max(16, Math.floor(spec.memoryMb * 0.75));
    const child = this.host.spawn({
      command: process.execPath,
      args: [
        `--max-old-space-size=${heapMb}`,
        this.nodeRedBin,
        '--userDir',
        userDir,
        '--settings',
        settingsPath,
        '--port',
        String(port),
        // Loopback whatever the settings say: the manager's router is the only way in.
        '--define',
        `uiHost=${LOOPBACK_HOST}`,
        // Node-RED overwrites its command line with the title once it listens; this one names the instance in ps.
        '--title',
        `${TITLE_PREFIX}${id}`,
      ],
      env: this.childEnv(spec, userDir, port),
      // The userDir as cwd keeps relative paths in flows inside the instance's data, and identifies the process.
      cwd: userDir,
      stdoutPath: paths.stdout,
      stderrPath: paths.stderr,
    });
    const live: Live = {
      pid: child.pid,
      startTicks: this.host.startTicks(child.pid) ?? '',
      port,
      startedAt: new Date(this.clock.now()),
      adopted: false,
      exited: child.exited,
      markGone: null,
      gone: false,
      expected: false,
      terminating: null,
      tails: this.openTails(id, paths.stdout, paths.stderr, 0),
    };
    this.attach(m, live);
    this.writeRecord(m, live);
    this.system(id, `started Node-RED ${this.nodeRedVersion} (pid ${live.pid}) on ${LOOPBACK_HOST}:${port}`);
    return live;
  }

  private childEnv(spec: InstanceSpec, userDir: string, port: number): Record<string, string> {
    // Exactly these: the manager's own environment (DATABASE_URL, SESSION_SECRET, ...) never reaches a flow.
    const env: Record<string, string> = { HOME: userDir, NODE_ENV: this.baseEnv.NODE_ENV ?? 'production' };
    if (this.baseEnv.PATH !== undefined) env.PATH = this.baseEnv.PATH;
    return { ...env, ...spec.env, OPENFLOW_PORT: String(port) };
  }

  private awaitReady(m: Managed, live: Live): Promise<ReadyOutcome<ProcessExit>> {
    return awaitReady({
      signal: m.abort.signal,
      timeoutMs: this.startTimeoutMs,
      pollMs: this.readyPollMs,
      exited: live.exited,
      // The socket check proves the answer comes from our child, not from a program that took the port.
      answers: async () => (await this.network.answersHttp(live.port, HTTP_PROBE_TIMEOUT_MS)) && this.host.ownsListeningSocket(live.pid, live.port),
    });
  }

  // ---- supervision ---------------------------------------------------------------------------------------------

  /** Wires a process's exit to log draining, clean-up of its process group and, when unexpected, a restart. */
  private attach(m: Managed, live: Live): void {
    m.live = live;
    void live.exited.then((exit) => {
      live.gone = true;
      this.closeTails(live);
      // Subprocesses (exec nodes, npm) share the group and would outlive their Node-RED.
      this.host.signalGroup(live.pid, 'SIGKILL');
      if (live.expected || m.live !== live || !m.ready || m.abort.signal.aborted) return;
      this.onCrash(m, live, exit);
    });
  }

  private onCrash(m: Managed, live: Live, exit: ProcessExit): void {
    const id = m.spec.instanceId;
    this.retire(m, live);
    const message = describeExit(exit);
    const delay = this.events.crashed(id, m.crashes, message, (ms) => `restarting after crash (${message}) in ${ms} ms`);
    if (delay === null) {
      this.giveUp(m, this.crashLoopError(m, message).message);
      return;
    }
    m.task = this.restart(m, delay, `crash: ${message}`);
  }

  private checkMemory(): void {
    for (const m of this.managed.values()) {
      const live = m.live;
      if (!live || !m.ready || live.expected || live.gone) continue;
      const rss = this.host.rssBytes(live.pid);
      const limit = m.spec.memoryMb * MIB;
      if (rss === null || rss <= limit) continue;
      const id = m.spec.instanceId;
      m.ready = false;
      this.emit({ type: 'memory-exceeded', instanceId: id, rssBytes: rss, limitBytes: limit });
      this.system(id, `memory limit exceeded: RSS ${(rss / MIB).toFixed(1)} MiB > ${m.spec.memoryMb} MiB; restarting`);
      m.task = (async () => {
        await this.terminate(m, live, 'memory limit exceeded');
        if (m.abort.signal.aborted) return;
        this.retire(m, live);
        const delay = m.crashes.record();
        if (delay === null) {
          this.giveUp(m, this.crashLoopError(m, `memory limit of ${m.spec.memoryMb} MiB exceeded`).message);
          return;
        }
        await this.restart(m, delay, `memory limit exceeded (RSS ${(rss / MIB).toFixed(1)} MiB > ${m.spec.memoryMb} MiB)`);
      })();
    }
  }

  private async restart(m: Managed, delay: number, reason: string): Promise<void> {
    const id = m.spec.instanceId;
    try {
      await pauseUnlessStopped(m.abort.signal, delay, id);
      const runtime = await this.launch(m);
      m.restarts += 1;
      if (m.live) this.writeRecord(m, m.live);
      this.emit({ type: 'restarted', instanceId: id, runtime, reason });
    } catch (err) {
      if (m.abort.signal.aborted) return;
      this.giveUp(m, (err as Error).message);
    }
  }

  private crashLoopError(m: Managed, lastReason: string): InstanceDriverError {
    return m.crashes.loopError(lastReason, this.lastOutput(m.spec.instanceId));
  }

  private giveUp(m: Managed, message: string): void {
    this.events.gaveUp(m.spec.instanceId, message);
    void this.settle(m);
  }

  // ---- stopping ------------------------------------------------------------------------------------------------

  private async stopNow(instanceId: string): Promise<void> {
    const m = this.managed.get(instanceId);
    if (!m) {
      await this.killRecorded(instanceId, 'stop requested');
      return;
    }
    m.abort.abort();
    if (m.live) await this.terminate(m, m.live, 'stop requested');
    await m.task.catch(() => undefined);
    // The chain checks the abort signal before every spawn, so no process can have appeared since.
    if (m.live) await this.terminate(m, m.live, 'stop requested');
    await this.settle(m);
  }

  /** SIGTERM to the process group, SIGKILL after the grace period; resolves once the process is gone. */
  private terminate(m: Managed, live: Live, reason: string): Promise<void> {
    if (live.terminating) return live.terminating;
    live.expected = true;
    const id = m.spec.instanceId;
    live.terminating = (async () => {
      if (live.gone || this.host.startTicks(live.pid) !== live.startTicks) {
        live.markGone?.({ code: null, signal: null });
        await live.exited;
        return;
      }
      this.system(id, `stopping Node-RED (pid ${live.pid}): ${reason}`);
      this.host.signalGroup(live.pid, 'SIGTERM');
      if (await settlesWithin(live.exited, this.stopGraceMs)) return;
      this.system(id, `Node-RED did not exit within ${this.stopGraceMs} ms; sending SIGKILL`);
      this.host.signalGroup(live.pid, 'SIGKILL');
      await live.exited;
    })();
    return live.terminating;
  }

  /** Forgets a process that has ended: its record goes, its port stays held for the instance's next process. */
  private retire(m: Managed, live: Live): void {
    if (m.live !== live) return;
    m.live = null;
    m.ready = false;
    this.closeTails(live);
    this.runs.removeRecord(m.spec.instanceId);
  }

  /** Final clean-up of an instance that no longer runs: waits for its last process, then lets go of everything. */
  private async settle(m: Managed): Promise<void> {
    const id = m.spec.instanceId;
    const live = m.live;
    if (live && !this.leaving) {
      if (!live.gone) await this.terminate(m, live, 'giving up');
      this.retire(m, live);
    }
    if (this.managed.get(id) !== m || this.leaving) return;
    this.managed.delete(id);
    this.ports.release(id);
    this.runs.removeRecord(id);
  }

  // ---- adoption and strays -------------------------------------------------------------------------------------

  private isRecordedProcess(record: RunRecord): boolean {
    return this.isOurs(record.pid, record.startTicks, record.userDir);
  }

  private isOurs(pid: number, startTicks: string, userDir: string): boolean {
    return startTicks !== '' && this.host.startTicks(pid) === startTicks && this.host.cwd(pid) === userDir;
  }

  private canAdopt(spec: InstanceSpec, record: RunRecord): boolean {
    const holder = this.ports.holderOf(record.port);
    return (
      this.host.realPath(spec.userDir) === record.userDir &&
      record.specHash === this.hashSpec(spec) &&
      this.ports.contains(record.port) &&
      (holder === undefined || holder === spec.instanceId) &&
      this.host.processGroup(record.pid) === record.pid
    );
  }

  private async adopt(spec: InstanceSpec, record: RunRecord): Promise<RuntimeInfo> {
    const id = spec.instanceId;
    const m: Managed = {
      spec,
      specHash: record.specHash,
      abort: new AbortController(),
      live: null,
      ready: false,
      restarts: record.restarts,
      crashes: new CrashWindow(this.crash, this.clock),
      task: Promise.resolve(),
    };
    this.managed.set(id, m);
    this.ports.hold(id, record.port);
    this.ensureTimers();
    let markGone: (exit: ProcessExit) => void = () => undefined;
    const exited = new Promise<ProcessExit>((resolveExit) => {
      markGone = resolveExit;
    });
    const paths = this.runs.paths(id);
    const live: Live = {
      pid: record.pid,
      startTicks: record.startTicks,
      port: record.port,
      startedAt: new Date(record.startedAt),
      adopted: true,
      exited,
      markGone,
      gone: false,
      expected: false,
      terminating: null,
      tails: this.openTails(id, paths.stdout, paths.stderr, ADOPTION_BACKFILL_BYTES),
    };
    this.attach(m, live);
    this.system(id, `adopted Node-RED (pid ${live.pid}) on ${LOOPBACK_HOST}:${live.port} left running by a previous manager`);
    const outcome = await this.awaitReady(m, live);
    if (outcome.kind === 'ready') {
      m.ready = true;
      return this.runtimeInfo(id, live);
    }
    await this.terminate(m, live, 'adopted process does not answer');
    await this.settle(m);
    throw new Error(`adopted Node-RED (pid ${live.pid}) did not answer: ${outcome.kind}`);
  }

  /** Kills the process a run record names, if it is still ours and not managed here; drops the record. */
  private async killRecorded(instanceId: string, reason: string): Promise<void> {
    const record = this.runs.read(instanceId);
    if (!record) return;
    const live = this.managed.get(instanceId)?.live;
    if (live && live.pid === record.pid) return;
    if (this.isRecordedProcess(record)) await this.killUnmanaged(record.pid, record.startTicks, reason);
    this.runs.removeRecord(instanceId);
  }

  /** Node-RED processes of ours (cwd is one of the userDirs) that no record explains and nobody manages. */
  private async killStrays(userDirs: ReadonlySet<string>): Promise<void> {
    const managedPids = new Set<number>();
    for (const m of this.managed.values()) if (m.live) managedPids.add(m.live.pid);
    const kills: Promise<void>[] = [];
    for (const pid of this.host.listPids()) {
      if (pid === process.pid || managedPids.has(pid)) continue;
      const cwd = this.host.cwd(pid);
      if (cwd === null || !userDirs.has(cwd)) continue;
      const cmdline = this.host.cmdline(pid) ?? [];
      const first = cmdline[0] ?? '';
      if (!(cmdline.includes(this.nodeRedBin) || first === 'node-red' || first.startsWith(TITLE_PREFIX))) continue;
      const startTicks = this.host.startTicks(pid);
      if (startTicks === null) continue;
      kills.push(this.killUnmanaged(pid, startTicks, 'a second Node-RED for an instance'));
    }
    await Promise.all(kills);
  }

  private async killUnmanaged(pid: number, startTicks: string, reason: string): Promise<void> {
    this.logger.warn({ pid, reason }, 'killing a Node-RED process nobody manages');
    const group = this.host.processGroup(pid) === pid;
    const send = (signal: NodeJS.Signals): void => {
      if (this.host.startTicks(pid) !== startTicks) return;
      if (group) this.host.signalGroup(pid, signal);
      else this.host.signal(pid, signal);
    };
    const gone = (): boolean => this.host.startTicks(pid) !== startTicks;
    send('SIGTERM');
    const deadline = this.clock.now() + this.stopGraceMs;
    while (!gone() && this.clock.now() < deadline) await sleep(50);
    if (gone()) return;
    send('SIGKILL');
    const killDeadline = this.clock.now() + this.stopGraceMs;
    while (!gone() && this.clock.now() < killDeadline) await sleep(50);
    if (!gone()) this.logger.error({ pid, reason }, 'a Node-RED process survived SIGKILL');
  }

  // ---- logs, timers, events ------------------------------------------------------------------------------------

  private openTails(instanceId: string, stdout: string, stderr: string, backfillBytes: number): LogFileTail[] {
    const options = { backfillBytes, maxFileBytes: MAX_LOG_FILE_BYTES, maxLineChars: MAX_LINE_CHARS };
    return [
      new LogFileTail(stdout, (line) => this.logLines.push(instanceId, 'stdout', line), options),
      new LogFileTail(stderr, (line) => this.logLines.push(instanceId, 'stderr', line), options),
    ];
  }

  private closeTails(live: Live): void {
    for (const tail of live.tails) tail.close();
  }

  private pollTails(m: Managed | undefined): void {
    if (m?.live) for (const tail of m.live.tails) tail.poll();
  }

  private tick(): void {
    for (const m of this.managed.values()) {
      const live = m.live;
      if (!live) continue;
      this.pollTails(m);
      // Not our child: its exit shows as a vanished or recycled pid, no exit code.
      if (live.adopted && !live.gone && this.host.startTicks(live.pid) !== live.startTicks) {
        live.markGone?.({ code: null, signal: null });
      }
    }
  }

  private ensureTimers(): void {
    if (this.timers.length > 0) return;
    const guard = (what: string, action: () => void) => () => {
      try {
        action();
      } catch (err) {
        this.logger.error({ err: (err as Error).message }, `process driver ${what} failed`);
      }
    };
    this.timers = [setInterval(guard('log poll', () => this.tick()), this.logPollMs), setInterval(guard('memory check', () => this.checkMemory()), this.memoryPollMs)];
    for (const timer of this.timers) timer.unref();
  }

  private system(instanceId: string, text: string): void {
    this.logLines.system(instanceId, text);
  }

  private lastOutput(instanceId: string): string[] {
    this.pollTails(this.managed.get(instanceId));
    return this.logLines.lastOutput(instanceId);
  }

  private emit(event: DriverEvent): void {
    this.events.emit(event);
  }

  // ---- small helpers -------------------------------------------------------------------------------------------

  private runtimeInfo(instanceId: string, live: Live): RuntimeInfo {
    return { instanceId, pid: live.pid, host: LOOPBACK_HOST, port: live.port, startedAt: live.startedAt };
  }

  private writeRecord(m: Managed, live: Live): void {
    this.runs.write({
      instanceId: m.spec.instanceId,
      pid: live.pid,
      startTicks: live.startTicks,
      port: live.port,
      startedAt: live.startedAt.toISOString(),
      userDir: this.host.realPath(m.spec.userDir),
      specHash: m.specHash,
      restarts: m.restarts,
    });
  }

  private hashSpec(spec: InstanceSpec): string {
    const env = Object.entries(spec.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return createHash('sha256')
      .update(JSON.stringify([this.nodeRedBin, this.nodeRedVersion, resolve(spec.userDir), spec.memoryMb, spec.settingsJs, env]))
      .digest('hex');
  }

  private validate(spec: InstanceSpec): void {
    if (!INSTANCE_ID.test(spec.instanceId)) throw new InstanceDriverError('invalid_spec', `instance id ${JSON.stringify(spec.instanceId)} is not usable as a file name`);
    if (!isAbsolute(spec.userDir)) throw new InstanceDriverError('invalid_spec', `userDir must be absolute: ${spec.userDir}`);
    if (!Number.isFinite(spec.memoryMb) || spec.memoryMb <= 0) throw new InstanceDriverError('invalid_spec', `memoryMb must be positive: ${spec.memoryMb}`);
  }

  private assertOpen(): void {
    if (this.closed) throw new InstanceDriverError('closed', 'the process driver is closed');
  }
}
