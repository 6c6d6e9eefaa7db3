import { AUDIT_ACTIONS } from '../../../src/audit/audit-actions.js';
import type { AuditQuery } from '../api/types.js';

export interface AuditFilterInput {
  action: string;
  actorId: string;
  /** yyyy-mm-dd from a date input, in the person's own time zone. */
  since: string;
  until: string;
}

export const emptyAuditFilter: AuditFilterInput = { action: '', actorId: '', since: '', until: '' };

/** Choices for the action filter: every area as a wildcard ("instance.*"), then each action. */
export function actionChoices(): { areas: string[]; actions: readonly string[] } {
  const areas = [...new Set(AUDIT_ACTIONS.map((a) => a.split('.')[0]!))].map((a) => `${a}.*`);
  return { areas, actions: AUDIT_ACTIONS };
}

function localMidnight(day: string, addDays = 0): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return undefined;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + addDays).toISOString();
}

/** The API query for a filter form; "until" includes the whole chosen day. */
export function auditQuery(filter: AuditFilterInput, projectId: string | null, cursor?: string): AuditQuery {
  const q: AuditQuery = { limit: 50 };
  if (projectId) q.projectId = projectId;
  if (filter.action) q.action = filter.action;
  if (filter.actorId) q.actorId = filter.actorId;
  const since = localMidnight(filter.since);
  const until = localMidnight(filter.until, 1);
  if (since) q.since = since;
  if (until) q.until = until;
  if (cursor) q.cursor = cursor;
  return q;
}
