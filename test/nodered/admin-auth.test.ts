import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeManager, NodeRedProcess, httpRequest, randomToken } from './nodered.harness.js';

const DASHBOARD = 'http://manager.localhost:4071/instances/i-1';
const magic = randomToken();
let manager: FakeManager;
let nr: NodeRedProcess;
let own: string;

const deployBody = JSON.stringify({ flows: [{ id: 'tab1', type: 'tab', label: 'Flow 1' }] });
const deployHeaders = { 'content-type': 'application/json', 'node-red-api-version': 'v2', 'node-red-deployment-type': 'full' };

beforeAll(async () => {
  manager = await FakeManager.start();
  nr = await NodeRedProcess.start({ magicToken: magic, instanceSecret: randomToken(), authUrl: manager.authUrl, subdomain: 'demo', dashboardUrl: DASHBOARD });
  own = `http://127.0.0.1:${nr.port}`;
});

afterAll(async () => {
  await nr?.stop();
  await manager?.close();
});

describe('admin API with the magic token', () => {
  it('accepts the magic bearer and refuses no token, a wrong token and the token in the query', async () => {
    expect((await httpRequest(nr.port, { path: '/flows', headers: { authorization: `Bearer ${magic}` } })).status).toBe(200);
    expect((await httpRequest(nr.port, { path: '/flows' })).status).toBe(401);
    expect((await httpRequest(nr.port, { path: '/flows', headers: { authorization: `Bearer ${randomToken()}` } })).status).toBe(401);
    expect((await httpRequest(nr.port, { path: `/flows?access_token=${magic}` })).status).toBe(401);
  });

  it('reports the openflow user in /settings when the cookie is sent', async () => {
    const res = await httpRequest(nr.port, { path: '/settings', headers: { cookie: `openflow_token=${magic}` } });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).user).toEqual({ username: 'openflow', permissions: '*' });
  });

  it('lets the cookie win over a stale bearer header', async () => {
    const res = await httpRequest(nr.port, { path: '/flows', headers: { cookie: `other=1; openflow_token=${magic}`, authorization: 'Bearer stale-token' } });
    expect(res.status).toBe(200);
  });

  it('finds the real cookie when a planted one with the same name comes first', async () => {
    const res = await httpRequest(nr.port, { path: '/flows', headers: { cookie: `openflow_token=planted; openflow_token=${magic}` } });
    expect(res.status).toBe(200);
  });

  it('refuses a wrong cookie', async () => {
    expect((await httpRequest(nr.port, { path: '/flows', headers: { cookie: `openflow_token=${randomToken()}` } })).status).toBe(401);
  });
});

describe('cross-site request protection', () => {
  it('refuses a cookie POST from a foreign origin, a sibling subdomain or a null origin', async () => {
    for (const origin of ['http://evil.example', 'http://other.localhost:4071', `http://127.0.0.1:${nr.port + 1}`, 'null']) {
      const res = await httpRequest(nr.port, { method: 'POST', path: '/flows', headers: { ...deployHeaders, cookie: `openflow_token=${magic}`, origin }, body: deployBody });
      expect(res.status, origin).toBe(401);
    }
  });

  it('refuses a foreign origin even with the magic bearer', async () => {
    const res = await httpRequest(nr.port, { method: 'POST', path: '/flows', headers: { ...deployHeaders, authorization: `Bearer ${magic}`, origin: 'http://evil.example' }, body: deployBody });
    expect(res.status).toBe(401);
  });

  it('refuses a urlencoded cookie POST without an Origin header', async () => {
    const res = await httpRequest(nr.port, {
      method: 'POST',
      path: '/nodes',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `openflow_token=${magic}` },
      body: 'module=node-red-contrib-does-not-exist',
    });
    expect(res.status).toBe(401);
  });

  it('accepts a cookie POST from its own origin', async () => {
    const res = await httpRequest(nr.port, { method: 'POST', path: '/flows', headers: { ...deployHeaders, cookie: `openflow_token=${magic}`, origin: own }, body: deployBody });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toHaveProperty('rev');
  });

  it('accepts the null origin a no-referrer page sends to itself only when the browser marks it same-origin', async () => {
    const headers = { ...deployHeaders, cookie: `openflow_token=${magic}`, origin: 'null' };
    expect((await httpRequest(nr.port, { method: 'POST', path: '/flows', headers: { ...headers, 'sec-fetch-site': 'same-origin' }, body: deployBody })).status).toBe(200);
    expect((await httpRequest(nr.port, { method: 'POST', path: '/flows', headers: { ...headers, 'sec-fetch-site': 'same-site' }, body: deployBody })).status).toBe(401);
  });

  it('accepts a script POST with an explicit bearer and no Origin', async () => {
    const res = await httpRequest(nr.port, { method: 'POST', path: '/flows', headers: { ...deployHeaders, authorization: `Bearer ${magic}` }, body: deployBody });
    expect(res.status).toBe(200);
  });
});

