import { randomUUID } from 'node:crypto';
import { connect, createServer } from 'node:net';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker, type BrokerAuthenticator } from '../../src/mqtt/embedded-broker.js';
import {
  BrokerHarness,
  RecordingLogger,
  closed,
  end,
  publish,
  subackCodes,
  subscribe,
  unsubscribe,
  type Inbox,
} from './broker-harness.js';

const A = 'ff/proj-a/';
const B = 'ff/proj-b/';
const USERS = {
  a1: { password: 'pa1', tenant: A },
  a2: { password: 'pa2', tenant: A },
  b1: { password: 'pb1', tenant: B },
  b2: { password: 'pb2', tenant: B },
};

let h: BrokerHarness;

beforeEach(async () => {
  h = await new BrokerHarness(USERS).start();
});

afterEach(async () => {
  await h.stop();
});

/**
 * Proves that everything published before it has been routed to `inbox`: a server-side message on the tenant's
 * `fence/` topic travels behind anything the broker already dispatched to that connection. The client must be
 * subscribed to `fence/#` (or `#`).
 */
async function fence(tenant: string, inbox: Inbox): Promise<void> {
  const marker = `fence-${randomUUID()}`;
  await h.broker.publish(`${tenant}fence/${marker}`, marker);
  await inbox.waitForPayload(marker);
}

const withoutFences = (inbox: Inbox) => inbox.messages.filter((m) => !m.topic.startsWith('fence/'));

describe('EmbeddedBroker: authentication', () => {
  it('admits good credentials and refuses wrong, unknown and missing ones with CONNACK 5', async () => {
    const ok = await h.connect('a1', 'pa1', { clientId: 'auth-probe' });
    expect(ok.client.connected).toBe(true);
    expect(h.authenticator.calls).toContainEqual({ username: 'a1', clientId: 'auth-probe', peerhost: '127.0.0.1' });

    expect(await h.refusal('a1', 'wrong')).toBe(5);
    expect(await h.refusal('nobody', 'pa1')).toBe(5);
    expect(await h.refusal('a1', '')).toBe(5);
    expect(await h.refusal('', '', { username: undefined, password: undefined })).toBe(5);
  });

  it('refuses when the authenticator throws or returns an invalid tenant, and keeps serving', async () => {
    const users = {
      good: { password: 'p', tenant: A },
      ...Object.fromEntries(
        ['ff/a/b/', 'ff/+/', 'ff/#/', 'ff/$SYS/', 'ff/p', 'x/', '', 'ff/\0/'].map((tenant, i) => [`bad${i}`, { password: 'p', tenant }]),
      ),
    };
    const base = new BrokerHarness(users).authenticator;
    const authenticator: BrokerAuthenticator = {
      authenticate(input) {
        if (input.username === 'sync-throw') throw new Error('database down');
        if (input.username === 'async-throw') return Promise.reject(new Error('database down'));
        return base.authenticate(input);
      },
    };
    const faulty = await new BrokerHarness(users, authenticator).start();
    try {
      expect(await faulty.refusal('sync-throw', 'p')).toBe(5);
      expect(await faulty.refusal('async-throw', 'p')).toBe(5);
      for (let i = 0; i < 8; i++) expect(await faulty.refusal(`bad${i}`, 'p')).toBe(5);
      const good = await faulty.connect('good', 'p');
      expect(good.client.connected).toBe(true);
      const errors = faulty.logger.entries.filter((e) => e.level === 'error').map((e) => e.msg);
      expect(errors.filter((m) => m.includes('authenticator failed'))).toHaveLength(2);
      expect(errors.filter((m) => m.includes('invalid tenant'))).toHaveLength(8);
    } finally {
      await faulty.stop();
    }
  });

  it('refuses MQTT 5 (aedes 1.x speaks 3.1.1 only)', async () => {
    const code = await h.refusal('a1', 'pa1', { protocolVersion: 5 });
    expect(code).not.toBe(0);
  });
});

