import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.helper.js';
import { ApiClient, newUser } from '../helpers/http.helper.js';

type Who = 'anonymous' | 'nonMember' | 'member' | 'owner' | 'admin';
const WHO: Who[] = ['anonymous', 'nonMember', 'member', 'owner', 'admin'];

describe('authorization and bad input', () => {
  let t: TestApp;
  const clients = {} as Record<Who, ApiClient>;
  const ids = {} as Record<Who, string>;
  let pid: string;

  beforeAll(async () => {
    t = await startTestApp();
    const admin = await newUser(t.url, undefined, 'admin');
    clients.admin = admin.client;
    ids.admin = admin.id;
    for (const w of ['nonMember', 'member', 'owner'] as const) {
      const u = await newUser(t.url, admin.client, w);
      clients[w] = u.client;
      ids[w] = u.id;
    }
    clients.anonymous = new ApiClient(t.url);
    pid = (await clients.owner.post('/api/projects', { name: 'Matrix' })).body.id;
    const memberEmail = (await clients.member.get('/api/me')).body.email;
    expect((await clients.owner.post(`/api/projects/${pid}/members`, { email: memberEmail })).status).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
  });

  /** Expected status per caller; each row's request is sent fresh by every caller. */
  const matrix: { name: string; run: (c: ApiClient) => Promise<{ status: number }>; expect: Record<Who, number> }[] = [
    { name: 'GET /api/me', run: (c) => c.get('/api/me'), expect: { anonymous: 401, nonMember: 200, member: 200, owner: 200, admin: 200 } },
    { name: 'GET /api/projects', run: (c) => c.get('/api/projects'), expect: { anonymous: 401, nonMember: 200, member: 200, owner: 200, admin: 200 } },
    { name: 'POST /api/projects', run: (c) => c.post('/api/projects', { name: 'x' }), expect: { anonymous: 401, nonMember: 201, member: 201, owner: 201, admin: 201 } },
    { name: 'GET project', run: (c) => c.get(`/api/projects/${pid}`), expect: { anonymous: 401, nonMember: 404, member: 200, owner: 200, admin: 200 } },
    { name: 'PATCH project', run: (c) => c.patch(`/api/projects/${pid}`, { name: 'Matrix' }), expect: { anonymous: 401, nonMember: 404, member: 403, owner: 200, admin: 200 } },
    { name: 'GET members', run: (c) => c.get(`/api/projects/${pid}/members`), expect: { anonymous: 401, nonMember: 404, member: 200, owner: 200, admin: 200 } },
    { name: 'POST member (unknown email)', run: (c) => c.post(`/api/projects/${pid}/members`, { email: 'ghost@example.test' }), expect: { anonymous: 401, nonMember: 404, member: 403, owner: 404, admin: 404 } },
    { name: 'PATCH member role', run: (c) => c.patch(`/api/projects/${pid}/members/${ids.member}`, { role: 'member' }), expect: { anonymous: 401, nonMember: 404, member: 403, owner: 200, admin: 200 } },
    { name: 'DELETE project (non-empty check passes, personal check n/a)', run: (c) => c.delete(`/api/projects/00000000-0000-4000-8000-000000000000`), expect: { anonymous: 401, nonMember: 404, member: 404, owner: 404, admin: 404 } },
    { name: 'GET /api/admin/users', run: (c) => c.get('/api/admin/users'), expect: { anonymous: 401, nonMember: 403, member: 403, owner: 403, admin: 200 } },
    { name: 'POST /api/admin/users (invalid body)', run: (c) => c.post('/api/admin/users', { email: 'bad' }), expect: { anonymous: 400, nonMember: 400, member: 400, owner: 400, admin: 400 } },
    { name: 'GET /api/tokens', run: (c) => c.get('/api/tokens'), expect: { anonymous: 401, nonMember: 200, member: 200, owner: 200, admin: 200 } },
    { name: 'GET /api/audit', run: (c) => c.get(`/api/audit?projectId=${pid}`), expect: { anonymous: 401, nonMember: 200, member: 200, owner: 200, admin: 200 } },
  ];

  for (const row of matrix) {
    it(`authorization: ${row.name}`, async () => {
      const got: Record<string, number> = {};
      for (const w of WHO) got[w] = (await row.run(clients[w])).status;
      expect(got).toEqual(row.expect);
    });
  }

  it('rejects bad input with {code, message} and changes nothing', async () => {
    const c = clients.owner;
    const before = (await c.get(`/api/projects/${pid}`)).body;
    const cases: [string, () => Promise<any>, number][] = [
      ['missing field', () => c.post('/api/projects', {}), 400],
      ['wrong type', () => c.patch(`/api/projects/${pid}`, { name: 123 }), 400],
      ['unknown field', () => c.patch(`/api/projects/${pid}`, { name: 'ok', isAdmin: true }), 400],
      ['malformed JSON', () => c.request('PATCH', `/api/projects/${pid}`, { rawBody: '{"name": ' }), 400],
      ['1 MB+ body', () => c.request('PATCH', `/api/projects/${pid}`, { rawBody: JSON.stringify({ name: 'x'.repeat(1_100_000) }) }), 413],
      ['bad uuid', () => c.get('/api/projects/not-a-uuid'), 400],
      ['blank name', () => c.patch(`/api/projects/${pid}`, { name: '   ' }), 400],
    ];
    for (const [name, run, status] of cases) {
      const res = await run();
      expect(res.status, name).toBe(status);
      expect(res.body, name).toEqual(expect.objectContaining({ code: expect.any(String), message: expect.any(String) }));
    }
    const wrongType = await c.patch(`/api/projects/${pid}`, { name: 123 });
    expect(wrongType.body.message).toContain('body/name');
    expect((await c.get(`/api/projects/${pid}`)).body).toEqual(before);
  });

  it('stores SQL- and HTML-looking strings verbatim and never executes them', async () => {
    const c = clients.owner;
    const evil = `Robert'); DROP TABLE projects;-- <script>alert(1)</script>`;
    const res = await c.post('/api/projects', { name: evil });
    expect(res.status).toBe(201);
    expect((await c.get(`/api/projects/${res.body.id}`)).body.name).toBe(evil);
    expect((await c.get('/api/projects')).status).toBe(200);
  });

  it('refuses duplicate emails without creating a second user', async () => {
    const email = (await clients.member.get('/api/me')).body.email;
    const dup = await clients.admin.post('/api/admin/users', { email: email.toUpperCase(), password: 'another password', name: 'Dup' });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe('email_taken');
    const users = (await clients.admin.get('/api/admin/users')).body.items.filter((u: any) => u.email === email);
    expect(users).toHaveLength(1);
  });

  it('never returns or logs a password, hash, session or API token', async () => {
    const password = 'very secret password 42';
    const created = await clients.admin.post('/api/admin/users', { email: 'leak@example.test', password, name: 'Leak' });
    const browser = new ApiClient(t.url);
    const login = await browser.post('/api/auth/login', { email: 'leak@example.test', password });
    const session = login.headers.get('set-cookie')!.split(';')[0]!.split('=')[1]!;
    const token = (await browser.post('/api/tokens', { name: 'x' })).body.token as string;
    const bodies = JSON.stringify([created.body, login.body, (await clients.admin.get('/api/admin/users')).body, (await browser.get('/api/me')).body]);
    expect(bodies).not.toContain(password);
    expect(bodies).not.toMatch(/scrypt\$/);
    const logs = t.logs.join('');
    for (const secret of [password, session, token, 'scrypt$']) expect(logs).not.toContain(secret);
    expect(logs.length).toBeGreaterThan(0);
  });
});

