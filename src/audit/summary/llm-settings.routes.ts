import { Type } from 'typebox';
import { MODEL_NAME } from '../../config.js';
import type { App } from '../../http/types.js';
import { errorResponses } from '../../http/schemas.js';
import type { LlmSettingsService } from './llm-settings.service.js';

const SettingsView = Type.Object({
  enabled: Type.Boolean(),
  model: Type.String(),
  dailyTokenBudget: Type.Integer(),
  keyConfigured: Type.Boolean(),
  keySource: Type.Union([Type.Literal('stored'), Type.Literal('env'), Type.Null()]),
  active: Type.Boolean(),
  usage: Type.Object({ day: Type.String(), inputTokens: Type.Number(), outputTokens: Type.Number(), reservedTokens: Type.Number(), requests: Type.Integer() }),
});

const SettingsUpdate = Type.Object(
  {
    apiKey: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 500, pattern: '^\\S+$' }), Type.Null()])),
    enabled: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    model: Type.Optional(Type.Union([Type.String({ pattern: MODEL_NAME.source }), Type.Null()])),
    dailyTokenBudget: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 1_000_000_000_000 }), Type.Null()])),
  },
  { additionalProperties: false },
);

/** Platform-admin settings of the audit prose summarizer. The key goes in, never out. */
export async function llmSettingsRoutes(app: App, opts: { settings: LlmSettingsService }): Promise<void> {
  app.get('/api/admin/settings/llm', { schema: { tags: ['admin'], response: { 200: SettingsView, ...errorResponses } } }, async (req) => opts.settings.view(req.ctx));

  app.put(
    '/api/admin/settings/llm',
    { schema: { tags: ['admin'], body: SettingsUpdate, response: { 200: SettingsView, ...errorResponses } }, config: { audit: 'settings.update' } },
    async (req) => opts.settings.update(req.ctx, req.body),
  );
}
