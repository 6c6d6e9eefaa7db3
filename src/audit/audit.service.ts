import type { FastifyBaseLogger } from 'fastify';
import { AppError, badRequest } from '../errors.js';
import { requireActor, type RequestContext } from '../identity/actor.js';
import type { AuditAction } from './audit-actions.js';
import type { AuditRepository, AuditRow } from './audit.repository.js';
import { describeAudit } from './audit-describe.js';

export interface AuditTarget {
  type: string;
  id?: string | null;
  label?: string | null;
  projectId?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditQuery {
  projectId?: string;
  actorId?: string;
  action?: string;
  since?: string;
  until?: string;
  cursor?: string;
  limit?: number;
}

export interface AuditEntry {
  id: string;
  createdAt: string;
  actorId: string | null;
  actor: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  target: string | null;
  projectId: string | null;
  outcome: 'success' | 'failure';
  errorCode: string | null;
  details: Record<string, unknown>;
  description: string;
  prose: string | null;
}

/** Projects a caller may read the audit of; null means all (platform admin). */
export interface AuditScope {
  projectIdsFor(userId: string): Promise<string[]>;
}

export class AuditService {
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly repo: AuditRepository,
    private readonly scope: AuditScope,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Called after rows are written, e.g. to wake the prose summarizer. */
  onRecorded(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async record(ctx: RequestContext, action: AuditAction, target: AuditTarget, outcome: 'success' | 'failure', errorCode: string | null = null): Promise<void> {
    try {
      await this.repo.insert({
        actorId: ctx.actor?.userId ?? null,
        actorLabel: ctx.actor?.email ?? null,
        action,
        targetType: target.type,
        targetId: target.id ?? null,
        targetLabel: target.label ?? null,
        projectId: target.projectId ?? null,
        outcome,
        errorCode,
        details: target.details ?? {},
        ip: ctx.ip,
      });
      for (const l of this.listeners) l();
    } catch (err) {
      this.log.error({ err, action }, 'audit write failed');
    }
  }

  /**
   * Runs one audited operation: success and failure are both written, with the error code on failure.
   * `describe` refines the target from the result (ids that exist only after creation).
   */
  async run<T>(ctx: RequestContext, action: AuditAction, target: AuditTarget, fn: () => Promise<T>, describe?: (result: T) => Partial<AuditTarget>): Promise<T> {
    try {
      const result = await fn();
      await this.record(ctx, action, { ...target, ...(describe ? describe(result) : {}) }, 'success');
      return result;
    } catch (err) {
      await this.record(ctx, action, target, 'failure', err instanceof AppError ? err.code : 'internal');
      throw err;
    }
  }

  async list(ctx: RequestContext, q: AuditQuery): Promise<{ items: AuditEntry[]; nextCursor: string | null }> {
    const actor = requireActor(ctx);
    const limit = Math.min(Math.max(q.limit ?? 50, 1), 200);
    const date = (v: string | undefined, name: string) => {
      if (!v) return null;
      const d = new Date(v);
      if (Number.isNaN(d.getTime())) throw badRequest('validation_failed', `querystring/${name} must be an ISO date`);
      return d;
    };
    const before = q.cursor ? Number(q.cursor) : null;
    if (before !== null && !Number.isSafeInteger(before)) throw badRequest('validation_failed', 'querystring/cursor is not valid');
    let projectIds: string[] | null = null;
    if (!actor.isAdmin) {
      projectIds = await this.scope.projectIdsFor(actor.userId);
      // A project the caller cannot see yields an empty page, the same as a project with no events.
      if (q.projectId && !projectIds.includes(q.projectId)) return { items: [], nextCursor: null };
    }
    const rows = await this.repo.list({
      projectIds,
      orActorId: projectIds && !q.projectId ? actor.userId : null,
      projectId: q.projectId ?? null,
      actorId: q.actorId ?? null,
      action: q.action ?? null,
      since: date(q.since, 'since'),
      until: date(q.until, 'until'),
      before,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    return { items: page.map(toEntry), nextCursor: rows.length > limit ? String(page[page.length - 1]!.id) : null };
  }
}

function toEntry(r: AuditRow): AuditEntry {
  return {
    id: String(r.id),
    createdAt: r.created_at.toISOString(),
    actorId: r.actor_id,
    actor: r.actor_label,
    action: r.action,
    targetType: r.target_type,
    targetId: r.target_id,
    target: r.target_label,
    projectId: r.project_id,
    outcome: r.outcome,
    errorCode: r.error_code,
    details: r.details,
    description: describeAudit(r),
    prose: r.prose,
  };
}
