/**
 * The seam between the instance service (the one owner of instance state) and whatever runs Node-RED: local child
 * processes, Docker containers or Kubernetes Deployments. Drivers take a spec and report results and events; they
 * never touch the database.
 */

export interface InstanceSpec {
  instanceId: string;
  subdomain: string;
  aliases: string[];
  /** Absolute host path of the instance's data, `data/instances/<id>`. */
  userDir: string;
  /** The full settings file text; the driver writes it into userDir before every start, restarts included. */
  settingsJs: string;
  /** OPENFLOW_* plus the instance's own env. A driver that allocates the port adds OPENFLOW_PORT itself. */
  env: Record<string, string>;
  memoryMb: number;
  /** Recorded; enforced only by drivers that can. */
  cpu: number;
}

export interface RuntimeInfo {
  instanceId: string;
  /** Null while the instance waits between two processes (restart backoff). */
  pid: number | null;
  host: string;
  port: number;
  startedAt: Date;
}

export interface RuntimeStatus extends RuntimeInfo {
  rssBytes: number | null;
  uptimeMs: number;
  /** Automatic restarts (after a crash or the memory limit) since the last explicit start. */
  restarts: number;
  nodeRedVersion: string;
}

export type DriverEvent =
  | { type: 'crashed'; instanceId: string; message: string; restartInMs: number }
  | { type: 'restarted'; instanceId: string; runtime: RuntimeInfo; reason: string }
  /** Supervision gave up (too many crashes in the window, or a restart that never answered); carries log lines. */
  | { type: 'failed'; instanceId: string; message: string }
  | { type: 'memory-exceeded'; instanceId: string; rssBytes: number; limitBytes: number };

export interface LogLine {
  ts: number;
  stream: 'stdout' | 'stderr' | 'system';
  line: string;
}

export interface InstanceDriver {
  readonly name: 'process' | 'docker' | 'kubernetes';
  /** True when subdomain/aliases are fixed when the runtime is created, so changing them needs a restart. */
  readonly pinsNamesAtCreate: boolean;
  /** Resolves once Node-RED answers HTTP; rejects with an InstanceDriverError carrying the last log lines. */
  start(spec: InstanceSpec): Promise<RuntimeInfo>;
  /** Graceful stop, then a hard kill after the grace period. Idempotent. */
  stop(instanceId: string): Promise<void>;
  /** Stop and forget runtime artefacts (run files, logs); the instance's data dir is the service's to delete. */
  remove(instanceId: string): Promise<void>;
  /** Null when the driver runs nothing for this instance. */
  status(instanceId: string): Promise<RuntimeStatus | null>;
  logs(instanceId: string, limit?: number): LogLine[];
  /** Pushes every new line until the returned function is called. */
  followLogs(instanceId: string, onLine: (line: LogLine) => void): () => void;
  onEvent(listener: (event: DriverEvent) => void): () => void;
  /**
   * After a manager restart: adopt or restart every expected instance, kill runtimes nobody expects. Never two
   * runtimes for one instance. The map holds the instances that run afterwards; the others get a `failed` event.
   */
  recover(expected: InstanceSpec[]): Promise<Map<string, RuntimeInfo>>;
  /** Manager shutdown: stop every runtime, or leave them running for the next manager to adopt. */
  close(): Promise<void>;
}

export type InstanceDriverErrorCode =
  | 'invalid_spec'
  | 'already_running'
  | 'no_port'
  | 'start_timeout'
  | 'crash_loop'
  | 'stopped'
  | 'closed';

export class InstanceDriverError extends Error {
  constructor(
    readonly code: InstanceDriverErrorCode,
    message: string,
    /** The runtime's last output lines, oldest first; also part of the message when there are any. */
    readonly lastLines: string[] = [],
  ) {
    super(lastLines.length > 0 ? `${message}\n--- last log lines ---\n${lastLines.join('\n')}` : message);
    this.name = 'InstanceDriverError';
  }
}

/** Structured logging in the shape pino (Fastify's logger) accepts. */
export interface DriverLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export interface Clock {
  now(): number;
}