describe('EmbeddedBroker: project isolation', () => {
  it('lets clients of one project see each other under flat topic names', async () => {
    const a1 = await h.connect('a1', 'pa1');
    const a2 = await h.connect('a2', 'pa2');
    expect(await subscribe(a2.client, ['sensors/#', '+/x'])).toEqual([0, 0]);
    await publish(a1.client, 'sensors/t1', 'hello');
    await publish(a1.client, 'room/x', 'rx');
    await a2.inbox.waitFor((ms) => ms.length >= 2, 'two messages');
    expect(a2.inbox.topics().sort()).toEqual(['room/x', 'sensors/t1']);
  });

  it("keeps one project's #, +/x and forged ff/ topics away from the other", async () => {
    const aHash = await h.connect('a1', 'pa1');
    const aPlus = await h.connect('a2', 'pa2');
    const bHash = await h.connect('b1', 'pb1');
    const bPlus = await h.connect('b2', 'pb2');
    await subscribe(aHash.client, '#');
    await subscribe(bHash.client, '#');
    await subscribe(aPlus.client, ['+/x', 'fence/#']);
    await subscribe(bPlus.client, ['+/x', 'fence/#']);

    await publish(aHash.client, 'a/x', 'from-a');
    await publish(bHash.client, 'b/x', 'from-b');
    await publish(bHash.client, 'ff/proj-a/a/x', 'forged-by-b');
    await publish(bHash.client, '$SYS/forged', 'sys-by-b');
    await aHash.inbox.waitForPayload('from-a');
    await bHash.inbox.waitFor((ms) => ms.length >= 3, 'three B messages');
    await Promise.all([fence(A, aHash.inbox), fence(A, aPlus.inbox), fence(B, bHash.inbox), fence(B, bPlus.inbox)]);

    expect(withoutFences(aHash.inbox)).toEqual([{ topic: 'a/x', payload: 'from-a', retain: false, qos: 0 }]);
    expect(withoutFences(aPlus.inbox).map((m) => [m.topic, m.payload])).toEqual([['a/x', 'from-a']]);
    expect(withoutFences(bHash.inbox).map((m) => [m.topic, m.payload]).sort()).toEqual([
      ['$SYS/forged', 'sys-by-b'],
      ['b/x', 'from-b'],
      ['ff/proj-a/a/x', 'forged-by-b'],
    ]);
    expect(withoutFences(bPlus.inbox).map((m) => [m.topic, m.payload])).toEqual([['b/x', 'from-b']]);
  });

  it('keeps retained messages per project', async () => {
    const aPub = await h.connect('a1', 'pa1');
    const bPub = await h.connect('b1', 'pb1');
    await subscribe(aPub.client, 'cfg/#');
    await subscribe(bPub.client, 'cfg/#');
    await publish(aPub.client, 'cfg/mode', 'a-secret', { retain: true });
    await publish(bPub.client, 'cfg/mode', 'b-value', { retain: true });
    await aPub.inbox.waitForPayload('a-secret');
    await bPub.inbox.waitForPayload('b-value');

    const aLate = await h.connect('a2', 'pa2');
    const bLate = await h.connect('b2', 'pb2');
    await subscribe(aLate.client, '#');
    await subscribe(bLate.client, ['+/mode', 'fence/#']);
    await aLate.inbox.waitForPayload('a-secret');
    await bLate.inbox.waitForPayload('b-value');
    await Promise.all([fence(A, aLate.inbox), fence(B, bLate.inbox)]);

    const seen = (inbox: Inbox) => withoutFences(inbox).map((m) => [m.topic, m.payload, m.retain]);
    expect(seen(aLate.inbox)).toEqual([['cfg/mode', 'a-secret', true]]);
    expect(seen(bLate.inbox)).toEqual([['cfg/mode', 'b-value', true]]);
  });

  it("publishes a project's will to that project only, and not after a clean disconnect", async () => {
    const aWatch = await h.connect('a2', 'pa2');
    const bWatch = await h.connect('b1', 'pb1');
    await subscribe(aWatch.client, ['status/#', 'fence/#'], 1);
    await subscribe(bWatch.client, '#', 1);

    const dying = await h.connect('a1', 'pa1', { will: { topic: 'status/dev', payload: Buffer.from('gone'), qos: 1, retain: false } });
    dying.client.stream.destroy();
    await aWatch.inbox.waitForPayload('gone');

    const leaving = await h.connect('a1', 'pa1', { will: { topic: 'status/dev2', payload: Buffer.from('gone2'), qos: 1, retain: false } });
    await new Promise<void>((resolve) => leaving.client.end(false, {}, () => resolve()));
    const witness = await h.connect('a1', 'pa1');
    await publish(witness.client, 'status/after', 'after');
    await aWatch.inbox.waitForPayload('after');
    await Promise.all([fence(A, aWatch.inbox), fence(B, bWatch.inbox)]);

    expect(withoutFences(aWatch.inbox).map((m) => [m.topic, m.payload])).toEqual([
      ['status/dev', 'gone'],
      ['status/after', 'after'],
    ]);
    expect(withoutFences(bWatch.inbox)).toEqual([]);
  });

  it('makes $SYS unreachable', async () => {
    const sys = await h.connect('a1', 'pa1');
    const all = await h.connect('a2', 'pa2');
    await subscribe(sys.client, ['$SYS/#', 'fence/#']);
    await subscribe(all.client, '#');
    // Each connect and subscribe makes aedes publish $SYS/<broker id>/new/... messages.
    const extra = await h.connect('b1', 'pb1');
    await subscribe(extra.client, 'x');
    await end(extra.client);
    await h.broker.publish('$SYS/direct', 'x').catch(() => undefined);
    await Promise.all([fence(A, sys.inbox), fence(A, all.inbox)]);
    expect(withoutFences(sys.inbox)).toEqual([]);
    expect(withoutFences(all.inbox)).toEqual([]);
  });

  it('refuses $share/ and $queue/ subscriptions with SUBACK 0x80 and says why', async () => {
    const c = await h.connect('a1', 'pa1');
    expect(await subackCodes(c.client, ['$share/g/t', '$queue/t', 'ok/t'], 1)).toEqual([128, 128, 1]);
    const reasons = h.logger.entries.filter((e) => e.level === 'warn' && e.msg.includes('shared subscriptions'));
    expect(reasons.map((e) => (e.fields as { topic: string }).topic).sort()).toEqual(['$queue/t', '$share/g/t']);
  });

  it('keeps a refused $share/ filter out of a persistent session restored later', async () => {
    const c = await h.connect('a1', 'pa1', { clientId: 'shared-persist', clean: false });
    expect(await subackCodes(c.client, ['$share/g/t', 'ok/#'], 1)).toEqual([128, 1]);
    await end(c.client);
    const pub = await h.connect('a2', 'pa2');
    await subscribe(pub.client, '#', 1);
    await publish(pub.client, '$share/g/t', 'shared-topic', { qos: 1 });
    await publish(pub.client, 'ok/1', 'ok', { qos: 1 });
    await pub.inbox.waitFor((ms) => ms.length >= 2, 'both witness messages');

    const back = await h.connect('a1', 'pa1', { clientId: 'shared-persist', clean: false });
    expect(back.sessionPresent).toBe(true);
    await subscribe(back.client, 'fence/#');
    await back.inbox.waitForPayload('ok');
    await fence(A, back.inbox);
    expect(withoutFences(back.inbox)).toEqual([{ topic: 'ok/1', payload: 'ok', retain: false, qos: 1 }]);
  });
});

