import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.helper.js';
import { ApiClient, newUser } from '../helpers/http.helper.js';
import { createRunning, deployFlows, viaRouter, waitFor } from '../helpers/instance.helper.js';

/** A clock the test can move forward, to expire tokens without waiting. */
const clock = { offsetMs: 0, now: () => new Date(Date.now() + clock.offsetMs) };

const echoFlows = [
  { id: 't1', type: 'tab', label: 'echo' },
  { id: 'hin', type: 'http in', z: 't1', url: '/hook', method: 'post', wires: [['fn']] },
  { id: 'fn', type: 'function', z: 't1', func: "msg.payload = { got: msg.payload, auth: msg.req.headers.authorization || null, cookie: msg.req.headers.cookie || null }; return msg;", outputs: 1, wires: [['hout']] },
  { id: 'hout', type: 'http response', z: 't1', wires: [] },
  { id: 'wsin', type: 'websocket in', z: 't1', server: 'wsl', client: '', wires: [['wsout']] },
  { id: 'wsout', type: 'websocket out', z: 't1', server: 'wsl', client: '', wires: [] },
  { id: 'wsl', type: 'websocket-listener', path: '/ws/echo', wholemsg: 'false' },
];

function upgrade(t: TestApp, label: string, path: string, headers: Record<string, string>): Promise<{ opened: boolean; firstFrame: string | null; ws: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${t.port}${path}`, { headers: { host: `${label}.localhost:${t.port}`, ...headers } });
    let opened = false;
    const timer = setTimeout(() => resolve({ opened, firstFrame: null, ws }), 3000);
    ws.on('open', () => {
      opened = true;
      if (path === '/comms') ws.send(JSON.stringify({ subscribe: 'notification/#' }));
    });
    ws.on('message', (data) => {
      clearTimeout(timer);
      resolve({ opened, firstFrame: String(data), ws });
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      clearTimeout(timer);
      resolve({ opened, firstFrame: null, ws });
    });
  });
}

describe('routing and one-click Launch over HTTP', () => {
  let t: TestApp;
  let owner: ApiClient;
  let a: { id: string; magic: string };
  let b: { id: string; magic: string };
  const origin = (label: string) => `http://${label}.localhost:${t.port}`;

  beforeAll(async () => {
    const base = 20000 + Math.floor(Math.random() * 20000);
    t = await startTestApp({ env: { PORT_RANGE_START: String(base), PORT_RANGE_END: String(base + 20) }, deps: { clock } });
    owner = (await newUser(t.url, undefined, 'launcher')).client;
    const pid = (await owner.get('/api/projects')).body.items[0].id;
    a = await createRunning(t, owner, pid, 'launch-a');
    b = await createRunning(t, owner, pid, 'launch-b');
    await deployFlows(t, 'launch-a', a.magic, echoFlows);
  });
  afterAll(async () => {
    await t?.close();
  });

  const launchToken = async (id: string) => {
    const res = await owner.post(`/api/instances/${id}/launch`);
    expect(res.status).toBe(200);
    const url = new URL(res.body.url);
    return { url, token: url.searchParams.get('access_token')! };
  };

  it('redeems a launch token once into the magic-token cookie and strips it from the URL', async () => {
    const { url, token } = await launchToken(a.id);
    expect(url.host).toBe(`launch-a.localhost:${t.port}`);
    expect(token.length).toBeGreaterThanOrEqual(43);
    const first = await viaRouter(t, 'launch-a', `/?access_token=${token}`);
    expect(first.status).toBe(302);
    expect(first.headers.location).toBe('/');
    expect(first.headers['referrer-policy']).toBe('no-referrer');
    const cookie = first.setCookies.find((c) => c.startsWith('openflow_token='))!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).toMatch(/Max-Age=2592000/);
    expect(cookie).not.toMatch(/Domain=/i);
    const cookieValue = cookie.split(';')[0]!;
    expect(cookieValue).toBe(`openflow_token=${a.magic}`);

    const editor = await viaRouter(t, 'launch-a', '/', { headers: { cookie: cookieValue } });
    expect(editor.status).toBe(200);
    expect(editor.body).not.toContain(token);
    expect((await viaRouter(t, 'launch-a', '/flows', { headers: { cookie: cookieValue } })).status).toBe(200);

    const replay = await viaRouter(t, 'launch-a', `/?access_token=${token}`);
    expect(replay.status).toBe(401);
    expect(replay.setCookies.some((c) => c.startsWith('openflow_token=') && !/Max-Age=0/.test(c))).toBe(false);
  });

  it('refuses expired tokens, tokens of another instance, other magic tokens and non-members', async () => {
    const expired = await launchToken(a.id);
    clock.offsetMs = 61_000;
    try {
      expect((await viaRouter(t, 'launch-a', `/?access_token=${expired.token}`)).status).toBe(401);
    } finally {
      clock.offsetMs = 0;
    }
    const forA = await launchToken(a.id);
    expect((await viaRouter(t, 'launch-b', `/?access_token=${forA.token}`)).status).toBe(401);
    expect((await viaRouter(t, 'launch-a', `/?access_token=${forA.token}`)).status).toBe(302);

    expect((await viaRouter(t, 'launch-b', '/flows', { headers: { authorization: `Bearer ${a.magic}` } })).status).toBe(401);
    expect((await viaRouter(t, 'launch-b', '/flows', { headers: { cookie: `openflow_token=${a.magic}` } })).status).toBe(401);
    expect((await viaRouter(t, 'launch-b', '/flows')).status).toBe(401);

    const stranger = await newUser(t.url, owner, 'launch-stranger');
    expect((await stranger.client.post(`/api/instances/${a.id}/launch`)).status).toBe(404);
  });

  it('refuses a foreign Origin on unsafe requests and on the /comms upgrade', async () => {
    const cookie = `openflow_token=${a.magic}`;
    const flows = (await viaRouter(t, 'launch-a', '/flows', { headers: { cookie } })).body;
    const post = (o: string) => viaRouter(t, 'launch-a', '/flows', { method: 'POST', headers: { cookie, origin: o, 'content-type': 'application/json', 'node-red-deployment-type': 'full' }, body: flows });
    expect((await post(origin('launch-b'))).status).toBe(401);
    expect((await post('http://evil.example')).status).toBe(401);
    expect((await post(origin('launch-a'))).status).toBe(204);

    const own = await upgrade(t, 'launch-a', '/comms', { cookie, origin: origin('launch-a') });
    expect(own.opened).toBe(true);
    expect(own.firstFrame ?? '').not.toContain('"auth":"fail"');
    own.ws.close();
    const foreign = await upgrade(t, 'launch-a', '/comms', { cookie, origin: origin('launch-b') });
    expect(foreign.firstFrame === null || foreign.firstFrame.includes('"auth":"fail"')).toBe(true);
    foreign.ws.close();
    const none = await upgrade(t, 'launch-a', '/comms', { origin: origin('launch-a') });
    expect(none.firstFrame === null || none.firstFrame.includes('"auth":"fail"')).toBe(true);
    none.ws.close();
  });

  it('reaches http-in nodes at /hook and /api/hook, without the magic token, and echoes WebSockets', async () => {
    const body = JSON.stringify({ n: 1 });
    const headers = { 'content-type': 'application/json', cookie: `openflow_token=${a.magic}`, authorization: `Bearer ${a.magic}` };
    // An earlier test redeployed the flows; Node-RED answers a deploy before the flows have restarted.
    await waitFor('flows started', async () => (await viaRouter(t, 'launch-a', '/api/hook', { method: 'POST', headers, body })).status === 200);
    for (const path of ['/hook', '/api/hook']) {
      const r = await viaRouter(t, 'launch-a', path, { method: 'POST', headers, body });
      expect(r.status, path).toBe(200);
      const payload = JSON.parse(r.body);
      expect(payload.got).toEqual({ n: 1 });
      expect(JSON.stringify(payload)).not.toContain(a.magic);
    }
    const ws = new WebSocket(`ws://127.0.0.1:${t.port}/api/ws/echo`, { headers: { host: `launch-a.localhost:${t.port}` } });
    const echoed = await new Promise<string>((resolve, reject) => {
      ws.once('open', () => ws.send('hello through the router'));
      ws.once('message', (d) => resolve(String(d)));
      ws.once('error', reject);
    });
    expect(echoed).toBe('hello through the router');
    ws.close();
  });

  it('answers unknown hosts with 404 and stopped instances with 503; aliases route at once', async () => {
    const unknown = await viaRouter(t, 'no-such-instance', '/');
    expect(unknown.status).toBe(404);
    const alias = await owner.post(`/api/instances/${a.id}/aliases`, { alias: 'launch-alias' });
    expect(alias.status).toBe(201);
    expect(alias.body).toEqual({ items: ['launch-alias'], restartNeeded: false });
    await waitFor('alias route', async () => (await viaRouter(t, 'launch-alias', '/api/hook', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status === 200);
    const dupe = await owner.post(`/api/instances/${b.id}/aliases`, { alias: 'launch-a' });
    expect([dupe.status, dupe.body.code]).toEqual([409, 'subdomain_taken']);
    expect((await owner.delete(`/api/instances/${a.id}/aliases/launch-alias`)).body.items).toEqual([]);
    await waitFor('alias gone', async () => (await viaRouter(t, 'launch-alias', '/')).status === 404);

    await owner.post(`/api/instances/${b.id}/stop`);
    const stopped = await viaRouter(t, 'launch-b', '/', { headers: { accept: 'application/json' } });
    expect(stopped.status).toBe(503);
    expect(JSON.parse(stopped.body)).toMatchObject({ code: 'instance_unavailable', state: 'stopped' });
    const launchStopped = await owner.post(`/api/instances/${b.id}/launch`);
    expect([launchStopped.status, launchStopped.body.code]).toEqual([409, 'instance_not_running']);
    const audit = (await owner.get(`/api/audit?projectId=${(await owner.get(`/api/instances/${b.id}`)).body.projectId}&action=instance.*`)).body.items;
    const actions = audit.map((e: any) => `${e.action}:${e.outcome}`);
    expect(actions).toEqual(expect.arrayContaining(['instance.stop:success', 'instance.launch:failure', 'instance.alias.add:success', 'instance.alias.remove:success']));
  });

  it('rotating the magic token invalidates old cookies', async () => {
    const old = a.magic;
    const rotated = await owner.post(`/api/instances/${a.id}/rotate-token`);
    expect(rotated.status).toBe(200);
    await waitFor('running after rotation', async () => (await owner.get(`/api/instances/${a.id}`)).body.state === 'running');
    expect((await viaRouter(t, 'launch-a', '/flows', { headers: { cookie: `openflow_token=${old}` } })).status).toBe(401);
  });
});
