import { createHash } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SETTINGS_FILE_NAME } from '../nodered/settings.renderer.js';
import { NameInUseError, type ContainerExit, type ContainerSpec, type ContainerSummary, type DockerEngine } from './docker-engine.js';
import { NodeHttpProbe, type HttpProbe } from './docker-probe.js';
import { LocalInstanceFiles, type ContainerUser, type InstanceFiles } from './docker-user-dir.js';
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
import { InstanceLogs } from './instance-logs.js';
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

/** Where the Node-RED image keeps Openflow's runtime files (shim, editor boot script, plugins). */
export const DOCKER_RUNTIME_DIR = '/opt/openflow/nodered';
/** Where the instance's data directory is mounted inside its container. */
export const DOCKER_USER_DIR = '/data';
export const DOCKER_NODE_RED_PORT = 1880;
export const DOCKER_NETWORK = 'openflow-network';
/** Lets instances reach the manager and a broker on the Docker host under one name, on every engine. */
export const DOCKER_HOST_ALIAS = 'host.docker.internal';
export const DEFAULT_SCOPE = 'openflow';

export const LABEL_SCOPE = 'org.openflow.scope';
export const LABEL_INSTANCE = 'org.openflow.instance';
export const LABEL_SPEC = 'org.openflow.spec';
const LABEL_SUBDOMAIN = 'org.openflow.subdomain';
/** Set on the image by deploy/node-red/Dockerfile and scripts/build-local-image.sh. */
const LABEL_NODE_RED_VERSION = 'org.openflow.node-red-version';

/** The container of an instance, and the DNS name nginx proxies `<label>.<domain>` to. */
export function containerName(label: string): string {
  return `nodered-${label}`;
}

export interface DockerDriverOptions {
  engine: DockerEngine;
  image: string;
  /** The bridge network instances, nginx and EMQX share; created if missing. */
  network?: string;
  /**
   * Written on every container as a label. recover() adopts or removes only containers of its own scope, so two
   * managers (or test runs) sharing one engine never touch each other's containers. Default `openflow`.
   */
  scope?: string;
  /** The user Node-RED runs as inside the container; null keeps the image's user. */
  user?: ContainerUser | null;
  stopGraceMs?: number;
  startTimeoutMs?: number;
  crash: CrashPolicy;
  readyPollMs?: number;
  /** 'leave' keeps the containers running on close() for the next manager's recover() to adopt. */
  onClose?: 'stop' | 'leave';
  recoverConcurrency?: number;
  clock?: Clock;
  logger: DriverLogger;
  probe?: HttpProbe;
  files?: InstanceFiles;
}

const LOG_LINES_KEPT = 1_000;
const LINES_IN_MESSAGES = 20;
const ADOPTION_LOG_TAIL = 200;
const MAX_LINE_CHARS = 8 * 1024;
const HTTP_PROBE_TIMEOUT_MS = 2_000;
const LOG_DRAIN_MS = 2_000;
const ENGINE_RETRY_MS = 1_000;
const MIB = 1024 * 1024;
const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const LABEL = /^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const VERSION_LINE = /Node-RED version: v?(\S+)/;

/** One container, started here or adopted from a previous manager. */
interface Live {
  containerId: string;
  host: string;
  pid: number | null;
  startedAt: Date;
  exited: Promise<ContainerExit>;
  gone: boolean;
  /** Set before the driver stops the container on purpose, so its exit is not taken for a crash. */
  expected: boolean;
  terminating: Promise<void> | null;
  /** Ends the exit watch and the log stream; used when the manager leaves containers running. */
  watch: AbortController;
  logsDone: Promise<void>;
}

/** One instance the driver is responsible for, from start() until stop(), remove() or giving up. */
interface Managed {
  spec: InstanceSpec;
  specHash: string;
  abort: AbortController;
  live: Live | null;
  /** The live container answers HTTP; only then does crash supervision apply. */
  ready: boolean;
  restarts: number;
  crashes: CrashWindow;
  task: Promise<unknown>;
  /** From the image label, or from Node-RED's start-up banner. */
  nodeRedVersion: string | null;
}