describe('EmbeddedBroker: client ids and sessions', () => {
  it('scopes client ids per project: the same id in two projects does not kick either', async () => {
    const a = await h.connect('a1', 'pa1', { clientId: 'sensor-1' });
    const b = await h.connect('b1', 'pb1', { clientId: 'sensor-1' });
    let kicked = 0;
    a.client.on('close', () => kicked++);
    b.client.on('close', () => kicked++);
    await subscribe(a.client, 'fence/#');
    await subscribe(b.client, 'fence/#');
    await Promise.all([fence(A, a.inbox), fence(B, b.inbox)]);
    expect(kicked).toBe(0);
    expect(a.client.connected && b.client.connected).toBe(true);

    // Within one project the usual MQTT takeover still applies.
    const a2 = await h.connect('a2', 'pa2', { clientId: 'sensor-1' });
    await closed(a.client);
    expect(a2.client.connected).toBe(true);
    expect(b.client.connected).toBe(true);
  });

  it('queues QoS 1 messages for an offline persistent session, per project, exactly once and unmounted', async () => {
    const aSub = await h.connect('a1', 'pa1', { clientId: 'dev', clean: false });
    expect(await subscribe(aSub.client, ['q/#', 'r/#'], 1)).toEqual([1, 1]);
    await end(aSub.client);
    const bSub = await h.connect('b1', 'pb1', { clientId: 'dev', clean: false });
    await subscribe(bSub.client, 'q/#', 1);
    await end(bSub.client);

    const aWitness = await h.connect('a2', 'pa2');
    const bWitness = await h.connect('b2', 'pb2');
    await subscribe(aWitness.client, ['q/#', 'r/#'], 1);
    await subscribe(bWitness.client, 'q/#', 1);
    await publish(aWitness.client, 'q/1', 'a1', { qos: 1 });
    await publish(aWitness.client, 'r/2', 'a2', { qos: 1 });
    await publish(aWitness.client, 'q/3', 'a3', { qos: 1 });
    await publish(bWitness.client, 'q/b', 'b-only', { qos: 1 });
    // The witnesses receive only after aedes has queued the message for offline sessions.
    await aWitness.inbox.waitForPayload('a3');
    await bWitness.inbox.waitForPayload('b-only');

    const aBack = await h.connect('a1', 'pa1', { clientId: 'dev', clean: false });
    expect(aBack.sessionPresent).toBe(true);
    await subscribe(aBack.client, 'fence/#', 1);
    await aBack.inbox.waitForPayload('a3');
    await fence(A, aBack.inbox);
    expect(withoutFences(aBack.inbox)).toEqual([
      { topic: 'q/1', payload: 'a1', retain: false, qos: 1 },
      { topic: 'r/2', payload: 'a2', retain: false, qos: 1 },
      { topic: 'q/3', payload: 'a3', retain: false, qos: 1 },
    ]);

    const bBack = await h.connect('b1', 'pb1', { clientId: 'dev', clean: false });
    expect(bBack.sessionPresent).toBe(true);
    await subscribe(bBack.client, 'fence/#', 1);
    await bBack.inbox.waitForPayload('b-only');
    await fence(B, bBack.inbox);
    expect(withoutFences(bBack.inbox)).toEqual([{ topic: 'q/b', payload: 'b-only', retain: false, qos: 1 }]);

    // Acknowledged messages are gone: a third session start delivers nothing old.
    await end(aBack.client);
    const aAgain = await h.connect('a1', 'pa1', { clientId: 'dev', clean: false });
    await fence(A, aAgain.inbox);
    expect(withoutFences(aAgain.inbox)).toEqual([]);
  });

  it('restores a persistent session without mounting it twice and keeps delivering live messages', async () => {
    const keeper = await h.connect('a1', 'pa1', { clientId: 'keeper', clean: false });
    await subscribe(keeper.client, ['live/#', 'fence/#'], 1);
    await end(keeper.client);

    const back = await h.connect('a1', 'pa1', { clientId: 'keeper', clean: false });
    expect(back.sessionPresent).toBe(true);
    const other = await h.connect('a2', 'pa2');
    await publish(other.client, 'live/1', 'after-restore', { qos: 1 });
    await back.inbox.waitForPayload('after-restore');
    await fence(A, back.inbox);
    expect(withoutFences(back.inbox)).toEqual([{ topic: 'live/1', payload: 'after-restore', retain: false, qos: 1 }]);
    expect(h.logger.entries.filter((e) => e.msg.includes('outside the mountpoint'))).toEqual([]);
  });

  it('unsubscribes live and persistent subscriptions', async () => {
    const c = await h.connect('a1', 'pa1');
    const pub = await h.connect('a2', 'pa2');
    await subscribe(c.client, ['u/#', 'keep', 'fence/#']);
    await publish(pub.client, 'u/1', 'u1');
    await c.inbox.waitForPayload('u1');
    await unsubscribe(c.client, 'u/#');
    await publish(pub.client, 'u/2', 'u2');
    await publish(pub.client, 'keep', 'kept');
    await c.inbox.waitForPayload('kept');
    await fence(A, c.inbox);
    expect(withoutFences(c.inbox).map((m) => m.payload)).toEqual(['u1', 'kept']);

    const p = await h.connect('a1', 'pa1', { clientId: 'unsub-persist', clean: false });
    await subscribe(p.client, 'pu/x', 1);
    await unsubscribe(p.client, 'pu/x');
    await end(p.client);
    await publish(pub.client, 'pu/x', 'after-unsubscribe', { qos: 1 });
    const back = await h.connect('a1', 'pa1', { clientId: 'unsub-persist', clean: false });
    expect(back.sessionPresent).toBe(false);
    await subscribe(back.client, 'fence/#');
    await fence(A, back.inbox);
    expect(withoutFences(back.inbox)).toEqual([]);
  });

  it('disconnectUser kicks every live session of a credential and nothing else', async () => {
    const k1 = await h.connect('a1', 'pa1', { clientId: 'k1' });
    const k2 = await h.connect('a1', 'pa1', { clientId: 'k2' });
    const other = await h.connect('a2', 'pa2', { clientId: 'k3' });
    expect(h.broker.disconnectUser('a1')).toBe(2);
    await Promise.all([closed(k1.client), closed(k2.client)]);
    await subscribe(other.client, 'fence/#');
    await fence(A, other.inbox);
    expect(other.client.connected).toBe(true);
    expect(h.broker.disconnectUser('a1')).toBe(0);
    expect(h.broker.disconnectUser('nobody')).toBe(0);
  });
});

