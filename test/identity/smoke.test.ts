import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.helper.js';
import { ApiClient, newUser } from '../helpers/http.helper.js';

describe('smoke', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('registers the first user as admin and serves /api/me', async () => {
    const admin = await newUser(t.url);
    const me = await admin.client.get('/api/me');
    expect(me.status).toBe(200);
    expect(me.body.isAdmin).toBe(true);
    const anon = await new ApiClient(t.url).get('/api/me');
    expect(anon.status).toBe(401);
    expect(anon.body).toEqual({ code: 'unauthorized', message: expect.any(String) });
  });
});
