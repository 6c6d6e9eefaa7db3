import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.helper.js';
import { newUser } from '../helpers/http.helper.js';
import { createRunning, deployFlows, viaRouter, waitFor } from '../helpers/instance.helper.js';

const broker = { id: 'brk', type: 'mqtt-broker', name: 'openflow', broker: '${OPENFLOW_MQTT_HOST}', port: '${OPENFLOW_MQTT_PORT}', clientid: '', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '15', cleansession: true, credentials: { user: '${OPENFLOW_MQTT_USERNAME}', password: '${OPENFLOW_MQTT_PASSWORD}' } };

const publisher = [
  { id: 't1', type: 'tab', label: 'pub' },
  { id: 'inj', type: 'inject', z: 't1', props: [{ p: 'payload' }], repeat: '0.5', once: true, onceDelay: '0.5', payload: 'ping-from-a1', payloadType: 'str', wires: [['out']] },
  { id: 'out', type: 'mqtt out', z: 't1', topic: 'e2e/ping', qos: '0', retain: 'false', broker: 'brk', wires: [] },
  broker,
];

const subscriber = [
  { id: 't1', type: 'tab', label: 'sub' },
  { id: 'in', type: 'mqtt in', z: 't1', topic: 'e2e/#', qos: '0', datatype: 'utf8', broker: 'brk', nl: false, rap: true, rh: 0, inputs: 0, wires: [['store']] },
  { id: 'store', type: 'function', z: 't1', func: "global.set('last', msg.topic + '=' + msg.payload); return null;", outputs: 1, wires: [[]] },
  { id: 'hin', type: 'http in', z: 't1', url: '/last', method: 'get', wires: [['read']] },
  { id: 'read', type: 'function', z: 't1', func: "msg.payload = { last: global.get('last') || null }; return msg;", outputs: 1, wires: [['hout']] },
  { id: 'hout', type: 'http response', z: 't1', wires: [] },
  broker,
];

describe('MQTT end to end between real Node-RED instances', () => {
  let t: TestApp;
  beforeAll(async () => {
    const base = 20000 + Math.floor(Math.random() * 20000);
    t = await startTestApp({ env: { PORT_RANGE_START: String(base), PORT_RANGE_END: String(base + 20) } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('an mqtt out in A1 reaches an mqtt in in A2 (same project) and never B1', async () => {
    const admin = await newUser(t.url, undefined, 'e2emqtt');
    const projectA = (await admin.client.get('/api/projects')).body.items[0].id;
    const projectB = (await admin.client.post('/api/projects', { name: 'B' })).body.id;
    const a1 = await createRunning(t, admin.client, projectA, 'mq-a1');
    const a2 = await createRunning(t, admin.client, projectA, 'mq-a2');
    const b1 = await createRunning(t, admin.client, projectB, 'mq-b1');
    await deployFlows(t, 'mq-a2', a2.magic, subscriber);
    await deployFlows(t, 'mq-b1', b1.magic, subscriber);
    await deployFlows(t, 'mq-a1', a1.magic, publisher);
    const last = await waitFor('A2 to receive', async () => {
      const r = await viaRouter(t, 'mq-a2', '/api/last');
      return r.status === 200 && JSON.parse(r.body).last ? JSON.parse(r.body).last : null;
    });
    expect(last).toBe('e2e/ping=ping-from-a1');
    await new Promise((r) => setTimeout(r, 1500));
    const b = await viaRouter(t, 'mq-b1', '/last');
    expect(b.status).toBe(200);
    expect(JSON.parse(b.body).last).toBeNull();
  });
});
