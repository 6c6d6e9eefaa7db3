import { describe, expect, it } from 'vitest';
import { cleanText, safeDetails, toSummaryInput, type PendingAuditRow } from '../../src/audit/summary/summary-input.js';

const row = (over: Partial<PendingAuditRow>): PendingAuditRow => ({
  id: '7',
  actor_id: '00000000-0000-4000-8000-000000000001',
  actor_name: 'Ada',
  action: 'project.member.add',
  target_type: 'project',
  target_label: null,
  target_user_name: null,
  instance_subdomain: null,
  project_id: '00000000-0000-4000-8000-000000000002',
  project_name: 'Factory',
  outcome: 'success',
  error_code: null,
  details: {},
  ...over,
});

describe('what an audit row may tell a provider', () => {
  it('keeps only allow-listed detail keys, with safe values', () => {
    const details = safeDetails({
      email: 'max@example.test',
      password: 'hunter2-hunter2',
      token: 'ofk_abc',
      userId: '00000000-0000-4000-8000-000000000003',
      url: '/api/tokens/1',
      role: 'owner',
      kind: 'scheduled',
      enabled: true,
      retention: 7,
      fields: ['env', 'memoryMb', 'not a field name', 42],
      via: { nested: 'object' },
    });
    expect(details).toEqual({ role: 'owner', kind: 'scheduled', enabled: true, retention: 7, fields: ['env', 'memoryMb'] });
  });

  it('redacts addresses and credential-like runs in names, and keeps ordinary names', () => {
    expect(cleanText('ping ada@example.test now')).toBe('ping [email] now');
    expect(cleanText('key sk-ant-AbCdEf0123456789GhIjKl')).toBe('key [redacted]');
    expect(cleanText('production-line-instance-2024-eu-west')).toBe('production-line-instance-2024-eu-west');
    expect(cleanText('x'.repeat(200)).length).toBe(80);
  });

  it('names people by display name, never by the stored email label', () => {
    const login = toSummaryInput(row({ action: 'auth.login', actor_id: null, target_type: 'user', target_label: 'Typed-Password-1234567890abcdEFG', target_user_name: null, project_id: null, project_name: null, outcome: 'failure', error_code: 'invalid_credentials' }));
    expect(login).toEqual({ id: '7', actor: 'The platform', action: 'auth.login', targetType: 'user', target: null, project: null, outcome: 'failure', errorCode: 'invalid_credentials', details: {} });

    const created = toSummaryInput(row({ action: 'user.create', target_type: 'user', target_label: 'max@example.test', target_user_name: 'Max' }));
    expect(created.target).toBe('Max');
    expect(JSON.stringify(created)).not.toContain('@');

    const gone = toSummaryInput(row({ actor_name: null }));
    expect(gone.actor).toBe('A former user');
    expect(toSummaryInput(row({ target_type: 'instance', instance_subdomain: 'press-line' })).target).toBe('press-line');
    expect(toSummaryInput(row({ details: { email: 'max@example.test', role: 'member' } })).details).toEqual({ role: 'member' });
    expect(toSummaryInput(row({ error_code: 'Weird Code!' })).errorCode).toBe('error');
  });
});
