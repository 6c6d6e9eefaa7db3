import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BrokerHarness, publish, subscribe } from './broker-harness.js';

const A = 'ff/proj-a/';
const B = 'ff/proj-b/';

let h: BrokerHarness;
let http: Server;
let wsUrl: string;

beforeEach(async () => {
  h = await new BrokerHarness({
    a1: { password: 'pa1', tenant: A },
    a2: { password: 'pa2', tenant: A },
    b1: { password: 'pb1', tenant: B },
  }).start();
  http = createServer((_req, res) => res.writeHead(404).end());
  http.on('upgrade', (req, socket, head) => {
    if (new URL(req.url ?? '/', 'http://localhost').pathname === '/mqtt') h.broker.handleUpgrade(req, socket, head);
    else socket.destroy();
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  wsUrl = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/mqtt`;
});

afterEach(async () => {
  await h.stop();
  http.closeAllConnections();
  await new Promise<void>((resolve) => http.close(() => resolve()));
});

describe('EmbeddedBroker over WebSocket', () => {
  it('carries MQTT over ws:// with the same authentication and mountpoints as TCP', async () => {
    const wsA = await h.connect('a1', 'pa1', { clientId: 'browser' }, wsUrl);
    const tcpA = await h.connect('a2', 'pa2');
    const wsB = await h.connect('b1', 'pb1', { clientId: 'browser' }, wsUrl);
    expect(h.authenticator.calls).toContainEqual({ username: 'a1', clientId: 'browser', peerhost: '127.0.0.1' });
    await subscribe(wsA.client, ['from-tcp/#', 'fence/#'], 1);
    await subscribe(tcpA.client, 'from-ws/#', 1);
    await subscribe(wsB.client, '#', 1);

    await publish(tcpA.client, 'from-tcp/1', 'tcp-to-ws');
    await publish(wsA.client, 'from-ws/1', 'ws-to-tcp');
    await wsA.inbox.waitForPayload('tcp-to-ws');
    await tcpA.inbox.waitForPayload('ws-to-tcp');
    expect(wsA.inbox.messages[0]).toEqual({ topic: 'from-tcp/1', payload: 'tcp-to-ws', retain: false, qos: 1 });
    expect(tcpA.inbox.messages[0]).toEqual({ topic: 'from-ws/1', payload: 'ws-to-tcp', retain: false, qos: 1 });

    const marker = `fence-${randomUUID()}`;
    await h.broker.publish(`${B}fence/x`, marker);
    await wsB.inbox.waitForPayload(marker);
    expect(wsB.inbox.payloads()).toEqual([marker]);
    expect(wsA.client.connected && wsB.client.connected).toBe(true);
  });

  it('refuses a wrong password over WebSocket', async () => {
    await expect(h.connect('a1', 'wrong', {}, wsUrl)).rejects.toMatchObject({ code: 5 });
  });
});
