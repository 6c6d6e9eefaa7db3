import type { Queryable } from '../../db/db.js';
import type { PendingAuditRow } from './summary-input.js';
import type { SummaryUsage } from './summarizer.js';

export interface UsageDay {
  /** UTC date, YYYY-MM-DD. */
  day: string;
  inputTokens: number;
  outputTokens: number;
  /** Held for calls in flight, and kept for calls whose outcome is unknown (timeouts), so the budget errs low. */
  reservedTokens: number;
  requests: number;
}

/** The `llm` row of platform_settings; the key is sealed, never stored in the clear. */
export interface StoredLlmSettings {
  apiKeySealed?: string;
  enabled?: boolean;
  model?: string;
  dailyTokenBudget?: number;
}

const SETTINGS_KEY = 'llm';

/** Budgets run per UTC day, whatever the replicas' time zones. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** Reads rows awaiting prose and writes only their prose fields; keeps the shared daily token count. */
export class SummaryRepository {
  constructor(private readonly db: Queryable) {}

  /** Newest first, so the audit view people are reading fills first; `exclude` skips rows already tried. */
  pending(limit: number, exclude: readonly string[]): Promise<PendingAuditRow[]> {
    return this.db.query<PendingAuditRow>(
      `SELECT a.id::text AS id, a.actor_id, au.name AS actor_name, a.action, a.target_type, a.target_label,
              tu.name AS target_user_name, i.subdomain AS instance_subdomain, a.project_id, p.name AS project_name,
              a.outcome, a.error_code, a.details
         FROM audit_log a
         LEFT JOIN users au ON au.id = a.actor_id
         LEFT JOIN users tu ON a.target_type = 'user' AND tu.id::text = a.target_id
         LEFT JOIN instances i ON a.target_type = 'instance' AND i.id::text = a.target_id
         LEFT JOIN projects p ON p.id = a.project_id
        WHERE a.prose IS NULL AND NOT (a.id = ANY($1::bigint[]))
        ORDER BY a.id DESC
        LIMIT $2`,
      [exclude, limit],
    );
  }

  /** Fills prose on rows that still have none; nothing else on an audit row is ever written here. */
  async writeProse(sentences: ReadonlyMap<string, string>, model: string, at: Date): Promise<number> {
    if (sentences.size === 0) return 0;
    const rows = await this.db.query(
      `UPDATE audit_log a SET prose = v.prose, prose_model = $3, prose_at = $4
         FROM unnest($1::bigint[], $2::text[]) AS v(id, prose)
        WHERE a.id = v.id AND a.prose IS NULL
        RETURNING a.id`,
      [[...sentences.keys()], [...sentences.values()], model, at],
    );
    return rows.length;
  }

  /**
   * Holds `tokens` of the day's budget in one statement, so replicas racing for the last tokens cannot both win.
   * Returns false, holding nothing, when they do not fit.
   */
  async reserve(day: string, tokens: number, budget: number): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO llm_usage AS u (day, reserved_tokens) SELECT $1::date, $2::bigint WHERE $2::bigint <= $3::bigint
       ON CONFLICT (day) DO UPDATE SET reserved_tokens = u.reserved_tokens + EXCLUDED.reserved_tokens
        WHERE u.input_tokens + u.output_tokens + u.reserved_tokens + EXCLUDED.reserved_tokens <= $3::bigint
       RETURNING u.day`,
      [day, tokens, budget],
    );
    return rows.length > 0;
  }

  /** Replaces a reservation by what the provider reported; `keepReserved` leaves it counted when the outcome is unknown. */
  async settle(day: string, reserved: number, usage: SummaryUsage | null, keepReserved: boolean): Promise<void> {
    await this.db.query(
      `UPDATE llm_usage SET reserved_tokens = GREATEST(reserved_tokens - $2::bigint, 0), input_tokens = input_tokens + $3::bigint,
              output_tokens = output_tokens + $4::bigint, requests = requests + 1
        WHERE day = $1::date`,
      [day, keepReserved ? 0 : reserved, usage?.inputTokens ?? 0, usage?.outputTokens ?? 0],
    );
  }

  async usage(day: string): Promise<UsageDay> {
    const rows = await this.db.query<{ input: number; output: number; reserved: number; requests: number }>(
      `SELECT input_tokens::float8 AS input, output_tokens::float8 AS output, reserved_tokens::float8 AS reserved, requests
         FROM llm_usage WHERE day = $1::date`,
      [day],
    );
    const r = rows[0];
    return { day, inputTokens: r?.input ?? 0, outputTokens: r?.output ?? 0, reservedTokens: r?.reserved ?? 0, requests: r?.requests ?? 0 };
  }

  async readSettings(q: Queryable = this.db, forUpdate = false): Promise<StoredLlmSettings> {
    // A row must exist for FOR UPDATE to serialise two admins saving at once.
    if (forUpdate) await q.query(`INSERT INTO platform_settings (key, value) VALUES ($1, '{}') ON CONFLICT (key) DO NOTHING`, [SETTINGS_KEY]);
    const rows = await q.query<{ value: StoredLlmSettings }>(`SELECT value FROM platform_settings WHERE key = $1${forUpdate ? ' FOR UPDATE' : ''}`, [SETTINGS_KEY]);
    return rows[0]?.value ?? {};
  }

  async writeSettings(q: Queryable, value: StoredLlmSettings, at: Date): Promise<void> {
    await q.query(
      `INSERT INTO platform_settings (key, value, updated_at) VALUES ($1, $2::jsonb, $3)
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at`,
      [SETTINGS_KEY, JSON.stringify(value), at],
    );
  }
}
