import type { Queryable } from '../db/db.js';
import type { AuditAction } from './audit-actions.js';

export interface AuditEntryInput {
  actorId: string | null;
  actorLabel: string | null;
  action: AuditAction;
  targetType: string | null;
  targetId: string | null;
  targetLabel: string | null;
  projectId: string | null;
  outcome: 'success' | 'failure';
  errorCode: string | null;
  details: Record<string, unknown>;
  ip: string | null;
}

export interface AuditRow {
  id: number;
  created_at: Date;
  actor_id: string | null;
  actor_label: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  target_label: string | null;
  project_id: string | null;
  outcome: 'success' | 'failure';
  error_code: string | null;
  details: Record<string, unknown>;
  prose: string | null;
}

export interface AuditFilter {
  projectIds: string[] | null;
  orActorId: string | null;
  projectId: string | null;
  actorId: string | null;
  action: string | null;
  since: Date | null;
  until: Date | null;
  before: number | null;
  limit: number;
}

export class AuditRepository {
  constructor(private readonly db: Queryable) {}

  async insert(e: AuditEntryInput): Promise<void> {
    await this.db.query(
      `INSERT INTO audit_log (actor_id, actor_label, action, target_type, target_id, target_label, project_id, outcome, error_code, details, ip)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`,
      [e.actorId, e.actorLabel, e.action, e.targetType, e.targetId, e.targetLabel, e.projectId, e.outcome, e.errorCode, JSON.stringify(e.details), e.ip],
    );
  }

  async list(f: AuditFilter): Promise<AuditRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    if (f.projectIds !== null) {
      where.push(f.orActorId ? `(project_id = ANY(${p(f.projectIds)}::uuid[]) OR actor_id = ${p(f.orActorId)})` : `project_id = ANY(${p(f.projectIds)}::uuid[])`);
    }
    if (f.projectId) where.push(`project_id = ${p(f.projectId)}`);
    if (f.actorId) where.push(`actor_id = ${p(f.actorId)}`);
    if (f.action) where.push(f.action.endsWith('.*') ? `action LIKE ${p(f.action.slice(0, -1) + '%')}` : `action = ${p(f.action)}`);
    if (f.since) where.push(`created_at >= ${p(f.since)}`);
    if (f.until) where.push(`created_at < ${p(f.until)}`);
    if (f.before !== null) where.push(`id < ${p(f.before)}`);
    const sql = `SELECT id, created_at, actor_id, actor_label, action, target_type, target_id, target_label, project_id, outcome, error_code, details, prose
      FROM audit_log ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ${p(f.limit)}`;
    return this.db.query<AuditRow>(sql, params);
  }
}
