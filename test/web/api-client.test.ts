import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../web/src/api/api.client.js';
import { ApiError, errorMessage, toApiError } from '../../web/src/lib/api-error.js';
import { startTestApp, type TestApp } from '../helpers/app.helper.js';

describe('API error mapping', () => {
  it('keeps the server’s code and message, capitalised', () => {
    const e = toApiError(409, { code: 'subdomain_taken', message: 'The name "x" is already in use' });
    expect([e.status, e.code, e.message]).toEqual([409, 'subdomain_taken', 'The name "x" is already in use']);
    expect(toApiError(400, { code: 'reserved_subdomain', message: 'subdomain "www" is reserved', field: 'subdomain' })).toMatchObject({ message: 'Subdomain "www" is reserved', field: 'subdomain' });
  });

  it('drops the request part from schema failures', () => {
    expect(toApiError(400, { code: 'validation_failed', message: 'body/memoryMb must be >= 1', field: 'body/memoryMb' }).message).toBe('MemoryMb must be >= 1');
    expect(toApiError(400, { code: 'validation_failed', message: 'body must have required property', field: 'body' }).message).toBe('Must have required property');
  });

  it('never shows a 5xx body or a non-JSON answer; says what happened instead', () => {
    const e = toApiError(500, { code: 'internal', message: 'Internal server error' });
    expect(e.code).toBe('internal');
    expect(e.message).toMatch(/manager failed to handle the request \(HTTP 500\)/);
    expect(toApiError(502, '<html>Bad gateway</html>').message).toMatch(/HTTP 502/);
    expect(toApiError(429, null).message).toBe('Too many attempts. Wait a minute and try again.');
    expect(toApiError(418, null).message).toBe('The request failed (HTTP 418).');
  });

  it('tells a missing route (feature not on this manager) from a missing resource', () => {
    expect(toApiError(404, { code: 'not_found', message: 'No route for GET /api/instances/x/backups' }).routeMissing).toBe(true);
    expect(toApiError(404, { code: 'not_found', message: 'Instance not found' }).routeMissing).toBe(false);
  });

  it('has one sentence for anything thrown', () => {
    expect(errorMessage(new ApiError(0, 'network', 'Cannot reach'))).toBe('Cannot reach');
    expect(errorMessage(new Error('boom'))).toBe('boom');
    expect(errorMessage('weird')).toBe('Something went wrong.');
  });
});

describe('ApiClient against the real manager', () => {
  let t: TestApp;
  let expired = 0;
  let cookie = '';
  let client: ApiClient;

  beforeAll(async () => {
    t = await startTestApp();
    // Node's fetch needs absolute URLs and keeps no cookies; the browser does both for the dashboard.
    client = new ApiClient(
      () => expired++,
      async (input, init) => {
        const res = await fetch(t.url + String(input), { ...init, headers: { ...(init?.headers as Record<string, string>), ...(cookie ? { cookie } : {}) } });
        const set = res.headers.getSetCookie()[0];
        if (set) cookie = set.split(';')[0]!;
        return res;
      },
    );
  });
  afterAll(async () => {
    await t?.close();
  });

  it('maps a refused session to ApiError 401 and reports the expired session once per call', async () => {
    const err = await client.listProjects().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(expired).toBe(1);
  });

  it('does not treat a failed sign-in as an expired session', async () => {
    const err = await client.login('nobody@example.test', 'wrong password').catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 401 });
    expect(expired).toBe(1);
  });

  it('turns schema failures into readable sentences', async () => {
    const err = await client.register({ email: 'not-an-email', password: 'long enough pw', name: 'X' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, code: 'validation_failed' });
    expect((err as ApiError).message).not.toMatch(/^body/);
  });

  it('signs in, then reads typed data and the server’s own refusals', async () => {
    const user = await client.register({ email: 'first@example.test', password: 'correct horse battery', name: 'First' });
    expect(user.isAdmin).toBe(true);
    const { items } = await client.listProjects();
    expect(items[0]).toMatchObject({ personal: true, name: "First's project" });
    const bad = await client.createInstance(items[0]!.id, { subdomain: 'www' }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 400, code: 'reserved_subdomain', message: 'Subdomain "www" is reserved' });
  });

  it('answers null from optional() when the manager lacks the route, and throws otherwise', async () => {
    expect(await client.optional('GET', '/api/no-such-feature')).toBeNull();
    await expect(client.optional('GET', '/api/instances/0b7c6f1e-1111-4222-8333-944445555666')).rejects.toMatchObject({ status: 404, code: 'not_found' });
  });

  it('reports a manager that does not answer as a network error', async () => {
    const offline = new ApiClient(
      () => {},
      () => Promise.reject(new TypeError('fetch failed')),
    );
    await expect(offline.me()).rejects.toMatchObject({ status: 0, code: 'network' });
  });
});
