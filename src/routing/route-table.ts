import type { InstanceRepository, RouteRow } from '../instances/instance.repository.js';
import type { RouteTarget } from './host-router.js';

export function buildRouteTable(rows: RouteRow[]): Map<string, RouteTarget> {
  const table = new Map<string, RouteTarget>();
  for (const r of rows) {
    const target: RouteTarget =
      r.state === 'running' && r.runtime_host && r.runtime_port
        ? { instanceId: r.id, subdomain: r.subdomain, state: 'running', upstream: { host: r.runtime_host, port: r.runtime_port } }
        : { instanceId: r.id, subdomain: r.subdomain, state: r.state === 'running' ? 'starting' : r.state };
    for (const label of r.labels) table.set(label, target);
  }
  return table;
}

/**
 * Rebuilds the whole table from the database on every change and hands it over in one assignment.
 * Changes that arrive during a rebuild trigger exactly one more, so the last change always wins.
 */
export class RouteTableSync {
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly repo: InstanceRepository,
    private readonly apply: (table: Map<string, RouteTarget>) => void,
    private readonly onError: (err: unknown) => void,
  ) {}

  refresh(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          this.apply(buildRouteTable(await this.repo.routes()));
        } catch (err) {
          this.onError(err);
        }
      } while (this.again);
      this.running = null;
    })();
    return this.running;
  }
}
