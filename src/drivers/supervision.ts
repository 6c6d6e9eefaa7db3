import { setTimeout as sleep } from 'node:timers/promises';
import type { InstanceLogs } from './instance-logs.js';
import { InstanceDriverError, type Clock, type DriverEvent, type DriverLogger, type InstanceSpec, type RuntimeInfo } from './instance-driver.js';

export interface CrashPolicy {
  /** This many abnormal ends (crashes, memory-limit restarts) within windowMs make the driver give up. */
  maxCrashes: number;
  windowMs: number;
  /** Delay before the n-th restart inside the window; the last entry repeats. */
  backoffMs: number[];
}

/** Throws when the policy could never restart anything, so a misconfiguration fails at construction. */
export function assertCrashPolicy(policy: CrashPolicy): void {
  if (policy.maxCrashes < 1 || policy.backoffMs.length === 0) {
    throw new RangeError('crash policy needs maxCrashes >= 1 and at least one backoff delay');
  }
}

/** The recent abnormal ends of one instance, judged against the crash policy. */
export class CrashWindow {
  private endings: number[] = [];

  constructor(
    private readonly policy: CrashPolicy,
    private readonly clock: Clock,
  ) {}

  /** Records an abnormal end; returns the backoff before the next restart, or null when the window is full. */
  record(): number | null {
    const now = this.clock.now();
    this.endings = this.endings.filter((t) => now - t < this.policy.windowMs);
    this.endings.push(now);
    if (this.endings.length >= this.policy.maxCrashes) return null;
    const { backoffMs } = this.policy;
    return backoffMs[Math.min(this.endings.length - 1, backoffMs.length - 1)] ?? 0;
  }

  loopError(lastReason: string, lastLines: string[]): InstanceDriverError {
    const seconds = Math.round(this.policy.windowMs / 1000);
    return new InstanceDriverError(
      'crash_loop',
      `Node-RED ended abnormally ${this.endings.length} times within ${seconds} s; giving up. Last: ${lastReason}`,
      lastLines,
    );
  }
}

/**
 * Fans driver events out to listeners, a listener that throws being logged without stopping the others, and tells
 * the supervision steps every driver shares in the same words, as events and as system lines in the instance's log.
 */
export class DriverEvents {
  private readonly listeners = new Set<(event: DriverEvent) => void>();

  constructor(
    private readonly logs: InstanceLogs,
    private readonly logger: DriverLogger,
  ) {}

  on(listener: (event: DriverEvent) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  emit(event: DriverEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.logger.warn({ instanceId: event.instanceId, err: (err as Error).message }, 'driver event listener threw');
      }
    }
  }

  /**
   * Counts an abnormal end against the crash window. Returns null when the window is full; otherwise announces the
   * restart (`crashed`, then the system line `describe` words for the delay) and returns the delay.
   */
  crashed(instanceId: string, crashes: CrashWindow, message: string, describe: (restartInMs: number) => string): number | null {
    const delay = crashes.record();
    if (delay === null) return null;
    this.emit({ type: 'crashed', instanceId, message, restartInMs: delay });
    this.logs.system(instanceId, describe(delay));
    return delay;
  }

  gaveUp(instanceId: string, message: string): void {
    this.logs.system(instanceId, 'gave up restarting Node-RED');
    this.logger.error({ instanceId }, message);
    this.emit({ type: 'failed', instanceId, message });
  }
}

/** Resolves to whether the promise settled (fulfilled or rejected) within ms. */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolveTimeout) => {
    timer = setTimeout(() => resolveTimeout(false), ms);
  });
  return Promise.race([promise.then(() => true, () => true), timeout]).finally(() => clearTimeout(timer));
}

export function stoppedError(instanceId: string): InstanceDriverError {
  return new InstanceDriverError('stopped', `instance ${instanceId} was stopped before Node-RED answered`);
}

export function throwIfStopped(signal: AbortSignal, instanceId: string): void {
  if (signal.aborted) throw stoppedError(instanceId);
}

/** Waits ms, or throws the `stopped` error as soon as the instance is stopped. */
export async function pauseUnlessStopped(signal: AbortSignal, ms: number, instanceId: string): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch {
    throw stoppedError(instanceId);
  }
}

export type ReadyOutcome<Exit> = { kind: 'ready' } | { kind: 'exited'; exit: Exit } | { kind: 'timeout' } | { kind: 'aborted' };

export interface ReadyWatch<Exit> {
  signal: AbortSignal;
  timeoutMs: number;
  pollMs: number;
  exited: Promise<Exit>;
  /** Asked until it says yes; null when there is nothing to ask, so only an exit, the timeout or a stop ends the wait. */
  answers: (() => Promise<boolean>) | null;
}

/** Whichever comes first: Node-RED answers, its runtime exits, the start timeout, or a stop. */
export function awaitReady<Exit>(watch: ReadyWatch<Exit>): Promise<ReadyOutcome<Exit>> {
  const { signal, answers } = watch;
  if (signal.aborted) return Promise.resolve({ kind: 'aborted' });
  return new Promise((resolveOutcome) => {
    let done = false;
    const finish = (outcome: ReadyOutcome<Exit>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolveOutcome(outcome);
    };
    const onAbort = (): void => finish({ kind: 'aborted' });
    const timer = setTimeout(() => finish({ kind: 'timeout' }), watch.timeoutMs);
    signal.addEventListener('abort', onAbort);
    void watch.exited.then((exit) => finish({ kind: 'exited', exit }));
    if (!answers) return;
    void (async () => {
      while (!done) {
        if (await answers()) {
          finish({ kind: 'ready' });
          return;
        }
        await sleep(watch.pollMs);
      }
    })();
  });
}

/** One stop per instance at a time: a stop() while one is under way joins it. */
export class StopQueue {
  private readonly pending = new Map<string, Promise<void>>();

  /** The stop under way for this instance, if any; a start waits for it. */
  underWay(instanceId: string): Promise<void> | undefined {
    return this.pending.get(instanceId);
  }

  run(instanceId: string, stop: () => Promise<void>): Promise<void> {
    const pending = this.pending.get(instanceId);
    if (pending) return pending;
    const stopping = stop().finally(() => this.pending.delete(instanceId));
    this.pending.set(instanceId, stopping);
    return stopping;
  }
}

/**
 * recover()'s fresh starts, `concurrency` at a time, into `running`. A failure is reported as `failed`, except a crash
 * loop, which start() has already reported.
 */
export async function startConcurrently(
  specs: InstanceSpec[],
  concurrency: number,
  start: (spec: InstanceSpec) => Promise<RuntimeInfo>,
  running: Map<string, RuntimeInfo>,
  events: DriverEvents,
): Promise<void> {
  const queue = [...specs];
  const worker = async (): Promise<void> => {
    for (let spec = queue.shift(); spec; spec = queue.shift()) {
      try {
        running.set(spec.instanceId, await start(spec));
      } catch (err) {
        if (!(err instanceof InstanceDriverError && err.code === 'crash_loop')) {
          events.emit({ type: 'failed', instanceId: spec.instanceId, message: (err as Error).message });
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, specs.length) }, worker));
}
