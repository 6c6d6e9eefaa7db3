import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.helper.js';
import { ApiClient, newUser } from '../helpers/http.helper.js';

const emqx = (t: TestApp, body: string, contentType = 'application/json') =>
  fetch(`${t.url}/mqtt/auth`, { method: 'POST', headers: { 'content-type': contentType }, body }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

function connect(url: string, username: string, password: string): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { username, password, reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4 });
    c.once('connect', () => resolve(c));
    c.once('error', (e) => {
      c.end(true);
      reject(e);
    });
  });
}

describe('MQTT credentials and the EMQX HTTP-auth contract', () => {
  let t: TestApp;
  let owner: ApiClient;
  let pid: string;
  let otherPid: string;
  let device: { id: string; username: string; password: string };

  beforeAll(async () => {
    t = await startTestApp();
    const admin = await newUser(t.url, undefined, 'mqadmin');
    owner = admin.client;
    pid = (await owner.get('/api/projects')).body.items[0].id;
    otherPid = (await owner.post('/api/projects', { name: 'Other' })).body.id;
    const created = await owner.post(`/api/projects/${pid}/mqtt-clients`, { description: 'sensor' });
    expect(created.status).toBe(201);
    device = created.body;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('allows the right password with the project tenant, never a bare allow', async () => {
    const res = await emqx(t, JSON.stringify({ username: device.username, password: device.password, clientid: 'c1', peerhost: '10.0.0.1' }));
    expect(res).toEqual({ status: 200, body: { result: 'allow', is_superuser: false, client_attrs: { tenant: `ff/${pid}/` }, acl: [{ permission: 'allow', action: 'all', topic: '#' }] } });
  });

  it('denies wrong passwords, unknown users, malformed and oversized bodies with 200 deny', async () => {
    const cases = [
      JSON.stringify({ username: device.username, password: 'wrong', clientid: 'c', peerhost: '10.0.0.2' }),
      JSON.stringify({ username: 'nobody', password: 'x', clientid: 'c', peerhost: '10.0.0.3' }),
      '{"username": ',
      JSON.stringify({ password: 'x' }),
      JSON.stringify({ username: device.username }),
      JSON.stringify({ username: 5, password: [] }),
      JSON.stringify({ username: device.username, password: 'x'.repeat(40_000) }),
      'null',
    ];
    for (const body of cases) expect(await emqx(t, body), body.slice(0, 60)).toEqual({ status: 200, body: { result: 'deny' } });
    expect(await emqx(t, 'username=a&password=b', 'application/x-www-form-urlencoded')).toEqual({ status: 200, body: { result: 'deny' } });
  });

  it('rate-limits repeated failures per username even with a right password afterwards', async () => {
    const victim = (await owner.post(`/api/projects/${pid}/mqtt-clients`, { description: 'victim' })).body;
    for (let i = 0; i < 20; i++) await emqx(t, JSON.stringify({ username: victim.username, password: 'guess' + i, clientid: 'c', peerhost: `10.1.0.${i}` }));
    const locked = await emqx(t, JSON.stringify({ username: victim.username, password: victim.password, clientid: 'c', peerhost: '10.2.0.1' }));
    expect(locked.body.result).toBe('deny');
  });

  it('lists credentials without secrets, refuses other projects, and revoking kicks live sessions', async () => {
    const list = await owner.get(`/api/projects/${pid}/mqtt-clients`);
    expect(list.body.items.map((c: any) => c.username)).toContain(device.username);
    expect(JSON.stringify(list.body)).not.toContain(device.password);
    const stranger = await newUser(t.url, owner, 'mqstranger');
    expect((await stranger.client.get(`/api/projects/${pid}/mqtt-clients`)).status).toBe(404);
    expect((await owner.delete(`/api/projects/${otherPid}/mqtt-clients/${device.id}`)).status).toBe(404);

    const fresh = (await owner.post(`/api/projects/${pid}/mqtt-clients`, { description: 'to revoke' })).body;
    const client = await connect(`mqtt://127.0.0.1:${t.openflow.mqttPort}`, fresh.username, fresh.password);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    expect((await owner.delete(`/api/projects/${pid}/mqtt-clients/${fresh.id}`)).status).toBe(204);
    await closed;
    client.end(true);
    await expect(connect(`mqtt://127.0.0.1:${t.openflow.mqttPort}`, fresh.username, fresh.password)).rejects.toThrow(/Not authorized|Bad username/i);
    expect((await emqx(t, JSON.stringify({ username: fresh.username, password: fresh.password, clientid: 'x', peerhost: '10.3.0.1' }))).body.result).toBe('deny');
  });

  it('serves MQTT over WebSocket at /mqtt on the manager host with the same mountpoint', async () => {
    const other = (await owner.post(`/api/projects/${otherPid}/mqtt-clients`, { description: 'other project' })).body;
    const ws = await connect(`ws://127.0.0.1:${t.port}/mqtt`, device.username, device.password);
    const tcpSame = await connect(`mqtt://127.0.0.1:${t.openflow.mqttPort}`, device.username, device.password);
    const tcpOther = await connect(`mqtt://127.0.0.1:${t.openflow.mqttPort}`, other.username, other.password);
    const seen: string[] = [];
    const seenOther: string[] = [];
    tcpSame.on('message', (topic) => seen.push(topic));
    tcpOther.on('message', (topic) => seenOther.push(topic));
    await tcpSame.subscribeAsync('#');
    await tcpOther.subscribeAsync('#');
    await ws.publishAsync('plant/temp', '21', { qos: 1 });
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual(['plant/temp']);
    expect(seenOther).toEqual([]);
    for (const c of [ws, tcpSame, tcpOther]) await c.endAsync();
  });
});