describe('editor page', () => {
  it('sends a visitor without the cookie to the dashboard', async () => {
    const res = await httpRequest(nr.port, { path: '/' });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(DASHBOARD);
    expect(res.setCookies).toEqual([]);
  });

  it('sends a stale cookie to the dashboard and clears it', async () => {
    const res = await httpRequest(nr.port, { path: '/', headers: { cookie: `openflow_token=${randomToken()}` } });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(DASHBOARD);
    expect(res.setCookies).toEqual(['openflow_token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0']);
  });

  it('serves the editor, titled after the instance and with the boot script, to a visitor with the cookie', async () => {
    const res = await httpRequest(nr.port, { path: '/', headers: { cookie: `openflow_token=${magic}` } });
    expect(res.status).toBe(200);
    expect(res.body).toContain('<title>demo · Openflow</title>');
    // Mustache escapes the slashes in the attribute; a browser decodes them back.
    const script = /<script src="([^"]*openflow-editor-boot\.js)">/.exec(res.body.replaceAll('&#x2F;', '/'));
    expect(script?.[1]).toBe('theme/scripts/openflow-editor-boot.js');
    const boot = await httpRequest(nr.port, { path: `/${script?.[1] ?? ''}` });
    expect(boot.status).toBe(200);
    expect(boot.body).toContain("indexOf('auth-tokens')");
  });

  it('offers the dashboard on the login prompt and runs with telemetry and diagnostics off', async () => {
    const login = JSON.parse((await httpRequest(nr.port, { path: '/auth/login' })).body);
    expect(login.prompts).toEqual([{ type: 'button', label: 'Open the Openflow dashboard', url: DASHBOARD }]);
    const settings = JSON.parse((await httpRequest(nr.port, { path: '/settings', headers: { authorization: `Bearer ${magic}` } })).body);
    expect(settings.httpNodeRoot).toBe('/api/');
    expect(settings.runtimeState).toEqual({ enabled: true, ui: true });
    expect(settings.telemetryEnabled).toBe(false);
    expect(settings.diagnostics).toEqual({ enabled: false, ui: false });
    expect(settings.editorTheme.projects).toEqual({ enabled: false });
    expect((await httpRequest(nr.port, { path: '/diagnostics', headers: { authorization: `Bearer ${magic}` } })).status).toBe(403);
  });
});

describe('logout', () => {
  it('clears the cookie and points the editor at the dashboard', async () => {
    const res = await httpRequest(nr.port, {
      method: 'POST',
      path: '/auth/revoke',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `openflow_token=${magic}`, origin: own },
      body: 'token=',
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ redirect: DASHBOARD });
    expect(res.setCookies).toEqual(['openflow_token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0']);
  });

  it('does not act on a revoke from a foreign origin', async () => {
    const res = await httpRequest(nr.port, {
      method: 'POST',
      path: '/auth/revoke',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `openflow_token=${magic}`, origin: 'http://evil.example' },
      body: 'token=',
    });
    expect(res.status).toBe(401);
    expect(res.setCookies).toEqual([]);
  });
});

describe('logs', () => {
  it('never print the magic token', () => {
    expect(nr.logs).not.toContain(magic);
    expect(nr.logs).toContain('Started flows');
  });
});