describe('rate limiting and restart', () => {
  it('rate-limits login attempts per client', async () => {
    const t = await startTestApp({ env: { AUTH_RATE_LIMIT: '3' } });
    try {
      const c = new ApiClient(t.url);
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await c.post('/api/auth/login', { email: 'a@example.test', password: 'wrong password' })).status);
      expect(statuses.slice(0, 3)).toEqual([401, 401, 401]);
      const limited = await c.post('/api/auth/login', { email: 'a@example.test', password: 'wrong password' });
      expect(limited.status).toBe(429);
      expect(limited.body.code).toBe('rate_limited');
    } finally {
      await t.close();
    }
  });

  it('keeps users, projects and sessions across a manager restart on the same data', async () => {
    const first = await startTestApp({ likeProduction: true });
    const admin = await newUser(first.url, undefined, 'persist');
    const pid = (await admin.client.post('/api/projects', { name: 'Kept' })).body.id;
    await first.close({ keepData: true });
    const second = await startTestApp({ likeProduction: true, reuse: { testDb: first.testDb, dataPath: first.dataPath } });
    try {
      const resumed = new ApiClient(second.url);
      Object.assign(resumed, { cookies: (admin.client as any).cookies });
      expect((await resumed.get('/api/me')).body.email).toBe(admin.email);
      expect((await resumed.get(`/api/projects/${pid}`)).body.name).toBe('Kept');
    } finally {
      await second.close();
    }
  });
});
