import type { FastifyBaseLogger } from 'fastify';
import type { AuditSummaryConfig } from '../../config.js';
import type { Db } from '../../db/db.js';
import { forbidden } from '../../errors.js';
import { requireActor, type RequestContext } from '../../identity/actor.js';
import type { Clock } from '../../platform/clock.js';
import type { SecretBox } from '../../platform/crypto.js';
import type { AuditService } from '../audit.service.js';
import { utcDay, type StoredLlmSettings, type SummaryRepository, type UsageDay } from './summary.repository.js';

export interface EffectiveLlmSettings {
  enabled: boolean;
  model: string;
  dailyTokenBudget: number;
  apiKey: string | null;
  keySource: 'stored' | 'env' | null;
}

/** What the API shows: everything but the key itself. */
export interface LlmSettingsView {
  enabled: boolean;
  model: string;
  dailyTokenBudget: number;
  keyConfigured: boolean;
  keySource: 'stored' | 'env' | null;
  /** Enabled and a key configured: summaries are being written. */
  active: boolean;
  usage: UsageDay;
}

/** Each field: a value stores it, null drops the stored value so the environment's applies again. */
export interface LlmSettingsUpdate {
  apiKey?: string | null;
  enabled?: boolean | null;
  model?: string | null;
  dailyTokenBudget?: number | null;
}

/**
 * LLM settings: environment defaults, overridden field by field by what a platform admin stored. The key is sealed
 * with a purpose-bound SecretBox and only ever leaves this class towards the provider client.
 */
export class LlmSettingsService {
  private readonly listeners = new Set<() => void>();
  private warnedSealed: string | null = null;

  constructor(
    private readonly db: Db,
    private readonly repo: SummaryRepository,
    private readonly box: SecretBox,
    private readonly defaults: AuditSummaryConfig,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Called after an admin changed the settings, e.g. so the worker retries at once with a new key. */
  onChanged(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async effective(): Promise<EffectiveLlmSettings> {
    const stored = await this.repo.readSettings();
    const storedKey = this.openKey(stored.apiKeySealed);
    const apiKey = storedKey ?? this.defaults.apiKey;
    return {
      enabled: stored.enabled ?? this.defaults.enabled,
      model: stored.model ?? this.defaults.model,
      dailyTokenBudget: stored.dailyTokenBudget ?? this.defaults.dailyTokenBudget,
      apiKey,
      keySource: storedKey ? 'stored' : apiKey ? 'env' : null,
    };
  }

  async view(ctx: RequestContext): Promise<LlmSettingsView> {
    if (!requireActor(ctx).isAdmin) throw forbidden('Only platform administrators can read LLM settings');
    return this.toView(await this.effective());
  }

  async update(ctx: RequestContext, input: LlmSettingsUpdate): Promise<LlmSettingsView> {
    const actor = requireActor(ctx);
    const view = await this.audit.run(ctx, 'settings.update', { type: 'settings', id: 'llm', label: 'LLM audit prose', details: { fields: Object.keys(input) } }, async () => {
      if (!actor.isAdmin) throw forbidden('Only platform administrators can change LLM settings');
      await this.db.transaction(async (tx) => {
        const next: StoredLlmSettings = { ...(await this.repo.readSettings(tx, true)) };
        if (input.apiKey !== undefined) assign(next, 'apiKeySealed', input.apiKey === null ? null : this.box.seal(input.apiKey));
        if (input.enabled !== undefined) assign(next, 'enabled', input.enabled);
        if (input.model !== undefined) assign(next, 'model', input.model);
        if (input.dailyTokenBudget !== undefined) assign(next, 'dailyTokenBudget', input.dailyTokenBudget);
        await this.repo.writeSettings(tx, next, this.clock.now());
      });
      return this.toView(await this.effective());
    });
    for (const l of this.listeners) l();
    return view;
  }

  private async toView(s: EffectiveLlmSettings): Promise<LlmSettingsView> {
    return {
      enabled: s.enabled,
      model: s.model,
      dailyTokenBudget: s.dailyTokenBudget,
      keyConfigured: s.apiKey !== null,
      keySource: s.keySource,
      active: s.enabled && s.apiKey !== null,
      usage: await this.repo.usage(utcDay(this.clock.now())),
    };
  }

  /** A key sealed under another SESSION_SECRET cannot be read: said once, then treated as absent. */
  private openKey(sealed: string | undefined): string | null {
    if (!sealed) return null;
    try {
      return this.box.open(sealed);
    } catch {
      if (this.warnedSealed !== sealed) this.log.warn('the stored LLM API key cannot be decrypted (was SESSION_SECRET changed?); set it again');
      this.warnedSealed = sealed;
      return null;
    }
  }
}

function assign<K extends keyof StoredLlmSettings>(target: StoredLlmSettings, key: K, value: StoredLlmSettings[K] | null): void {
  if (value === null) delete target[key];
  else target[key] = value;
}
