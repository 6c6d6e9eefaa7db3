/** Detail values that may leave the manager: short scalars and lists of field names, nothing else. */
export type SafeDetail = string | number | boolean | string[];

/**
 * What one audit row tells a provider: names and codes only. Built by `toSummaryInput`, which is the one place
 * that decides what may leave the manager.
 */
export interface SummaryInput {
  id: string;
  /** Display name of who acted; "The platform" for system actions. */
  actor: string;
  action: string;
  targetType: string | null;
  target: string | null;
  project: string | null;
  outcome: 'success' | 'failure';
  errorCode: string | null;
  details: Record<string, SafeDetail>;
}

export interface SummaryUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface SummaryResult {
  /** One sentence per row id the provider answered for; rows it skipped are absent. */
  sentences: Map<string, string>;
  usage: SummaryUsage;
}

/** The provider seam: one implementation per LLM vendor. */
export interface Summarizer {
  readonly model: string;
  /** An upper bound of the tokens (input + output) one call for these rows may use; checked against the budget first. */
  estimateTokens(rows: readonly SummaryInput[]): number;
  /** Throws SummarizerError for every provider failure. */
  summarize(rows: readonly SummaryInput[], signal?: AbortSignal): Promise<SummaryResult>;
}

export type SummarizerFactory = (opts: { apiKey: string; model: string }) => Summarizer;

/**
 * - `rate_limited`, `unavailable` (5xx, network), `timeout`: transient, retried after a backoff.
 * - `unauthorized`: the key is wrong or lacks access; retried after the longest backoff or a settings change.
 * - `rejected`: the provider refused the request (4xx) or answered with something unreadable.
 */
export type SummarizerFailure = 'rate_limited' | 'unavailable' | 'timeout' | 'unauthorized' | 'rejected';

export class SummarizerError extends Error {
  constructor(
    readonly failure: SummarizerFailure,
    message: string,
    /** What the provider asked us to wait, when it said. */
    readonly retryAfterMs: number | null = null,
    /** Usage the provider reported for a call that still failed (e.g. an unreadable answer). */
    readonly usage: SummaryUsage | null = null,
    /** Whether the provider may have done (and billed) the work: unknown for timeouts and dropped connections. */
    readonly outcomeUnknown = false,
  ) {
    super(message);
    this.name = 'SummarizerError';
  }
}
