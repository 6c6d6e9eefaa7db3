import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BrokerHarness, WAIT_MS, publish, subscribe, type Inbox, type ProcessResult } from './broker-harness.js';

/** Debian's mosquitto-clients (C, libmosquitto 2.0.11) against the embedded broker: a second, independent MQTT stack. */

const A = 'ff/proj-a/';
const B = 'ff/proj-b/';
const WAIT_S = String(WAIT_MS / 1000);

let h: BrokerHarness;

beforeEach(async () => {
  h = await new BrokerHarness({
    a1: { password: 'pa1', tenant: A },
    a2: { password: 'pa2', tenant: A },
    b1: { password: 'pb1', tenant: B },
  }).start();
});

afterEach(async () => {
  await h.stop();
});

const creds = (user: string) => ['-u', user, '-P', `p${user}`];

/** Message lines of `mosquitto_sub -v -d` output, without its debug lines. */
const messageLines = (stdout: string) =>
  stdout.split('\n').filter((line) => line !== '' && !line.startsWith('Client ') && !line.startsWith('Subscribed'));

async function pub(user: string, topic: string, message: string, qos: '0' | '1' = '1'): Promise<void> {
  const result = await h.run('mosquitto_pub', [...creds(user), '-q', qos, '-t', topic, '-m', message]);
  expect(result.code, result.stderr).toBe(0);
}

/** Starts mosquitto_sub and resolves once its SUBACK is in, with the (wrapped, so not awaited here) completed run. */
async function startSub(args: string[]): Promise<{ done: Promise<ProcessResult> }> {
  let subscribed!: () => void;
  const ready = new Promise<void>((resolve) => (subscribed = resolve));
  const done = h.run('mosquitto_sub', ['-d', '-v', '-W', WAIT_S, ...args], (out) => {
    if (out.includes('received SUBACK')) subscribed();
  });
  await Promise.race([ready, done.then((r) => Promise.reject(new Error(`mosquitto_sub ended early: ${r.stderr}`)))]);
  return { done };
}

async function fence(tenant: string, inbox: Inbox): Promise<void> {
  const marker = `fence-${randomUUID()}`;
  await h.broker.publish(`${tenant}fence/${marker}`, marker);
  await inbox.waitForPayload(marker);
}

describe('EmbeddedBroker with mosquitto clients', () => {
  it('isolates projects for mosquitto_pub/mosquitto_sub and delivers within a project', async () => {
    const aSub = await startSub([...creds('a1'), '-t', '#', '-t', '+/x', '-C', '2']);
    const bSub = await startSub([...creds('b1'), '-t', '#', '-C', '2']);
    await pub('b1', 'b/x', 'from-b');
    await pub('b1', 'ff/proj-a/a/x', 'forged-by-b');
    await pub('a1', 'a/x', 'from-a');
    await pub('a2', 'a/y', 'from-a2');
    const [a, b] = await Promise.all([aSub.done, bSub.done]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(messageLines(a.stdout)).toEqual(['a/x from-a', 'a/y from-a2']);
    expect(messageLines(b.stdout)).toEqual(['b/x from-b', 'ff/proj-a/a/x forged-by-b']);
  });

  it('refuses a wrong password', async () => {
    const result = await h.run('mosquitto_pub', ['-u', 'a1', '-P', 'wrong', '-t', 'x', '-m', 'x']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/not authori[sz]ed/i);
  });

  it('restores persistent sessions of a client that subscribes right after CONNACK, again and again', async () => {
    const first = await h.run('mosquitto_sub', [...creds('a1'), '-c', '-i', 'fast', '-q', '1', '-t', 'pq/#', '-E']);
    expect(first.code, first.stderr).toBe(0);
    const witness = await h.connect('a2', 'pa2');
    await subscribe(witness.client, 'pq/#', 1);
    for (let round = 1; round <= 5; round++) {
      await publish(witness.client, `pq/${round}`, `queued-${round}`, { qos: 1 });
      await witness.inbox.waitForPayload(`queued-${round}`);
      // Restores the session and, right after CONNACK, subscribes to the same filter again.
      const back = await h.run('mosquitto_sub', [...creds('a1'), '-c', '-i', 'fast', '-q', '1', '-t', 'pq/#', '-v', '-C', '1', '-W', WAIT_S]);
      expect(back.code, back.stderr).toBe(0);
      expect(back.stdout.trim()).toBe(`pq/${round} queued-${round}`);
    }
    expect(h.logger.entries.filter((e) => e.level !== 'info' && !e.msg.includes('client error'))).toEqual([]);
  });

  it('unsubscribes a persistent session with mosquitto_sub -U', async () => {
    const subbed = await h.run('mosquitto_sub', [...creds('a1'), '-c', '-i', 'unsub', '-q', '1', '-t', 'uq/#', '-E']);
    expect(subbed.code, subbed.stderr).toBe(0);
    const unsubbed = await h.run('mosquitto_sub', [...creds('a1'), '-c', '-i', 'unsub', '-q', '1', '-t', 'other', '-U', 'uq/#', '-E']);
    expect(unsubbed.code, unsubbed.stderr).toBe(0);
    await pub('a2', 'uq/1', 'after-unsubscribe');
    await pub('a2', 'other', 'still-subscribed');
    const back = await h.run('mosquitto_sub', [...creds('a1'), '-c', '-i', 'unsub', '-q', '1', '-t', 'other', '-v', '-C', '1', '-W', WAIT_S]);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout.trim()).toBe('other still-subscribed');
  });

  it("publishes a killed mosquitto_sub's will to its own project only", async () => {
    const aWatch = await h.connect('a2', 'pa2');
    const bWatch = await h.connect('b1', 'pb1');
    await subscribe(aWatch.client, ['status/#', 'fence/#'], 1);
    await subscribe(bWatch.client, '#', 1);
    const device = h.spawnRaw('mosquitto_sub', [
      ...creds('a1'), '-d', '-t', 'cmd', '--will-topic', 'status/device', '--will-payload', 'offline', '--will-qos', '1',
    ]);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      device.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('received SUBACK')) resolve();
      });
      device.once('close', () => reject(new Error(`mosquitto_sub ended early: ${out}`)));
    });
    device.kill('SIGKILL');
    await aWatch.inbox.waitForPayload('offline');
    await Promise.all([fence(A, aWatch.inbox), fence(B, bWatch.inbox)]);
    expect(aWatch.inbox.messages.filter((m) => !m.topic.startsWith('fence/'))).toEqual([
      { topic: 'status/device', payload: 'offline', retain: false, qos: 1 },
    ]);
    expect(bWatch.inbox.messages.filter((m) => !m.topic.startsWith('fence/'))).toEqual([]);
  });
});
