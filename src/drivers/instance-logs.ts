import type { Clock, DriverLogger, LogLine } from './instance-driver.js';

/** The last `capacity` lines, oldest first. */
export class LogRing {
  private readonly lines: LogLine[] = [];
  private next = 0;

  constructor(private readonly capacity: number) {}

  push(line: LogLine): void {
    if (this.lines.length < this.capacity) {
      this.lines.push(line);
      return;
    }
    this.lines[this.next] = line;
    this.next = (this.next + 1) % this.capacity;
  }

  last(limit: number): LogLine[] {
    const ordered = [...this.lines.slice(this.next), ...this.lines.slice(0, this.next)];
    return limit >= ordered.length ? ordered : ordered.slice(ordered.length - Math.max(0, limit));
  }
}

export interface InstanceLogsOptions {
  /** Lines kept per instance. */
  capacity: number;
  /** Output lines quoted in error messages. */
  linesInMessages: number;
  /** Longer lines are cut here, marked with an ellipsis; unset when the source already cuts them. */
  maxLineChars?: number;
  clock: Clock;
  logger: DriverLogger;
}

/** Every instance's recent lines and live followers; the driver's own `system` lines also go to its logger. */
export class InstanceLogs {
  private readonly rings = new Map<string, LogRing>();
  private readonly followers = new Map<string, Set<(line: LogLine) => void>>();

  constructor(private readonly options: InstanceLogsOptions) {}

  push(instanceId: string, stream: LogLine['stream'], raw: string): void {
    const max = this.options.maxLineChars;
    const text = max !== undefined && raw.length > max ? `${raw.slice(0, max)}…` : raw;
    let ring = this.rings.get(instanceId);
    if (!ring) {
      ring = new LogRing(this.options.capacity);
      this.rings.set(instanceId, ring);
    }
    const line: LogLine = { ts: this.options.clock.now(), stream, line: text };
    ring.push(line);
    for (const follower of this.followers.get(instanceId) ?? []) {
      try {
        follower(line);
      } catch (err) {
        this.options.logger.warn({ instanceId, err: (err as Error).message }, 'log follower threw');
      }
    }
  }

  system(instanceId: string, text: string): void {
    this.options.logger.info({ instanceId }, text);
    this.push(instanceId, 'system', text);
  }

  last(instanceId: string, limit: number = this.options.capacity): LogLine[] {
    return this.rings.get(instanceId)?.last(limit) ?? [];
  }

  /** The runtime's own last lines, without the driver's, for error messages. */
  lastOutput(instanceId: string): string[] {
    return this.last(instanceId)
      .filter((line) => line.stream !== 'system')
      .slice(-this.options.linesInMessages)
      .map((line) => line.line);
  }

  follow(instanceId: string, onLine: (line: LogLine) => void): () => void {
    let set = this.followers.get(instanceId);
    if (!set) {
      set = new Set();
      this.followers.set(instanceId, set);
    }
    set.add(onLine);
    return () => {
      this.followers.get(instanceId)?.delete(onLine);
    };
  }

  forget(instanceId: string): void {
    this.rings.delete(instanceId);
    this.followers.delete(instanceId);
  }
}