describe('EmbeddedBroker: server side', () => {
  it('publishes on a full mounted topic to that project only', async () => {
    const a = await h.connect('a1', 'pa1');
    const b = await h.connect('b1', 'pb1');
    await subscribe(a.client, 'cmd/#', 1);
    await subscribe(b.client, '#', 1);
    await h.broker.publish('ff/proj-a/cmd/reboot', 'now', { qos: 1 });
    await h.broker.publish('ff/proj-a/cmd/cfg', Buffer.from('kept'), { retain: true });
    await a.inbox.waitForPayload('kept');
    await fence(B, b.inbox);
    expect(a.inbox.messages).toEqual([
      { topic: 'cmd/reboot', payload: 'now', retain: false, qos: 1 },
      { topic: 'cmd/cfg', payload: 'kept', retain: false, qos: 0 },
    ]);
    expect(withoutFences(b.inbox)).toEqual([]);

    for (const topic of ['cmd/reboot', 'ff/proj-a/', 'ff/proj-a/#', 'ff/+/x', 'ff/$SYS/x', 'ff//x', 'ff/a/b+']) {
      await expect(h.broker.publish(topic, 'x')).rejects.toThrow(/mountpoint/);
    }
  });

  it('names MQTT_PORT and the port when the port is taken', async () => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const port = (blocker.address() as { port: number }).port;
    const logger = new RecordingLogger();
    const broker = new EmbeddedBroker({ host: '127.0.0.1', port, authenticator: h.authenticator, logger });
    try {
      await expect(broker.start()).rejects.toThrow(new RegExp(`MQTT_PORT ${port}\\b`));
    } finally {
      await broker.close();
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});

/** Minimal MQTT 3.1.1 encoding, to send packets back to back without waiting for CONNACK as mqtt.js does. */
function frame(firstByte: number, body: Buffer): Buffer {
  const length: number[] = [];
  let n = body.length;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    length.push(byte);
  } while (n > 0);
  return Buffer.concat([Buffer.from([firstByte, ...length]), body]);
}
const str = (s: string) => {
  const b = Buffer.from(s);
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
};
const id = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const rawConnect = (clientId: string, username: string, password: string) =>
  frame(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 0xc2, 0, 60]), str(clientId), str(username), str(password)]));
