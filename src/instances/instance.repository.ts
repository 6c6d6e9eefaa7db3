import { one, type Db, type Queryable } from '../db/db.js';

export type InstanceState = 'stopped' | 'starting' | 'running' | 'stopping' | 'error';

export interface InstanceRow {
  id: string;
  project_id: string;
  subdomain: string;
  template_id: string;
  memory_mb: number;
  cpu: number;
  env: Record<string, string>;
  settings: Record<string, unknown>;
  desired_state: 'running' | 'stopped';
  state: InstanceState;
  error_message: string | null;
  secrets_enc: string;
  mqtt_username: string;
  runtime_host: string | null;
  runtime_port: number | null;
  started_at: Date | null;
  restart_count: number;
  backup_schedule: string | null;
  backup_retention: number;
  created_at: Date;
  updated_at: Date;
  aliases: string[];
}

export interface RouteRow {
  id: string;
  subdomain: string;
  state: InstanceState;
  runtime_host: string | null;
  runtime_port: number | null;
  labels: string[];
}

const SELECT = `SELECT i.*, COALESCE((SELECT array_agg(a.label ORDER BY a.label) FROM instance_aliases a WHERE a.instance_id = i.id), '{}') AS aliases FROM instances i`;

/** Label uniqueness spans two tables, so inserts of either take this transaction-scoped lock first. */
const LABEL_LOCK = 710_100;

export class InstanceRepository {
  constructor(private readonly db: Db) {}

  get(id: string): Promise<InstanceRow | null> {
    return one<InstanceRow>(this.db, `${SELECT} WHERE i.id = $1`, [id]);
  }

  listByProject(projectId: string): Promise<InstanceRow[]> {
    return this.db.query<InstanceRow>(`${SELECT} WHERE i.project_id = $1 ORDER BY i.subdomain`, [projectId]);
  }

  listAll(): Promise<InstanceRow[]> {
    return this.db.query<InstanceRow>(`${SELECT} ORDER BY i.subdomain`);
  }

  routes(): Promise<RouteRow[]> {
    return this.db.query<RouteRow>(
      `SELECT i.id, i.subdomain, i.state, i.runtime_host, i.runtime_port,
         array_prepend(i.subdomain, COALESCE((SELECT array_agg(a.label) FROM instance_aliases a WHERE a.instance_id = i.id), '{}')) AS labels
       FROM instances i`,
    );
  }

  private async labelTaken(q: Queryable, label: string): Promise<boolean> {
    const rows = await q.query('SELECT 1 FROM instances WHERE subdomain = $1 UNION ALL SELECT 1 FROM instance_aliases WHERE label = $1', [label]);
    return rows.length > 0;
  }

  /** Inserts the instance and its broker credential together; returns false when the subdomain is taken. */
  async insert(row: {
    id: string;
    projectId: string;
    subdomain: string;
    templateId: string;
    memoryMb: number;
    cpu: number;
    env: Record<string, string>;
    secretsEnc: string;
    mqttUsername: string;
    mqttPasswordHash: string;
    createdBy: string;
  }): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [LABEL_LOCK]);
      if (await this.labelTaken(tx, row.subdomain)) return false;
      await tx.query(
        `INSERT INTO instances (id, project_id, subdomain, template_id, memory_mb, cpu, env, secrets_enc, mqtt_username)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
        [row.id, row.projectId, row.subdomain, row.templateId, row.memoryMb, row.cpu, JSON.stringify(row.env), row.secretsEnc, row.mqttUsername],
      );
      await tx.query(
        `INSERT INTO mqtt_clients (id, project_id, instance_id, username, password_hash, description, created_by)
         VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6)`,
        [row.projectId, row.id, row.mqttUsername, row.mqttPasswordHash, `Instance ${row.subdomain}`, row.createdBy],
      );
      return true;
    });
  }

  async addAlias(instanceId: string, label: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [LABEL_LOCK]);
      if (await this.labelTaken(tx, label)) return false;
      await tx.query('INSERT INTO instance_aliases (label, instance_id) VALUES ($1, $2)', [label, instanceId]);
      return true;
    });
  }

  async removeAlias(instanceId: string, label: string): Promise<boolean> {
    const rows = await this.db.query('DELETE FROM instance_aliases WHERE instance_id = $1 AND label = $2 RETURNING label', [instanceId, label]);
    return rows.length > 0;
  }

  /**
   * Compare-and-set on the state column: the transition happens only from one of `from`, so two
   * callers (or two manager replicas) can never both start or stop the same instance.
   */
  async transition(id: string, from: InstanceState[], to: InstanceState, fields: Partial<{ desired_state: 'running' | 'stopped'; error_message: string | null; runtime_host: string | null; runtime_port: number | null; started_at: Date | null; restart_count: number }> = {}): Promise<InstanceRow | null> {
    const sets = ['state = $3', 'updated_at = now()'];
    const params: unknown[] = [id, from, to];
    for (const [k, v] of Object.entries(fields)) {
      params.push(v);
      sets.push(`${k} = $${params.length}`);
    }
    const rows = await this.db.query<{ id: string }>(`UPDATE instances SET ${sets.join(', ')} WHERE id = $1 AND state = ANY($2::text[]) RETURNING id`, params);
    return rows.length ? this.get(id) : null;
  }

  async update(id: string, fields: Partial<{ memory_mb: number; cpu: number; env: Record<string, string>; secrets_enc: string; backup_schedule: string | null; backup_retention: number }>): Promise<void> {
    const sets = ['updated_at = now()'];
    const params: unknown[] = [id];
    for (const [k, v] of Object.entries(fields)) {
      params.push(k === 'env' ? JSON.stringify(v) : v);
      sets.push(`${k} = $${params.length}`);
    }
    await this.db.query(`UPDATE instances SET ${sets.join(', ')} WHERE id = $1`, params);
  }

  async incrementRestarts(id: string): Promise<void> {
    await this.db.query('UPDATE instances SET restart_count = restart_count + 1, updated_at = now() WHERE id = $1', [id]);
  }

  async delete(id: string): Promise<void> {
    await this.db.query('DELETE FROM instances WHERE id = $1', [id]);
  }
}
