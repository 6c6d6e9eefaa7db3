import { InstanceDriverError } from './instance-driver.js';
import type { LoopbackProbe } from './process-loopback.js';

export interface PortRange {
  start: number;
  end: number;
}

/**
 * Hands out ports from a range, one instance per port. A port stays held across an instance's restarts and is
 * remembered after it is released, so the instance gets it back when it is still free and other instances take it
 * only when nothing else is left.
 */
export class PortAllocator {
  private readonly held = new Map<string, number>();
  private readonly holders = new Map<number, string>();
  private readonly remembered = new Map<string, number>();

  constructor(
    private readonly range: PortRange,
    private readonly network: LoopbackProbe,
  ) {
    if (!Number.isInteger(range.start) || !Number.isInteger(range.end) || range.start < 1 || range.end > 65_535 || range.start > range.end) {
      throw new RangeError(`invalid port range ${range.start}-${range.end}`);
    }
  }

  portOf(instanceId: string): number | undefined {
    return this.held.get(instanceId);
  }

  holderOf(port: number): string | undefined {
    return this.holders.get(port);
  }

  contains(port: number): boolean {
    return Number.isInteger(port) && port >= this.range.start && port <= this.range.end;
  }

  /** Marks a port a running process already listens on (adoption); no probe, since it is taken by design. */
  hold(instanceId: string, port: number): void {
    const holder = this.holderOf(port);
    if (holder !== undefined && holder !== instanceId) throw new Error(`port ${port} is held by ${holder}`);
    this.setHeld(instanceId, port);
    this.remembered.set(instanceId, port);
  }

  prefer(instanceId: string, port: number): void {
    if (this.contains(port)) this.remembered.set(instanceId, port);
  }

  release(instanceId: string): void {
    const port = this.held.get(instanceId);
    if (port !== undefined) this.holders.delete(port);
    this.held.delete(instanceId);
  }

  forget(instanceId: string): void {
    this.release(instanceId);
    this.remembered.delete(instanceId);
  }

  /** A free port for the instance, held for it until released. `exclude` lists ports found clashing meanwhile. */
  async acquire(instanceId: string, exclude: ReadonlySet<number> = new Set()): Promise<number> {
    const own = [this.held.get(instanceId), this.remembered.get(instanceId)];
    this.release(instanceId);
    for (const port of own) {
      if (port !== undefined && !exclude.has(port) && (await this.tryTake(instanceId, port))) return port;
    }
    const rememberedByOthers = new Set<number>();
    for (const [other, port] of this.remembered) if (other !== instanceId) rememberedByOthers.add(port);
    for (const spareOthers of [true, false]) {
      for (let port = this.range.start; port <= this.range.end; port += 1) {
        if (exclude.has(port) || (spareOthers && rememberedByOthers.has(port))) continue;
        if (await this.tryTake(instanceId, port)) {
          this.remembered.set(instanceId, port);
          return port;
        }
      }
    }
    throw new InstanceDriverError('no_port', `no free port in ${this.range.start}-${this.range.end}`);
  }

  private async tryTake(instanceId: string, port: number): Promise<boolean> {
    if (!this.contains(port) || this.holderOf(port) !== undefined) return false;
    // Held before the probe's await so a concurrent acquire cannot pick the same port.
    this.setHeld(instanceId, port);
    if (await this.network.portIsFree(port)) return true;
    if (this.held.get(instanceId) === port) this.release(instanceId);
    return false;
  }

  private setHeld(instanceId: string, port: number): void {
    this.release(instanceId);
    this.held.set(instanceId, port);
    this.holders.set(port, instanceId);
  }
}
