import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config.js';

describe('audit prose configuration', () => {
  it('is off by default with the documented defaults', () => {
    expect(parseConfig({}).auditSummary).toEqual({
      enabled: false,
      apiKey: null,
      baseUrl: null,
      model: 'claude-haiku-4-5',
      dailyTokenBudget: 2_000_000,
      intervalMs: 60_000,
      timeoutMs: 60_000,
    });
  });

  it('reads every key', () => {
    const c = parseConfig({
      AUDIT_SUMMARY_ENABLED: 'true',
      ANTHROPIC_API_KEY: 'sk-ant-x',
      ANTHROPIC_BASE_URL: 'https://gateway.example.test/anthropic',
      AUDIT_SUMMARY_MODEL: 'claude-sonnet-4-5',
      AUDIT_SUMMARY_DAILY_TOKEN_BUDGET: '5000',
      AUDIT_SUMMARY_INTERVAL_MS: '1000',
      AUDIT_SUMMARY_TIMEOUT_MS: '2000',
    }).auditSummary;
    expect(c).toEqual({ enabled: true, apiKey: 'sk-ant-x', baseUrl: 'https://gateway.example.test/anthropic', model: 'claude-sonnet-4-5', dailyTokenBudget: 5000, intervalMs: 1000, timeoutMs: 2000 });
  });

  it('names every bad key', () => {
    let err: unknown;
    try {
      parseConfig({ AUDIT_SUMMARY_ENABLED: 'maybe', ANTHROPIC_BASE_URL: 'ftp://x', AUDIT_SUMMARY_MODEL: 'bad model', AUDIT_SUMMARY_DAILY_TOKEN_BUDGET: '-1', AUDIT_SUMMARY_INTERVAL_MS: '5' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    for (const key of ['AUDIT_SUMMARY_ENABLED', 'ANTHROPIC_BASE_URL', 'AUDIT_SUMMARY_MODEL', 'AUDIT_SUMMARY_DAILY_TOKEN_BUDGET', 'AUDIT_SUMMARY_INTERVAL_MS']) expect(problems).toContain(key);
  });
});