const rawSubscribe = (messageId: number, filter: string) => frame(0x82, Buffer.concat([id(messageId), str(filter), Buffer.from([0])]));
const rawUnsubscribe = (messageId: number, filter: string) => frame(0xa2, Buffer.concat([id(messageId), str(filter)]));
const rawPublish = (topic: string, payload: string) => frame(0x30, Buffer.concat([str(topic), Buffer.from(payload)]));

interface RawPacket {
  type: number;
  body: Buffer;
}

function parseFrames(data: Buffer): RawPacket[] {
  const packets: RawPacket[] = [];
  let offset = 0;
  while (offset + 2 <= data.length) {
    let length = 0;
    let multiplier = 1;
    let cursor = offset + 1;
    let byte: number;
    do {
      byte = data[cursor++] ?? 0;
      length += (byte & 0x7f) * multiplier;
      multiplier *= 128;
    } while (byte & 0x80);
    if (cursor + length > data.length) break;
    packets.push({ type: (data[offset] ?? 0) >> 4, body: data.subarray(cursor, cursor + length) });
    offset = cursor + length;
  }
  return packets;
}

describe('EmbeddedBroker: packets pipelined behind CONNECT', () => {
  it('mounts subscriptions, publishes and unsubscriptions sent before CONNACK', async () => {
    const watcher = await h.connect('a2', 'pa2');
    await subscribe(watcher.client, 'pipe/#');
    const socket = connect(h.port, '127.0.0.1');
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
    await once(socket, 'connect');
    try {
      socket.write(
        Buffer.concat([
          rawConnect('piped', 'a1', 'pa1'),
          rawSubscribe(1, 'pipe/#'),
          rawPublish('pipe/1', 'one'),
          rawUnsubscribe(2, 'pipe/#'),
          rawSubscribe(3, 'fence/#'),
          rawPublish('pipe/2', 'two'),
        ]),
      );
      await watcher.inbox.waitForPayload('two');
      const deadline = Date.now() + 20_000;
      const packets = () => parseFrames(received);
      while (!packets().some((p) => p.type === 9 && p.body.readUInt16BE(0) === 3) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const marker = `fence-${randomUUID()}`;
      await h.broker.publish(`${A}pipe/3`, 'after-unsubscribe');
      await h.broker.publish(`${A}fence/x`, marker);
      while (!received.includes(marker) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));

      const all = packets();
      expect(all[0]).toEqual({ type: 2, body: Buffer.from([0, 0]) });
      const subacks = all.filter((p) => p.type === 9).map((p) => [...p.body]);
      expect(subacks).toContainEqual([0, 1, 0]);
      expect(subacks).toContainEqual([0, 3, 0]);
      expect(all.filter((p) => p.type === 11).map((p) => p.body.readUInt16BE(0))).toEqual([2]);
      const publishTopics = all.filter((p) => p.type === 3).map((p) => p.body.subarray(2, 2 + p.body.readUInt16BE(0)).toString());
      expect(publishTopics).not.toContain('pipe/3');
      expect(publishTopics).toContain('fence/x');
      expect(publishTopics.every((t) => !t.startsWith('ff/'))).toBe(true);
      // The pipelined publishes were mounted into the project, not refused.
      expect(watcher.inbox.messages.map((m) => [m.topic, m.payload]).slice(0, 2)).toEqual([
        ['pipe/1', 'one'],
        ['pipe/2', 'two'],
      ]);
    } finally {
      socket.destroy();
    }
  });
});
