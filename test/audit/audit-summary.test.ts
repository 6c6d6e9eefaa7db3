import { afterEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.helper.js';
import { ApiClient, newUser } from '../helpers/http.helper.js';
import { waitFor } from '../helpers/instance.helper.js';
import { FakeMessagesServer } from './fake-messages.server.js';

const ENV_KEY = 'sk-ant-env-Key0123456789abcdefXYZ';

interface Item {
  id: string;
  action: string;
  projectId: string | null;
  prose: string | null;
  description: string;
  [k: string]: unknown;
}

async function auditItems(client: ApiClient): Promise<Item[]> {
  const res = await client.get('/api/audit?limit=200');
  expect(res.status).toBe(200);
  return res.body.items;
}

/** A movable clock: budgets are per UTC day, and tests move to the next day instead of waiting for it. */
function movableClock(start: string) {
  let now = new Date(start);
  return {
    now: () => new Date(now),
    set(iso: string) {
      now = new Date(iso);
    },
  };
}

// Several managers start per file on a shared 2-core machine: generous per-test limits.
describe('audit prose over a loopback Messages API', { timeout: 180_000 }, () => {
  let t: TestApp | undefined;
  let fake: FakeMessagesServer | undefined;

  afterEach(async () => {
    await t?.close();
    await fake?.close();
    t = undefined;
    fake = undefined;
  });

  async function start(env: Record<string, string>, deps: Parameters<typeof startTestApp>[0] = {}) {
    fake = await new FakeMessagesServer().start();
    t = await startTestApp({ ...deps, env: { ANTHROPIC_BASE_URL: fake.url, ANTHROPIC_API_KEY: ENV_KEY, AUDIT_SUMMARY_INTERVAL_MS: '100', ...env } });
    return { t, fake };
  }

  it('sends nothing while disabled; enabling through the API starts the summaries', async () => {
    const { t, fake } = await start({});
    const admin = await newUser(t.url, undefined, 'quiet');
    await admin.client.post('/api/projects', { name: 'Quiet' });
    await admin.client.post('/api/tokens', { name: 'ci' });
    // Many worker intervals pass; a disabled worker reads its settings and nothing else.
    await new Promise((r) => setTimeout(r, 1500));
    expect(fake.received).toHaveLength(0);
    const items = await auditItems(admin.client);
    expect(items.length).toBeGreaterThanOrEqual(3);
    for (const i of items) {
      expect(i.prose).toBeNull();
      expect(i.description.length).toBeGreaterThan(5);
    }
    // The same wait is long enough for a request once the stored setting turns it on.
    expect((await admin.client.request('PUT', '/api/admin/settings/llm', { body: { enabled: true } })).status).toBe(200);
    await waitFor('a Messages request', async () => fake.messages.length > 0);
    expect(fake.messages[0]!.apiKey).toBe(ENV_KEY);
  });

  it('sends nothing when enabled without any key', async () => {
    const { t, fake } = await start({ AUDIT_SUMMARY_ENABLED: 'true', ANTHROPIC_API_KEY: '' });
    const admin = await newUser(t.url, undefined, 'nokey');
    await admin.client.post('/api/projects', { name: 'No key' });
    await new Promise((r) => setTimeout(r, 1500));
    expect(fake.received).toHaveLength(0);
    expect((await admin.client.get('/api/admin/settings/llm')).body).toMatchObject({ enabled: true, keyConfigured: false, keySource: null, active: false });
    expect((await auditItems(admin.client)).every((i) => i.prose === null)).toBe(true);
  });

  it('batches a project’s rows into one request, stores each sentence on its row, counts usage, leaks nothing', async () => {
    const { t, fake } = await start({});
    const admin = await newUser(t.url, undefined, 'AdaAdmin');
    const member = await newUser(t.url, admin.client, 'MaxMember');
    const token = (await admin.client.post('/api/tokens', { name: 'deploy bot' })).body.token as string;
    const project = (await admin.client.post('/api/projects', { name: 'Factory Line' })).body.id as string;
    expect((await admin.client.post(`/api/projects/${project}/members`, { email: member.email })).status).toBe(201);
    const device = (await admin.client.post(`/api/projects/${project}/mqtt-clients`, { description: 'press sensor' })).body;
    expect(device.password).toBeTruthy();
    const instanceSecret = 'instance-env-Secret-Value-0123456789';
    expect((await admin.client.post(`/api/projects/${project}/instances`, { subdomain: 'press-line', env: { API_SECRET: instanceSecret } })).status).toBe(201);
    // Someone types their password into the email field: the failed login row keeps what was typed.
    // Lower case with spaces: nothing the text scrubber would recognise, so only the rule for user rows keeps it home.
    const typedPassword = 'my old dog rex likes snow';
    expect((await new ApiClient(t.url).post('/api/auth/login', { email: typedPassword, password: 'whatever-else' })).status).toBe(401);
    const bearer = new ApiClient(t.url);
    bearer.bearer = token;
    expect((await bearer.post('/api/projects', { name: 'Via token' })).status).toBe(201);

    const before = await auditItems(admin.client);
    expect(before.length).toBeGreaterThanOrEqual(10);
    expect(fake.received).toHaveLength(0);

    expect((await admin.client.request('PUT', '/api/admin/settings/llm', { body: { enabled: true } })).status).toBe(200);
    const after = await waitFor('prose on every row', async () => {
      const items = await auditItems(admin.client);
      return items.every((i) => i.prose !== null) && items;
    });

    // Rows kept, not altered, each with the sentence written for its own id.
    expect(after.length).toBe(before.length + 1);
    const afterById = new Map(after.map((i) => [i.id, i]));
    for (const b of before) expect({ ...afterById.get(b.id)!, prose: null }).toEqual(b);
    for (const i of after) expect(i.prose).toBe(`Prose for ${i.id}: ${i.action}.`);

    // One request per project (the platform's rows are one more), every row in exactly one of them. The row of the
    // enabling PUT itself may be written just after a batch left, and then travels alone.
    const requests = fake.messages;
    const beforeIds = new Set(before.map((i) => i.id));
    const withBefore = requests.filter((r) => r.eventIds.some((id) => beforeIds.has(id)));
    expect(withBefore).toHaveLength(new Set(before.map((i) => i.projectId)).size);
    const sent = requests.flatMap((r) => r.eventIds);
    expect(sent.sort()).toEqual(after.map((i) => i.id).sort());
    for (const r of requests) {
      const projects = new Set(r.eventIds.map((id) => afterById.get(id)!.projectId));
      expect(projects.size).toBe(1);
      expect(r.body.model).toBe('claude-haiku-4-5');
      expect(r.apiKey).toBe(ENV_KEY);
    }
    expect(requests.some((r) => r.eventIds.length >= 5)).toBe(true);

    // Usage as the provider reported it, kept in the database.
    const settings = (await admin.client.get('/api/admin/settings/llm')).body;
    const reportedIn = requests.reduce((s, r) => s + 1000 + r.eventIds.length * 10, 0);
    const reportedOut = requests.reduce((s, r) => s + r.eventIds.length * 7, 0);
    expect(settings.usage).toMatchObject({ inputTokens: reportedIn, outputTokens: reportedOut, requests: requests.length, reservedTokens: 0 });

    // Nothing secret, and no email address, left the manager.
    const bodies = requests.map((r) => r.raw).join('\n');
    for (const secret of [admin.password, member.password, admin.email, member.email, token, device.password, instanceSecret, typedPassword, ENV_KEY, t.config.sessionSecret!]) {
      expect(bodies).not.toContain(secret);
    }
    expect(bodies).not.toMatch(/@/);
    expect(bodies).toContain('AdaAdmin');
    expect(bodies).toContain('Factory Line');
    expect(bodies).toContain('press-line');
  });

  it('stops at the daily budget and resumes the next UTC day', async () => {
    const clock = movableClock('2030-01-01T22:00:00Z');
    const { t, fake } = await start({ AUDIT_SUMMARY_ENABLED: 'true', AUDIT_SUMMARY_DAILY_TOKEN_BUDGET: '60000' }, { deps: { clock } });
    // The first answer reports nearly the whole day's budget as used.
    fake.plan.push({ kind: 'ok', usage: { input_tokens: 58_000, output_tokens: 1_500 } });
    const admin = await newUser(t.url, undefined, 'budget');
    await waitFor('the first request', async () => fake.messages.length === 1);
    await waitFor('its prose', async () => (await auditItems(admin.client)).every((i) => i.prose !== null));

    const project = (await admin.client.post('/api/projects', { name: 'Over budget' })).body.id as string;
    await admin.client.post(`/api/projects/${project}/mqtt-clients`, { description: 'late device' });
    await new Promise((r) => setTimeout(r, 1500));
    expect(fake.messages).toHaveLength(1);
    const waiting = (await auditItems(admin.client)).filter((i) => i.prose === null);
    expect(waiting.length).toBeGreaterThanOrEqual(2);
    const day1 = (await admin.client.get('/api/admin/settings/llm')).body.usage;
    expect(day1).toMatchObject({ day: '2030-01-01', inputTokens: 58_000, outputTokens: 1_500, requests: 1, reservedTokens: 0 });
    expect(t.logs.join('')).toContain('daily token budget is used up');

    clock.set('2030-01-02T00:00:05Z');
    await waitFor('prose after midnight', async () => (await auditItems(admin.client)).every((i) => i.prose !== null));
    expect(fake.messages.length).toBeGreaterThanOrEqual(2);
    const days = await t.testDb.db.query<{ day: string; used: number }>('SELECT day::text AS day, (input_tokens + output_tokens)::float8 AS used FROM llm_usage ORDER BY day');
    expect(days.map((d) => d.day)).toEqual(['2030-01-01', '2030-01-02']);
    expect(days[0]!.used).toBeLessThanOrEqual(60_000);
    expect(days[1]!.used).toBeGreaterThan(0);
  });

  it('retries after 429, 500 and a timeout without losing or altering rows', async () => {
    const { t, fake } = await start({ AUDIT_SUMMARY_TIMEOUT_MS: '700' });
    fake.plan.push({ kind: 'status', status: 429, headers: { 'retry-after': '1' } }, { kind: 'status', status: 500 }, { kind: 'hang' }, { kind: 'status', status: 529 });
    const admin = await newUser(t.url, undefined, 'retry');
    await admin.client.post('/api/tokens', { name: 'one' });
    await admin.client.post('/api/tokens', { name: 'two' });
    const before = await auditItems(admin.client);

    expect((await admin.client.request('PUT', '/api/admin/settings/llm', { body: { enabled: true } })).status).toBe(200);
    const after = await waitFor('prose after the retries', async () => {
      const items = await auditItems(admin.client);
      return items.every((i) => i.prose !== null) && items;
    });
    // Every attempt carried every row (the enabling PUT's own row may join from the second attempt on).
    expect(fake.messages.length).toBeGreaterThanOrEqual(5);
    for (const r of fake.messages.slice(0, 5)) for (const b of before) expect(r.eventIds).toContain(b.id);
    expect(after.length).toBe(before.length + 1);
    const byId = new Map(after.map((i) => [i.id, i]));
    for (const b of before) expect({ ...byId.get(b.id)!, prose: null }).toEqual(b);

    const logs = t.logs.join('');
    for (const failure of ['rate_limited', 'unavailable', 'timeout']) expect(logs).toContain(`"failure":"${failure}"`);
    const usage = (await admin.client.get('/api/admin/settings/llm')).body.usage;
    expect(usage.requests).toBe(fake.messages.length);
    expect(usage.inputTokens).toBe(fake.messages.slice(4).reduce((sum, r) => sum + 1000 + r.eventIds.length * 10, 0));
    // The timed-out request may have been billed: its reservation stays counted.
    expect(usage.reservedTokens).toBeGreaterThan(0);
  });

  it('gives up on a row the provider keeps leaving out, and still summarizes the rest', async () => {
    const { t, fake } = await start({});
    const admin = await newUser(t.url, undefined, 'omit');
    await admin.client.post('/api/tokens', { name: 'kept' });
    const items = await auditItems(admin.client);
    const omittedRow = items[0]!.id;
    fake.fallback = { kind: 'ok', omit: [omittedRow] };
    expect((await admin.client.request('PUT', '/api/admin/settings/llm', { body: { enabled: true } })).status).toBe(200);
    await waitFor('prose on all other rows', async () => (await auditItems(admin.client)).every((i) => i.id === omittedRow || i.prose !== null));
    await waitFor('three attempts at the omittedRow row', async () => fake.messages.filter((r) => r.eventIds.includes(omittedRow)).length >= 3);
    await new Promise((r) => setTimeout(r, 1000));
    expect(fake.messages.filter((r) => r.eventIds.includes(omittedRow))).toHaveLength(3);
    expect((await auditItems(admin.client)).find((i) => i.id === omittedRow)!.prose).toBeNull();
  });
});
