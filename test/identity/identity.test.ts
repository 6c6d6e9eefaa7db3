import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.helper.js';
import { ApiClient, newUser } from '../helpers/http.helper.js';

describe('identity and projects over HTTP', () => {
  let t: TestApp;
  let admin: Awaited<ReturnType<typeof newUser>>;

  beforeAll(async () => {
    t = await startTestApp();
    admin = await newUser(t.url, undefined, 'admin');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('runs register → login → me → project → add member → member sees it → remove → 404', async () => {
    expect((await admin.client.get('/api/me')).body.isAdmin).toBe(true);
    const owner = await newUser(t.url, admin.client, 'owner');
    const member = await newUser(t.url, admin.client, 'member');
    expect((await owner.client.get('/api/me')).body).toMatchObject({ email: owner.email, isAdmin: false });

    const personal = await owner.client.get('/api/projects');
    expect(personal.body.items).toHaveLength(1);
    expect(personal.body.items[0]).toMatchObject({ personal: true, role: 'owner' });

    const created = await owner.client.post('/api/projects', { name: 'Factory' });
    expect(created.status).toBe(201);
    const pid = created.body.id;
    expect((await member.client.get(`/api/projects/${pid}`)).status).toBe(404);

    const added = await owner.client.post(`/api/projects/${pid}/members`, { email: member.email });
    expect(added.status).toBe(201);
    expect(added.body.role).toBe('member');
    const seen = await member.client.get(`/api/projects/${pid}`);
    expect(seen.status).toBe(200);
    expect(seen.body.role).toBe('member');

    expect((await owner.client.delete(`/api/projects/${pid}/members/${member.id}`)).status).toBe(204);
    const gone = await member.client.get(`/api/projects/${pid}`);
    expect(gone.status).toBe(404);
    expect(gone.body.code).toBe('not_found');
  });

  it('logs in with the right password only, and logout revokes the session server-side', async () => {
    const u = await newUser(t.url, admin.client, 'login');
    const wrong = await new ApiClient(t.url).post('/api/auth/login', { email: u.email, password: 'not the password' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe('invalid_credentials');
    const unknown = await new ApiClient(t.url).post('/api/auth/login', { email: 'nobody@example.test', password: 'whatever123' });
    expect(unknown.status).toBe(401);
    expect(unknown.body.code).toBe('invalid_credentials');

    const browser = new ApiClient(t.url);
    const login = await browser.post('/api/auth/login', { email: u.email.toUpperCase(), password: u.password });
    expect(login.status).toBe(200);
    const setCookie = login.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/openflow_session=/);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    const stolen = setCookie.split(';')[0]!;
    expect((await browser.post('/api/auth/logout')).status).toBe(200);
    const replay = await fetch(`${t.url}/api/me`, { headers: { cookie: stolen } });
    expect(replay.status).toBe(401);
  });

  it('refuses self-registration after the first account unless enabled', async () => {
    const res = await new ApiClient(t.url).post('/api/auth/register', { email: 'late@example.test', password: 'long enough pw', name: 'Late' });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('signup_disabled');
  });

  it('issues API tokens shown once, usable as Bearer, and revocable', async () => {
    const u = await newUser(t.url, admin.client, 'tokens');
    const created = await u.client.post('/api/tokens', { name: 'ci' });
    expect(created.status).toBe(201);
    const token: string = created.body.token;
    expect(token).toMatch(/^oft_/);
    const list = await u.client.get('/api/tokens');
    expect(JSON.stringify(list.body)).not.toContain(token);
    const script = new ApiClient(t.url);
    script.bearer = token;
    expect((await script.get('/api/me')).body.email).toBe(u.email);
    expect((await u.client.delete(`/api/tokens/${created.body.id}`)).status).toBe(204);
    expect((await script.get('/api/me')).status).toBe(401);
    const other = await newUser(t.url, admin.client, 'other');
    const t2 = await u.client.post('/api/tokens', { name: 'mine' });
    expect((await other.client.delete(`/api/tokens/${t2.body.id}`)).status).toBe(404);
  });

  it('keeps at least one owner and lets owners transfer ownership', async () => {
    const owner = await newUser(t.url, admin.client, 'own2');
    const m = await newUser(t.url, admin.client, 'mem2');
    const pid = (await owner.client.post('/api/projects', { name: 'Ownership' })).body.id;
    const leave = await owner.client.delete(`/api/projects/${pid}/members/${owner.id}`);
    expect(leave.status).toBe(409);
    expect(leave.body.code).toBe('last_owner');
    await owner.client.post(`/api/projects/${pid}/members`, { email: m.email });
    expect((await m.client.delete(`/api/projects/${pid}/members/${owner.id}`)).status).toBe(403);
    const transfer = await owner.client.post(`/api/projects/${pid}/transfer`, { userId: m.id });
    expect(transfer.status).toBe(200);
    const roles = Object.fromEntries(transfer.body.items.map((x: any) => [x.userId, x.role]));
    expect(roles).toEqual({ [owner.id]: 'member', [m.id]: 'owner' });
    expect((await owner.client.delete(`/api/projects/${pid}/members/${owner.id}`)).status).toBe(204);
    expect((await m.client.delete(`/api/projects/${pid}/members/${m.id}`)).body.code).toBe('last_owner');
  });

  it('audits every mutating call, failures included, filterable and paginated', async () => {
    const u = await newUser(t.url, admin.client, 'audited');
    const pid = (await u.client.post('/api/projects', { name: 'Audited' })).body.id;
    await u.client.post(`/api/projects/${pid}/members`, { email: 'missing@example.test' });
    await u.client.post(`/api/projects/${pid}/members`, { email: 42 });
    const res = await u.client.get(`/api/audit?projectId=${pid}`);
    expect(res.status).toBe(200);
    const actions = res.body.items.map((e: any) => `${e.action}:${e.outcome}:${e.errorCode ?? ''}`);
    expect(actions).toContain('project.create:success:');
    expect(actions).toContain('project.member.add:failure:user_not_found');
    expect(res.body.items.every((e: any) => typeof e.description === 'string' && e.description.length > 0)).toBe(true);
    const all = await admin.client.get('/api/audit?action=project.member.add&limit=1');
    expect(all.body.items).toHaveLength(1);
    expect(all.body.nextCursor).not.toBeNull();
    const next = await admin.client.get(`/api/audit?action=project.member.add&limit=1&cursor=${all.body.nextCursor}`);
    expect(next.body.items[0].id).not.toBe(all.body.items[0].id);
    const validationFailure = (await admin.client.get('/api/audit?action=project.member.add&limit=50')).body.items.find((e: any) => e.errorCode === 'validation_failed');
    expect(validationFailure).toBeDefined();
    const stranger = await newUser(t.url, admin.client, 'stranger');
    expect((await stranger.client.get(`/api/audit?projectId=${pid}`)).body.items).toEqual([]);
  });

  it('publishes an OpenAPI document generated from the route schemas', async () => {
    const res = await new ApiClient(t.url).get('/api/docs/json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\./);
    expect(Object.keys(res.body.paths)).toEqual(expect.arrayContaining(['/api/auth/register', '/api/projects/{id}/members']));
  });
});
