import type { FastifyBaseLogger } from 'fastify';
import { LOCKS, type Db } from '../../db/db.js';
import type { Clock } from '../../platform/clock.js';
import type { LlmSettingsService } from './llm-settings.service.js';
import { toSummaryInput, type PendingAuditRow } from './summary-input.js';
import { utcDay, type SummaryRepository } from './summary.repository.js';
import { SummarizerError, type Summarizer, type SummarizerFactory, type SummaryInput } from './summarizer.js';

export interface AuditSummaryWorkerOptions {
  /** How long rows gather between batches; also the first retry delay after a failure. */
  intervalMs: number;
  /** Rows per provider request. */
  batchSize: number;
  /** The longest wait between retries, however often the provider failed. */
  maxBackoffMs: number;
  /** Provider calls per wake-up, so one replica does not hold the lock for long; the rest follows at once. */
  maxRequestsPerTick: number;
}

/**
 * - `disabled`: off, or no key: nothing was sent.  - `busy`: another replica holds the lock.
 * - `idle`: nothing left to summarize.  - `budget`: the day's budget cannot fit another request.
 * - `failed`: the provider failed; retried after a backoff.  - `more`: stopped at maxRequestsPerTick with rows left.
 */
export type TickOutcome = 'disabled' | 'busy' | 'idle' | 'budget' | 'failed' | 'more';

/** A row the provider was asked about this often without answering is left to the template description. */
const MAX_MISSES = 3;
const MAX_TRACKED_MISSES = 10_000;

/**
 * Writes LLM prose onto audit rows in the background. Audited actions never wait for it: it only reads rows that are
 * already committed and writes their prose fields. One replica works at a time (advisory lock); the daily budget is
 * reserved in the database before each call, so replicas share it and it is never exceeded.
 */
export class AuditSummaryWorker {
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<TickOutcome> | null = null;
  private stopped = true;
  private abort = new AbortController();
  private unsubscribe: (() => void) | null = null;
  private failures = 0;
  /** Bumped by wake(): a drain that started under older settings stops and lets the next tick read the new ones. */
  private generation = 0;
  private lastError: SummarizerError | null = null;
  private cached: { apiKey: string; model: string; summarizer: Summarizer } | null = null;
  private readonly misses = new Map<string, number>();
  private budgetLoggedDay: string | null = null;

  constructor(
    private readonly db: Db,
    private readonly repo: SummaryRepository,
    private readonly settings: LlmSettingsService,
    private readonly createSummarizer: SummarizerFactory,
    private readonly clock: Clock,
    private readonly options: AuditSummaryWorkerOptions,
    private readonly log: FastifyBaseLogger,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.abort = new AbortController();
    this.unsubscribe = this.settings.onChanged(() => this.wake());
    this.schedule(this.options.intervalMs);
  }

  /** Cancels the request in flight (its reservation stays counted) and waits for the worker to settle. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.abort.abort();
    await this.current?.catch(() => undefined);
  }

  /** Forgets the backoff and works now: the settings (key, budget, model) may have changed. */
  wake(): void {
    this.generation += 1;
    this.failures = 0;
    this.lastError = null;
    this.schedule(0);
  }

