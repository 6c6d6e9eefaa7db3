import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.helper.js';
import { newUser } from '../helpers/http.helper.js';
import { waitFor } from '../helpers/instance.helper.js';
import { FakeMessagesServer } from './fake-messages.server.js';

const ENV_KEY = 'sk-ant-env-Refused0123456789ABCdef';
const STORED_1 = 'sk-ant-stored-First0123456789ABCdef';
const STORED_2 = 'sk-ant-stored-Second0123456789ABCdef';
const ALL_KEYS = [ENV_KEY, STORED_1, STORED_2];

describe('LLM settings: admin sets, rotates and clears the key over the API', { timeout: 180_000 }, () => {
  let t: TestApp;
  let fake: FakeMessagesServer;
  let admin: Awaited<ReturnType<typeof newUser>>;

  beforeAll(async () => {
    fake = await new FakeMessagesServer().start();
    fake.validKeys = new Set([STORED_1, STORED_2]);
    t = await startTestApp({ env: { ANTHROPIC_BASE_URL: fake.url, ANTHROPIC_API_KEY: ENV_KEY, AUDIT_SUMMARY_ENABLED: 'true', AUDIT_SUMMARY_INTERVAL_MS: '100' } });
    admin = await newUser(t.url, undefined, 'keyadmin');
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  const lastKey = () => fake.messages[fake.messages.length - 1]?.apiKey;
  const put = (body: unknown) => admin.client.request('PUT', '/api/admin/settings/llm', { body });

  it('is for platform admins only', async () => {
    const member = await newUser(t.url, admin.client, 'keymember');
    expect((await member.client.get('/api/admin/settings/llm')).status).toBe(403);
    const refused = await member.client.request('PUT', '/api/admin/settings/llm', { body: { apiKey: 'sk-ant-member-Attempt0123456789XYZ' } });
    expect(refused.status).toBe(403);
    expect((await admin.client.get('/api/admin/settings/llm')).body.keySource).toBe('env');
  });

  it('moves from a refused environment key to a stored one without a restart, then rotates and clears it', async () => {
    // The environment key is refused: the worker backs off for a long time.
    await waitFor('a refused request', async () => fake.messages.some((r) => r.apiKey === ENV_KEY));
    const shown = await admin.client.get('/api/admin/settings/llm');
    expect(shown.body).toMatchObject({ enabled: true, keyConfigured: true, keySource: 'env', active: true, model: 'claude-haiku-4-5', dailyTokenBudget: 2_000_000 });

    const set = await put({ apiKey: STORED_1 });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ keyConfigured: true, keySource: 'stored', active: true });
    // Setting the key wakes the worker at once, past the backoff the refusals put it in.
    await waitFor('prose with the stored key', async () => (await admin.client.get('/api/audit?limit=200')).body.items.every((i: any) => i.prose !== null));
    expect(lastKey()).toBe(STORED_1);

    const stored = await t.testDb.db.query<{ value: unknown }>(`SELECT value FROM platform_settings WHERE key = 'llm'`);
    expect(JSON.stringify(stored)).not.toContain(STORED_1);
    expect(JSON.stringify(stored)).toMatch(/"apiKeySealed":"v1\./);

    expect((await put({ apiKey: STORED_2, model: 'claude-test-model' })).status).toBe(200);
    await admin.client.post('/api/projects', { name: 'After rotation' });
    await waitFor('a request with the rotated key', async () => lastKey() === STORED_2 && fake.messages[fake.messages.length - 1]!.body.model === 'claude-test-model');

    const cleared = await put({ apiKey: null, model: null });
    expect(cleared.body).toMatchObject({ keyConfigured: true, keySource: 'env', model: 'claude-haiku-4-5' });
    await admin.client.post('/api/projects', { name: 'After clearing' });
    await waitFor('the environment key again', async () => lastKey() === ENV_KEY);

    const off = await put({ enabled: false, dailyTokenBudget: 1000 });
    expect(off.body).toMatchObject({ enabled: false, active: false, dailyTokenBudget: 1000 });
  });

  it('never returns, audits, logs or forwards the key', async () => {
    const responses: string[] = [];
    for (const path of ['/api/admin/settings/llm', '/api/audit?limit=200', '/api/audit?action=settings.update']) responses.push((await admin.client.get(path)).text);
    responses.push((await put({ apiKey: STORED_1 })).text);
    responses.push((await put({ apiKey: 'has a space' })).text);
    for (const text of responses) for (const key of ALL_KEYS) expect(text).not.toContain(key);

    const updates = (await admin.client.get('/api/audit?action=settings.update')).body.items;
    expect(updates.length).toBeGreaterThanOrEqual(5);
    expect(updates.find((u: any) => u.details.fields?.includes('apiKey'))).toMatchObject({ action: 'settings.update', outcome: 'success', targetType: 'settings' });

    const logs = t.logs.join('');
    const bodies = fake.received.map((r) => r.raw).join('\n');
    for (const key of ALL_KEYS) {
      expect(logs).not.toContain(key);
      expect(bodies).not.toContain(key);
    }
    // The refusals were logged, by kind only.
    expect(logs).toContain('"failure":"unauthorized"');
  });
});
