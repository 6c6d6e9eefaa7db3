import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeManager, NodeRedProcess, httpRequest, randomToken } from './nodered.harness.js';

const DASHBOARD = 'http://manager.localhost:4071/';
const COOKIE_ATTRIBUTES = 'Path=/; HttpOnly; SameSite=Lax; Max-Age=2592000';
const magic = randomToken();
const secret = randomToken();
let manager: FakeManager;
let nr: NodeRedProcess;

beforeAll(async () => {
  manager = await FakeManager.start();
  manager.addInstance('inst-a', secret);
  manager.addInstance('inst-b', randomToken());
  nr = await NodeRedProcess.start({ magicToken: magic, instanceSecret: secret, authUrl: manager.authUrl, subdomain: 'alpha', dashboardUrl: DASHBOARD });
});

afterAll(async () => {
  await nr?.stop();
  await manager?.close();
});

function expectRefusalPage(res: { status: number; headers: Record<string, unknown>; setCookies: string[]; body: string }, token: string): void {
  expect(res.status).toBe(401);
  expect(res.setCookies).toEqual([]);
  expect(res.headers['referrer-policy']).toBe('no-referrer');
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.headers['content-type']).toMatch(/^text\/html/);
  expect(res.body).toMatch(/expired or has already been used/);
  expect(res.body).toContain(`href="${DASHBOARD}"`);
  expect(res.body).not.toContain(token);
  expect(res.body).not.toContain(magic);
}

describe('Launch', () => {
  it('redeems a token once: cookie set, token gone from the URL, no referrer', async () => {
    const token = manager.mint('inst-a');
    const res = await httpRequest(nr.port, { path: `/?access_token=${token}` });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/');
    expect(res.setCookies).toEqual([`openflow_token=${magic}; ${COOKIE_ATTRIBUTES}`]);
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(manager.redeemed.at(-1)).toEqual({ instanceId: 'inst-a', accessToken: token });

    const editor = await httpRequest(nr.port, { path: '/', headers: { cookie: res.setCookies[0]?.split(';')[0] ?? '' } });
    expect(editor.status).toBe(200);

    expectRefusalPage(await httpRequest(nr.port, { path: `/?access_token=${token}` }), token);
  });

  it('keeps the other query parameters and the path', async () => {
    const token = manager.mint('inst-a');
    const res = await httpRequest(nr.port, { path: `/red/keymap.json?a=1&access_token=${token}&b=x%20y` });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/red/keymap.json?a=1&b=x%20y');
  });

  it('never redirects off-site, whatever the path looks like', async () => {
    const token = manager.mint('inst-a');
    const res = await httpRequest(nr.port, { path: `//evil.example/?access_token=${token}` });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/evil.example/');
  });

  it('refuses a token minted for another instance', async () => {
    const token = manager.mint('inst-b');
    expectRefusalPage(await httpRequest(nr.port, { path: `/?access_token=${token}` }), token);
    expect(manager.redeemed.at(-1)).toEqual({ instanceId: 'inst-a', accessToken: token });
  });

  it('refuses an unknown token and the magic token itself', async () => {
    const unknown = randomToken();
    expectRefusalPage(await httpRequest(nr.port, { path: `/?access_token=${unknown}` }), unknown);
    const res = await httpRequest(nr.port, { path: `/?access_token=${magic}` });
    expect(res.status).toBe(401);
    expect(res.setCookies).toEqual([]);
  });

  it('adds Secure when the request came over https', async () => {
    const token = manager.mint('inst-a');
    const res = await httpRequest(nr.port, { path: `/?access_token=${token}`, headers: { 'x-forwarded-proto': 'https' } });
    expect(res.status).toBe(302);
    expect(res.setCookies).toEqual([`openflow_token=${magic}; ${COOKIE_ATTRIBUTES}; Secure`]);
  });

  it('refuses two access_token parameters at once', async () => {
    const first = manager.mint('inst-a');
    const second = manager.mint('inst-a');
    const res = await httpRequest(nr.port, { path: `/?access_token=${first}&access_token=${second}` });
    expect(res.status).toBe(401);
    expect(res.setCookies).toEqual([]);
  });

  it('keeps launch tokens and the magic token out of the logs', () => {
    for (const { accessToken } of manager.redeemed) expect(nr.logs).not.toContain(String(accessToken));
    expect(nr.logs).not.toContain(magic);
  });
});

describe('Launch with the manager unreachable', () => {
  let lonely: NodeRedProcess;
  // Accepts connections and drops them, so the instance sees a network failure rather than an answer.
  const dropper = createServer((socket) => socket.destroy());

  beforeAll(async () => {
    await new Promise<void>((resolve) => dropper.listen(0, '127.0.0.1', resolve));
    const { port } = dropper.address() as AddressInfo;
    const authUrl = `http://127.0.0.1:${port}/internal/launch/redeem`;
    lonely = await NodeRedProcess.start({ magicToken: randomToken(), instanceSecret: randomToken(), authUrl, subdomain: 'beta', dashboardUrl: DASHBOARD });
  });

  afterAll(async () => {
    await lonely?.stop();
    await new Promise<void>((resolve) => dropper.close(() => resolve()));
  });

  it('answers with an error page and no cookie', async () => {
    const res = await httpRequest(lonely.port, { path: `/?access_token=${randomToken()}` });
    expect(res.status).toBe(502);
    expect(res.setCookies).toEqual([]);
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.body).toContain(`href="${DASHBOARD}"`);
  });
});