  tick(): Promise<TickOutcome> {
    this.current ??= this.runOnce().finally(() => {
      this.current = null;
    });
    return this.current;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.tick().then(
        (outcome) => this.schedule(this.nextDelay(outcome)),
        (err: unknown) => {
          this.log.error({ err }, 'audit prose worker failed');
          this.schedule(this.options.intervalMs);
        },
      );
    }, delayMs);
    this.timer.unref();
  }

  private nextDelay(outcome: TickOutcome): number {
    if (outcome === 'more') return 0;
    if (outcome !== 'failed') return this.options.intervalMs;
    const { intervalMs, maxBackoffMs } = this.options;
    if (this.lastError?.failure === 'unauthorized') return maxBackoffMs;
    const backoff = Math.min(maxBackoffMs, intervalMs * 2 ** Math.min(this.failures - 1, 30));
    return Math.min(maxBackoffMs, Math.max(backoff, this.lastError?.retryAfterMs ?? 0));
  }

  private async runOnce(): Promise<TickOutcome> {
    const s = await this.settings.effective();
    if (!s.enabled || !s.apiKey) return 'disabled';
    const summarizer = this.summarizerFor(s.apiKey, s.model);
    const outcome = await this.db.tryWithLock(LOCKS.auditSummary, () => this.drain(summarizer, s.dailyTokenBudget));
    return outcome ?? 'busy';
  }

  private summarizerFor(apiKey: string, model: string): Summarizer {
    if (this.cached?.apiKey !== apiKey || this.cached.model !== model) this.cached = { apiKey, model, summarizer: this.createSummarizer({ apiKey, model }) };
    return this.cached.summarizer;
  }

  private async drain(summarizer: Summarizer, budget: number): Promise<TickOutcome> {
    const tried = new Set<string>();
    const generation = this.generation;
    for (let n = 0; n < this.options.maxRequestsPerTick; n += 1) {
      if (this.stopped) return 'idle';
      const given = [...this.misses].filter(([, count]) => count >= MAX_MISSES).map(([id]) => id);
      const rows = await this.repo.pending(this.options.batchSize * 4, [...tried, ...given]);
      if (rows.length === 0) return 'idle';
      if (generation !== this.generation) return 'more';
      const day = utcDay(this.clock.now());
      const held = await this.reserveFitting(summarizer, oneProject(rows, this.options.batchSize).map(toSummaryInput), day, budget);
      if (!held) {
        if (this.budgetLoggedDay !== day) this.log.info({ day, budget }, 'audit prose paused: the daily token budget is used up');
        this.budgetLoggedDay = day;
        return 'budget';
      }
      for (const r of held.rows) tried.add(r.id);
      if (!(await this.send(summarizer, held.rows, held.tokens, day))) return 'failed';
    }
    return 'more';
  }

  /** Shrinks the batch until its estimate fits what is left of the day; null when not even one row fits. */
  private async reserveFitting(summarizer: Summarizer, inputs: SummaryInput[], day: string, budget: number): Promise<{ rows: SummaryInput[]; tokens: number } | null> {
    for (let n = inputs.length; n > 0; n = Math.floor(n / 2)) {
      const rows = inputs.slice(0, n);
      const tokens = summarizer.estimateTokens(rows);
      if (await this.repo.reserve(day, tokens, budget)) return { rows, tokens };
    }
    return null;
  }

  private async send(summarizer: Summarizer, rows: SummaryInput[], reserved: number, day: string): Promise<boolean> {
    try {
      const result = await summarizer.summarize(rows, this.abort.signal);
      await this.repo.settle(day, reserved, result.usage, false);
      this.failures = 0;
      this.lastError = null;
      await this.repo.writeProse(result.sentences, summarizer.model, this.clock.now());
      this.countMisses(rows.filter((r) => !result.sentences.has(r.id)));
      return true;
    } catch (err) {
      const e = err instanceof SummarizerError ? err : new SummarizerError('unavailable', err instanceof Error ? err.message : 'unknown failure', null, null, true);
      await this.repo.settle(day, reserved, e.usage, e.outcomeUnknown && !e.usage);
      this.failures += 1;
      this.lastError = e;
      if (e.failure === 'rejected') this.countMisses(rows);
      if (!this.stopped) this.log.warn({ failure: e.failure, failures: this.failures, rows: rows.length }, `audit prose request failed: ${e.message}`);
      return false;
    }
  }

  private countMisses(rows: SummaryInput[]): void {
    for (const r of rows) this.misses.set(r.id, (this.misses.get(r.id) ?? 0) + 1);
    for (const id of this.misses.keys()) {
      if (this.misses.size <= MAX_TRACKED_MISSES) break;
      this.misses.delete(id);
    }
  }
}

/** The newest row's project (or the platform, for rows without one), up to `limit` of its rows. */
function oneProject(rows: PendingAuditRow[], limit: number): PendingAuditRow[] {
  const project = rows[0]!.project_id;
  return rows.filter((r) => r.project_id === project).slice(0, limit);
}
