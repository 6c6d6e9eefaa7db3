import type { SafeDetail, SummaryInput } from './summarizer.js';

/** An audit row awaiting prose, with the display names the summary may use. */
export interface PendingAuditRow {
  id: string;
  actor_id: string | null;
  actor_name: string | null;
  action: string;
  target_type: string | null;
  target_label: string | null;
  target_user_name: string | null;
  instance_subdomain: string | null;
  project_id: string | null;
  project_name: string | null;
  outcome: 'success' | 'failure';
  error_code: string | null;
  details: Record<string, unknown>;
}

const EMAIL = /[^\s@]+@[^\s@]+/g;
/** Long runs mixing upper case, lower case and digits read like keys or tokens; names and subdomains do not. */
const SECRET_LIKE = /[A-Za-z0-9+/=_-]{24,}/g;
const FIELD_NAME = /^[A-Za-z0-9_.-]{1,40}$/;
const CODE = /^[a-z0-9_.]{1,60}$/;

/** User-typed text, stripped of anything that looks like an address or a credential and kept short. */
export function cleanText(value: string, max = 80): string {
  const text = value
    .replace(/\s+/g, ' ')
    .trim()
    .replace(EMAIL, '[email]')
    .replace(SECRET_LIKE, (run) => (/[a-z]/.test(run) && /[A-Z]/.test(run) && /[0-9]/.test(run) ? '[redacted]' : run));
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

type DetailRule = (v: unknown) => SafeDetail | undefined;
const shortText = (max: number): DetailRule => (v) => (typeof v === 'string' && v.trim() ? cleanText(v, max) : undefined);

/**
 * The only detail keys that may reach a provider. Everything else (emails, user ids, instance ids, URLs, any key a
 * future feature adds) stays home until someone decides it is safe and lists it here.
 */
const DETAIL_RULES: Record<string, DetailRule> = {
  role: shortText(20),
  kind: shortText(20),
  reason: shortText(40),
  via: shortText(20),
  alias: shortText(63),
  cron: shortText(60),
  enabled: (v) => (typeof v === 'boolean' ? v : undefined),
  retention: (v) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined),
  fields: (v) => (Array.isArray(v) ? v.filter((f): f is string => typeof f === 'string' && FIELD_NAME.test(f)).slice(0, 20) : undefined),
};

export function safeDetails(details: Record<string, unknown>): Record<string, SafeDetail> {
  const out: Record<string, SafeDetail> = {};
  for (const [key, rule] of Object.entries(DETAIL_RULES)) {
    if (!Object.hasOwn(details, key)) continue;
    const value = rule(details[key]);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function targetName(r: PendingAuditRow): string | null {
  switch (r.target_type) {
    // A user row's label is an email, or whatever was typed into the login form (sometimes a password).
    case 'user':
      return r.target_user_name;
    case 'request':
      return null;
    case 'instance':
      return r.target_label ?? r.instance_subdomain;
    case 'project':
      return r.target_label ?? r.project_name;
    default:
      return r.target_label;
  }
}

/** Builds what a provider sees of one row: display names and codes, never the stored email labels or raw details. */
export function toSummaryInput(r: PendingAuditRow): SummaryInput {
  const actor = r.actor_id === null ? 'The platform' : r.actor_name ? cleanText(r.actor_name) : 'A former user';
  const target = targetName(r);
  return {
    id: r.id,
    actor,
    action: CODE.test(r.action) ? r.action : 'unknown',
    targetType: r.target_type && CODE.test(r.target_type) ? r.target_type : null,
    target: target ? cleanText(target) : null,
    project: r.project_name ? cleanText(r.project_name) : null,
    outcome: r.outcome,
    errorCode: r.error_code === null ? null : CODE.test(r.error_code) ? r.error_code : 'error',
    details: safeDetails(r.details ?? {}),
  };
}
