import { one, type Db, type Queryable } from '../db/db.js';

export type BackupStatus = 'running' | 'complete' | 'failed';

export interface BackupRow {
  id: string;
  instance_id: string;
  project_id: string;
  kind: 'manual' | 'scheduled';
  status: BackupStatus;
  file_name: string;
  size_bytes: number | null;
  sha256: string | null;
  error_message: string | null;
  created_by: string | null;
  created_at: Date;
  completed_at: Date | null;
  progress_bytes: number;
  total_bytes: number | null;
  restore_status: BackupStatus | null;
  restore_progress_bytes: number;
  restore_error: string | null;
  restored_at: Date | null;
}

export interface ScheduleRow {
  id: string;
  project_id: string;
  subdomain: string;
  created_at: Date;
  backup_schedule: string | null;
  backup_retention: number;
  backup_enabled: boolean;
  backup_last_slot: Date | null;
}

export class BackupRepository {
  constructor(private readonly db: Db) {}

  async insert(b: { id: string; instanceId: string; projectId: string; kind: 'manual' | 'scheduled'; fileName: string; createdBy: string | null }): Promise<BackupRow> {
    const rows = await this.db.query<BackupRow>(
      `INSERT INTO backups (id, instance_id, project_id, kind, status, file_name, created_by) VALUES ($1,$2,$3,$4,'running',$5,$6) RETURNING *`,
      [b.id, b.instanceId, b.projectId, b.kind, b.fileName, b.createdBy],
    );
    return rows[0]!;
  }

  get(id: string): Promise<BackupRow | null> {
    return one<BackupRow>(this.db, 'SELECT * FROM backups WHERE id = $1', [id]);
  }

  listByInstance(instanceId: string): Promise<BackupRow[]> {
    return this.db.query<BackupRow>('SELECT * FROM backups WHERE instance_id = $1 ORDER BY created_at DESC, id DESC', [instanceId]);
  }

  async progress(id: string, fields: { progressBytes?: number; totalBytes?: number; restoreProgressBytes?: number }): Promise<void> {
    await this.db.query(
      `UPDATE backups SET progress_bytes = COALESCE($2, progress_bytes), total_bytes = COALESCE($3, total_bytes), restore_progress_bytes = COALESCE($4, restore_progress_bytes) WHERE id = $1`,
      [id, fields.progressBytes ?? null, fields.totalBytes ?? null, fields.restoreProgressBytes ?? null],
    );
  }

  async complete(id: string, r: { sizeBytes: number; sha256: string; completedAt: Date }): Promise<void> {
    await this.db.query(`UPDATE backups SET status = 'complete', size_bytes = $2, sha256 = $3, completed_at = $4, progress_bytes = COALESCE(total_bytes, progress_bytes) WHERE id = $1`, [id, r.sizeBytes, r.sha256, r.completedAt]);
  }

  async fail(id: string, message: string, at: Date): Promise<void> {
    await this.db.query(`UPDATE backups SET status = 'failed', error_message = $2, completed_at = $3 WHERE id = $1`, [id, message, at]);
  }

  /** Claims the backup for one restore at a time: false when a restore of it is already running. */
  async startRestore(id: string): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE backups SET restore_status = 'running', restore_progress_bytes = 0, restore_error = NULL WHERE id = $1 AND status = 'complete' AND restore_status IS DISTINCT FROM 'running' RETURNING id`,
      [id],
    );
    return rows.length > 0;
  }

  async finishRestore(id: string, outcome: { error: string | null; at: Date }): Promise<void> {
    await this.db.query(
      `UPDATE backups SET restore_status = $2, restore_error = $3, restored_at = CASE WHEN $3::text IS NULL THEN $4 ELSE restored_at END WHERE id = $1`,
      [id, outcome.error === null ? 'complete' : 'failed', outcome.error, outcome.at],
    );
  }

  async delete(id: string): Promise<void> {
    await this.db.query('DELETE FROM backups WHERE id = $1', [id]);
  }

  /** Completed scheduled backups beyond the newest `keep`, oldest first. */
  expiredScheduled(instanceId: string, keep: number): Promise<BackupRow[]> {
    return this.db.query<BackupRow>(
      `SELECT * FROM backups WHERE instance_id = $1 AND kind = 'scheduled' AND status <> 'running'
       ORDER BY created_at DESC, id DESC OFFSET $2`,
      [instanceId, keep],
    );
  }

  schedules(): Promise<ScheduleRow[]> {
    return this.db.query<ScheduleRow>('SELECT id, project_id, subdomain, created_at, backup_schedule, backup_retention, backup_enabled, backup_last_slot FROM instances ORDER BY id');
  }

  getSchedule(instanceId: string): Promise<ScheduleRow | null> {
    return one<ScheduleRow>(this.db, 'SELECT id, project_id, subdomain, created_at, backup_schedule, backup_retention, backup_enabled, backup_last_slot FROM instances WHERE id = $1', [instanceId]);
  }

  async setSchedule(instanceId: string, s: { cron: string; enabled: boolean; retention: number; slot: Date }): Promise<void> {
    await this.db.query('UPDATE instances SET backup_schedule = $2, backup_enabled = $3, backup_retention = $4, backup_last_slot = $5, updated_at = now() WHERE id = $1', [instanceId, s.cron, s.enabled, s.retention, s.slot]);
  }

  /**
   * Compare-and-set on the instance's last scheduled slot: of several replicas (or ticks) that see the same due slot,
   * exactly one moves it forward and runs the backup.
   */
  async claimSlot(q: Queryable, instanceId: string, seen: Date | null, slot: Date): Promise<boolean> {
    const rows = await q.query(
      'UPDATE instances SET backup_last_slot = $3 WHERE id = $1 AND backup_last_slot IS NOT DISTINCT FROM $2::timestamptz RETURNING id',
      [instanceId, seen, slot],
    );
    return rows.length > 0;
  }
}