function describeExit(exit: ContainerExit, memoryMb: number): string {
  if (exit.oomKilled) return `Node-RED was killed for exceeding its memory limit of ${memoryMb} MiB`;
  if (exit.code !== null) return `Node-RED exited with code ${exit.code}`;
  return 'the Node-RED container stopped';
}

function sortedEntries(record: Record<string, string>): [string, string][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Runs each Node-RED instance as a container `nodered-<subdomain>` on one bridge network, where nginx reaches it by
 * that name and its aliases by `nodered-<alias>` through Docker's DNS. The instance's data directory is bind-mounted
 * at /data and holds the settings file the driver writes before every start.
 *
 * Containers are recreated on every start, so the spec (env, limits, aliases, which Docker fixes at create) always
 * matches what runs; a stop removes the container. Supervision is the driver's own, with the same crash policy as the
 * process driver (Docker's restart policy is off): one behaviour in every shape, exact `crashed`/`restarted`/`failed`
 * events, and a crash loop that ends in `error` with the last log lines. A manager restart adopts running containers
 * whose labels carry the same spec hash; everything else in its scope is removed, and missing instances are started.
 */
export class DockerDriver implements InstanceDriver {
  readonly name = 'docker' as const;
  readonly pinsNamesAtCreate = true;

  private readonly engine: DockerEngine;
  private readonly image: string;
  private readonly network: string;
  private readonly scope: string;
  private readonly user: ContainerUser | null;
  private readonly stopGraceMs: number;
  private readonly startTimeoutMs: number;
  private readonly crash: CrashPolicy;
  private readonly readyPollMs: number;
  private readonly onClose: 'stop' | 'leave';
  private readonly recoverConcurrency: number;
  private readonly clock: Clock;
  private readonly logger: DriverLogger;
  private readonly probe: HttpProbe;
  private readonly files: InstanceFiles;

  private readonly managed = new Map<string, Managed>();
  private readonly stops = new StopQueue();
  private readonly logLines: InstanceLogs;
  private readonly events: DriverEvents;
  /** Network and image checked once; a failure is forgotten so the next start asks the engine again. */
  private engineReady: Promise<string | null> | null = null;
  private closed = false;
  private leaving = false;

  constructor(options: DockerDriverOptions) {
    assertCrashPolicy(options.crash);
    const user = options.user ?? null;
    const self = process.getuid?.();
    if (user && self !== undefined && self !== 0 && self !== user.uid) {
      throw new RangeError(`Node-RED containers run as uid ${user.uid}, but only root can hand instance data to another user (the manager runs as uid ${self})`);
    }
    this.engine = options.engine;
    this.image = options.image;
    this.network = options.network ?? DOCKER_NETWORK;
    this.scope = options.scope ?? DEFAULT_SCOPE;
    this.user = user;
    this.stopGraceMs = options.stopGraceMs ?? 10_000;
    this.startTimeoutMs = options.startTimeoutMs ?? 60_000;
    this.crash = options.crash;
    this.readyPollMs = options.readyPollMs ?? 100;
    this.onClose = options.onClose ?? 'stop';
    this.recoverConcurrency = Math.max(1, options.recoverConcurrency ?? 4);
    this.clock = options.clock ?? { now: () => Date.now() };
    this.logger = options.logger;
    this.probe = options.probe ?? new NodeHttpProbe();
    this.files = options.files ?? new LocalInstanceFiles();
    this.logLines = new InstanceLogs({
      capacity: LOG_LINES_KEPT,
      linesInMessages: LINES_IN_MESSAGES,
      maxLineChars: MAX_LINE_CHARS,
      clock: this.clock,
      logger: this.logger,
    });
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
      nodeRedVersion: null,
    };
    this.managed.set(id, m);
    const task = (async () => {
      // A container a previous manager left, which recover() was not asked about, must not run next to the new one.
      await this.removeLeftovers(id, 'a new start of this instance');
      return this.launch(m);
    })();
    m.task = task;
    try {
      return await task;
    } catch (err) {
      if (err instanceof InstanceDriverError && err.code === 'crash_loop') this.emit({ type: 'failed', instanceId: id, message: err.message });
      await this.settleQuietly(m);
      throw err;
    }
  }

  stop(instanceId: string): Promise<void> {
    return this.stops.run(instanceId, () => this.stopNow(instanceId));
  }

  async remove(instanceId: string): Promise<void> {
    await this.stop(instanceId);
    this.logLines.forget(instanceId);
  }

  async status(instanceId: string): Promise<RuntimeStatus | null> {
    const m = this.managed.get(instanceId);
    if (!m) return null;
    const live = m.ready ? m.live : null;
    const now = this.clock.now();
    const rssBytes = live ? await this.engine.memoryUsage(live.containerId).catch(() => null) : null;
    return {
      instanceId,
      pid: live?.pid ?? null,
      host: live?.host ?? '',
      port: DOCKER_NODE_RED_PORT,
      startedAt: live?.startedAt ?? new Date(now),
      rssBytes,
      uptimeMs: live ? Math.max(0, now - live.startedAt.getTime()) : 0,
      restarts: m.restarts,
      nodeRedVersion: m.nodeRedVersion ?? 'unknown',
    };
  }

  logs(instanceId: string, limit = LOG_LINES_KEPT): LogLine[] {
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

    for (const container of await this.engine.listContainers({ [LABEL_SCOPE]: this.scope })) {
      const id = container.labels[LABEL_INSTANCE] ?? '';
      if (this.managed.get(id)?.live?.containerId === container.id) continue;
      const spec = wanted.get(id);
      if (spec && !this.managed.has(id) && this.canAdopt(spec, container)) {
        try {
          running.set(id, await this.adopt(spec, container));
          continue;
        } catch (err) {
          this.logger.warn({ instanceId: id, container: container.name, err: (err as Error).message }, 'could not adopt a Node-RED container; starting it afresh');
        }
      }
      const reason = !spec ? 'no such instance is expected to run' : container.running ? 'it was started from another spec' : 'it is not running';
      await this.discard(container, reason);
    }

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
      return;
    }
    this.leaving = true;
    for (const m of this.managed.values()) {
      m.abort.abort();
      if (m.live) {
        m.live.expected = true;
        m.live.watch.abort();
      }
    }
    await Promise.all([...this.managed.values()].map((m) => m.task.catch(() => undefined)));
    this.managed.clear();
  }

  // ---- launching -----------------------------------------------------------------------------------------------

  /** Creates containers until Node-RED answers; one that dies while loading counts as a crash and is retried with backoff. */
  private async launch(m: Managed): Promise<RuntimeInfo> {
    const id = m.spec.instanceId;
    for (;;) {
      throwIfStopped(m.abort.signal, id);
      m.nodeRedVersion = (await this.prepareEngine()) ?? m.nodeRedVersion;
      throwIfStopped(m.abort.signal, id);
      const live = await this.createContainer(m);
      const outcome = await this.awaitReady(m, live);
      if (outcome.kind === 'ready') {
        m.ready = true;
        this.logger.info({ instanceId: id, container: containerName(m.spec.subdomain), host: live.host }, 'Node-RED answers');
        return this.runtimeInfo(id, live);
      }
      if (outcome.kind === 'aborted') throw stoppedError(id);
      if (outcome.kind === 'timeout') {
        const lines = this.logLines.lastOutput(id);
        await this.terminate(m, live, 'it did not answer in time');
        throw new InstanceDriverError('start_timeout', `Node-RED did not answer on ${live.host}:${DOCKER_NODE_RED_PORT} within ${this.startTimeoutMs} ms`, lines);
      }
      await this.retire(m, live);
      if (outcome.exit.oomKilled) this.emitMemoryExceeded(m);
      const message = describeExit(outcome.exit, m.spec.memoryMb);
      const delay = this.events.crashed(id, m.crashes, message, (ms) => `${message} while starting; restarting in ${ms} ms`);
      if (delay === null) throw this.crashLoopError(m, message);
      await pauseUnlessStopped(m.abort.signal, delay, id);
    }
  }

  /** The network exists and the image is present (pulled if it is not); resolves to the image's Node-RED version. */
  private prepareEngine(): Promise<string | null> {
    this.engineReady ??= (async () => {
      await this.engine.ensureNetwork(this.network);
      let labels = await this.engine.imageLabels(this.image);
      if (labels === null) {
        this.logger.info({ image: this.image }, 'pulling the Node-RED image');
        try {
          await this.engine.pullImage(this.image);
        } catch (err) {
          throw new InstanceDriverError(
            'invalid_spec',
            `The Node-RED image ${this.image} is not on the Docker engine and pulling it failed (${(err as Error).message}). Build it from deploy/node-red/Dockerfile or set NODE_RED_IMAGE to an image the engine has.`,
          );
        }
        labels = (await this.engine.imageLabels(this.image)) ?? {};
      }
      return labels[LABEL_NODE_RED_VERSION] ?? null;
    })().catch((err: unknown) => {
      this.engineReady = null;
      throw err;
    });
    return this.engineReady;
  }

  private async createContainer(m: Managed): Promise<Live> {
    const { spec } = m;
    const id = spec.instanceId;
    const userDir = resolve(spec.userDir);
    await this.files.prepare(userDir, SETTINGS_FILE_NAME, spec.settingsJs, this.user);
    throwIfStopped(m.abort.signal, id);
    const container = this.containerSpec(spec, m.specHash, userDir);
    let containerId: string;
    try {
      containerId = await this.engine.createContainer(container).catch(async (err: unknown) => {
        if (!(err instanceof NameInUseError)) throw err;
        await this.freeName(container.name);
        return this.engine.createContainer(container);
      });
    } catch (err) {
      // The image or the network may have been removed behind the driver's back: check both again next time.
      this.engineReady = null;
      throw err;
    }
    if (m.abort.signal.aborted) {
      await this.engine.removeContainer(containerId);
      throw stoppedError(id);
    }
    try {
      await this.engine.startContainer(containerId);
    } catch (err) {
      await this.engine.removeContainer(containerId);
      throw err;
    }
    const state = await this.engine.inspectContainer(containerId);
    const live: Live = {
      containerId,
      host: state?.addresses[this.network] ?? '',
      pid: state?.pid ?? null,
      startedAt: state ? state.startedAt : new Date(this.clock.now()),
      exited: Promise.resolve({ code: null, oomKilled: false }),
      gone: false,
      expected: false,
      terminating: null,
      watch: new AbortController(),
      logsDone: Promise.resolve(),
    };
    this.attach(m, live, undefined);
    this.system(id, `started container ${container.name} (${this.image}) at ${live.host || 'no address'}:${DOCKER_NODE_RED_PORT}`);
    return live;
  }

  private containerSpec(spec: InstanceSpec, specHash: string, userDir: string): ContainerSpec {
    const heapMb = Math.max(16, Math.floor(spec.memoryMb * 0.75));
    return {
      name: containerName(spec.subdomain),
      image: this.image,
      // HOME inside the data dir, as with local processes: npm and nodes that write under ~ stay in the instance.
      env: { ...spec.env, HOME: DOCKER_USER_DIR, NODE_OPTIONS: `--max-old-space-size=${heapMb}` },
      labels: { [LABEL_SCOPE]: this.scope, [LABEL_INSTANCE]: spec.instanceId, [LABEL_SPEC]: specHash, [LABEL_SUBDOMAIN]: spec.subdomain },
      network: this.network,
      aliases: [...new Set(spec.aliases)].map(containerName),
      binds: [`${userDir}:${DOCKER_USER_DIR}`],
      memoryBytes: spec.memoryMb * MIB,
      nanoCpus: spec.cpu > 0 ? Math.round(spec.cpu * 1e9) : null,
      user: this.user ? `${this.user.uid}:${this.user.gid}` : null,
      extraHosts: [`${DOCKER_HOST_ALIAS}:host-gateway`],
      stopGraceSeconds: Math.ceil(this.stopGraceMs / 1000),
    };
  }

  /** A container of ours holding the name (a deleted instance's, or one a crashed manager left) gives way. */
  private async freeName(name: string): Promise<void> {
    const holder = await this.engine.inspectContainer(name);
    if (holder && holder.labels[LABEL_SCOPE] !== this.scope) {
      throw new InstanceDriverError('invalid_spec', `The container name ${name} is taken by a container this Openflow does not manage; remove or rename it`);
    }
    const managedHere = [...this.managed.values()].some((m) => m.live?.containerId === holder?.id);
    if (holder && managedHere) {
      throw new InstanceDriverError('already_running', `The container name ${name} is held by another running instance`);
    }
    if (holder) await this.discardById(holder.id, holder.name, 'its name is needed for a new container');
  }

  private awaitReady(m: Managed, live: Live): Promise<ReadyOutcome<ContainerExit>> {
    return awaitReady({
      signal: m.abort.signal,
      timeoutMs: this.startTimeoutMs,
      pollMs: this.readyPollMs,
      exited: live.exited,
      answers: live.host === '' ? null : () => this.probe.answersHttp(live.host, DOCKER_NODE_RED_PORT, HTTP_PROBE_TIMEOUT_MS),
    });
  }

  // ---- supervision ---------------------------------------------------------------------------------------------

  /** Starts the container's log stream and exit watch; an unexpected exit of a ready container is a crash. */
  private attach(m: Managed, live: Live, logTail: number | undefined): void {
    const id = m.spec.instanceId;
    m.live = live;
    live.logsDone = this.engine
      .followLogs(live.containerId, { tail: logTail, signal: live.watch.signal }, (stream, line) => this.pushOutput(m, stream, line))
      .catch((err: unknown) => {
        if (!live.watch.signal.aborted) this.logger.warn({ instanceId: id, err: (err as Error).message }, 'container log stream failed');
      });
    live.exited = this.watchExit(live);
    void live.exited.then((exit) => {
      live.gone = true;
      if (live.expected || m.live !== live || !m.ready || m.abort.signal.aborted || this.leaving) return;
      this.onCrash(m, live, exit);
    });
  }

  /** Waits for the container to stop, riding out a lost engine connection (dockerd restarting) by asking again. */
  private async watchExit(live: Live): Promise<ContainerExit> {
    for (;;) {
      try {
        return await this.engine.waitForExit(live.containerId, live.watch.signal);
      } catch (err) {
        if (live.watch.signal.aborted) return { code: null, oomKilled: false };
        this.logger.warn({ container: live.containerId, err: (err as Error).message }, 'lost the wait on a container; asking the engine again');
        try {
          await sleep(ENGINE_RETRY_MS, undefined, { signal: live.watch.signal });
        } catch {
          return { code: null, oomKilled: false };
        }
        const state = await this.engine.inspectContainer(live.containerId).catch(() => undefined);
        if (state === null) return { code: null, oomKilled: false };
        if (state && !state.running) return { code: state.exitCode, oomKilled: state.oomKilled };
      }
    }
  }

  private onCrash(m: Managed, live: Live, exit: ContainerExit): void {
    const id = m.spec.instanceId;
    const message = describeExit(exit, m.spec.memoryMb);
    m.task = (async () => {
      try {
        await this.retire(m, live);
      } catch (err) {
        this.giveUp(m, `${message}; the engine could not remove the container: ${(err as Error).message}`);
        return;
      }
      if (exit.oomKilled) this.emitMemoryExceeded(m);
      const delay = this.events.crashed(id, m.crashes, message, (ms) => `restarting after crash (${message}) in ${ms} ms`);
      if (delay === null) {
        this.giveUp(m, this.crashLoopError(m, message).message);
        return;
      }
      await this.restart(m, delay, `crash: ${message}`);
    })();
  }

  private async restart(m: Managed, delay: number, reason: string): Promise<void> {
    const id = m.spec.instanceId;
    try {
      await pauseUnlessStopped(m.abort.signal, delay, id);
      const runtime = await this.launch(m);
      m.restarts += 1;
      this.emit({ type: 'restarted', instanceId: id, runtime, reason });
    } catch (err) {
      if (m.abort.signal.aborted) return;
      this.giveUp(m, (err as Error).message);
    }
  }

  private emitMemoryExceeded(m: Managed): void {
    const limitBytes = m.spec.memoryMb * MIB;
    this.emit({ type: 'memory-exceeded', instanceId: m.spec.instanceId, rssBytes: limitBytes, limitBytes });
  }

  private crashLoopError(m: Managed, lastReason: string): InstanceDriverError {
    return m.crashes.loopError(lastReason, this.logLines.lastOutput(m.spec.instanceId));
  }

  private giveUp(m: Managed, message: string): void {
    this.events.gaveUp(m.spec.instanceId, message);
    void this.settleQuietly(m);
  }

  // ---- stopping ------------------------------------------------------------------------------------------------

  private async stopNow(instanceId: string): Promise<void> {
    const m = this.managed.get(instanceId);
    if (!m) {
      await this.removeLeftovers(instanceId, 'stop requested');
      return;
    }
    m.abort.abort();
    if (m.live) await this.terminate(m, m.live, 'stop requested');
    await m.task.catch(() => undefined);
    // The launch loop checks the abort signal after every engine call that creates something.
    if (m.live) await this.terminate(m, m.live, 'stop requested');
    await this.settle(m);
  }

  /** docker stop (SIGTERM, SIGKILL after the grace period), then the container is removed. */
  private terminate(m: Managed, live: Live, reason: string): Promise<void> {
    if (live.terminating) return live.terminating;
    live.expected = true;
    live.terminating = (async () => {
      if (!live.gone) {
        this.system(m.spec.instanceId, `stopping container ${containerName(m.spec.subdomain)}: ${reason}`);
        await this.engine.stopContainer(live.containerId, Math.ceil(this.stopGraceMs / 1000));
      }
      await this.retire(m, live);
    })();
    return live.terminating;
  }

  /** Forgets an ended container: its last log lines are read, then it is removed. */
  private async retire(m: Managed, live: Live): Promise<void> {
    if (m.live === live) {
      m.live = null;
      m.ready = false;
    }
    await settlesWithin(live.logsDone, LOG_DRAIN_MS);
    live.watch.abort();
    await this.engine.removeContainer(live.containerId);
  }

  /** settle() where nobody awaits the outcome: an engine failure is logged rather than left unhandled. */
  private async settleQuietly(m: Managed): Promise<void> {
    try {
      await this.settle(m);
    } catch (err) {
      this.logger.error({ instanceId: m.spec.instanceId, err: (err as Error).message }, 'could not remove a Node-RED container');
    }
  }

  private async settle(m: Managed): Promise<void> {
    const id = m.spec.instanceId;
    const live = m.live;
    if (live && !this.leaving) await this.terminate(m, live, 'giving up');
    if (this.managed.get(id) !== m || this.leaving) return;
    this.managed.delete(id);
  }

  // ---- adoption and leftovers ----------------------------------------------------------------------------------

  private canAdopt(spec: InstanceSpec, container: ContainerSummary): boolean {
    return container.running && container.name === containerName(spec.subdomain) && container.labels[LABEL_SPEC] === this.hashSpec(spec);
  }

  private async adopt(spec: InstanceSpec, container: ContainerSummary): Promise<RuntimeInfo> {
    const id = spec.instanceId;
    const state = await this.engine.inspectContainer(container.id);
    const host = state?.addresses[this.network];
    if (!state?.running || !host) throw new Error(`container ${container.name} is not running on ${this.network}`);
    const m: Managed = {
      spec,
      specHash: this.hashSpec(spec),
      abort: new AbortController(),
      live: null,
      ready: false,
      restarts: 0,
      crashes: new CrashWindow(this.crash, this.clock),
      task: Promise.resolve(),
      nodeRedVersion: null,
    };
    this.managed.set(id, m);
    try {
      m.nodeRedVersion = await this.prepareEngine();
    } catch (err) {
      this.managed.delete(id);
      throw err;
    }
    const live: Live = {
      containerId: container.id,
      host,
      pid: state.pid,
      startedAt: state.startedAt,
      exited: Promise.resolve({ code: null, oomKilled: false }),
      gone: false,
      expected: false,
      terminating: null,
      watch: new AbortController(),
      logsDone: Promise.resolve(),
    };
    this.attach(m, live, ADOPTION_LOG_TAIL);
    this.system(id, `adopted container ${container.name} at ${host}:${DOCKER_NODE_RED_PORT} left running by a previous manager`);
    const outcome = await this.awaitReady(m, live);
    if (outcome.kind === 'ready') {
      m.ready = true;
      return this.runtimeInfo(id, live);
    }
    await this.terminate(m, live, 'adopted container does not answer');
    await this.settle(m);
    throw new Error(`adopted container ${container.name} did not answer: ${outcome.kind}`);
  }

  /** Containers of this instance that nobody manages here: a previous manager's, not adopted. */
  private async removeLeftovers(instanceId: string, reason: string): Promise<void> {
    const mine = this.managed.get(instanceId)?.live?.containerId;
    for (const container of await this.engine.listContainers({ [LABEL_SCOPE]: this.scope, [LABEL_INSTANCE]: instanceId })) {
      if (container.id !== mine) await this.discard(container, reason);
    }
  }

  private discard(container: ContainerSummary, reason: string): Promise<void> {
    return this.discardById(container.id, container.name, reason, container.running);
  }

  private async discardById(id: string, name: string, reason: string, running = true): Promise<void> {
    this.logger.warn({ container: name, reason }, 'removing a Node-RED container nobody manages');
    if (running) await this.engine.stopContainer(id, Math.ceil(this.stopGraceMs / 1000));
    await this.engine.removeContainer(id);
  }

  // ---- logs and events -----------------------------------------------------------------------------------------

  private pushOutput(m: Managed, stream: 'stdout' | 'stderr', text: string): void {
    if (m.nodeRedVersion === null) {
      const version = VERSION_LINE.exec(text)?.[1];
      if (version) m.nodeRedVersion = version;
    }
    this.logLines.push(m.spec.instanceId, stream, text);
  }

  private system(instanceId: string, text: string): void {
    this.logLines.system(instanceId, text);
  }

  private emit(event: DriverEvent): void {
    this.events.emit(event);
  }

  // ---- small helpers -------------------------------------------------------------------------------------------

  private runtimeInfo(instanceId: string, live: Live): RuntimeInfo {
    return { instanceId, pid: live.pid, host: live.host, port: DOCKER_NODE_RED_PORT, startedAt: live.startedAt };
  }

  /** Everything Docker fixes when it creates the container; a running container with another hash is not adopted. */
  private hashSpec(spec: InstanceSpec): string {
    return createHash('sha256')
      .update(
        JSON.stringify([
          this.image,
          this.network,
          this.user,
          resolve(spec.userDir),
          spec.subdomain,
          [...new Set(spec.aliases)].sort(),
          spec.memoryMb,
          spec.cpu,
          spec.settingsJs,
          sortedEntries(spec.env),
        ]),
      )
      .digest('hex');
  }

  private validate(spec: InstanceSpec): void {
    if (!INSTANCE_ID.test(spec.instanceId)) throw new InstanceDriverError('invalid_spec', `instance id ${JSON.stringify(spec.instanceId)} is not usable as a label`);
    for (const label of [spec.subdomain, ...spec.aliases]) {
      if (!LABEL.test(label)) throw new InstanceDriverError('invalid_spec', `${JSON.stringify(label)} is not a DNS label usable in a container name`);
    }
    if (!isAbsolute(spec.userDir)) throw new InstanceDriverError('invalid_spec', `userDir must be absolute: ${spec.userDir}`);
    if (!Number.isInteger(spec.memoryMb) || spec.memoryMb < 6) throw new InstanceDriverError('invalid_spec', `memoryMb must be an integer of at least 6 (Docker's minimum): ${spec.memoryMb}`);
    if (!Number.isFinite(spec.cpu) || spec.cpu < 0) throw new InstanceDriverError('invalid_spec', `cpu must be a non-negative number: ${spec.cpu}`);
  }

  private assertOpen(): void {
    if (this.closed) throw new InstanceDriverError('closed', 'the Docker driver is closed');
  }
}
