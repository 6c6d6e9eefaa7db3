import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FakeManager, NodeRedProcess, httpRequest, randomToken } from './nodered.harness.js';

const magic = randomToken();
let manager: FakeManager;
let nr: NodeRedProcess;
let own: string;

beforeAll(async () => {
  manager = await FakeManager.start();
  nr = await NodeRedProcess.start({ magicToken: magic, instanceSecret: randomToken(), authUrl: manager.authUrl, subdomain: 'gamma', dashboardUrl: 'http://manager.localhost:4071/' });
  own = `http://127.0.0.1:${nr.port}`;
});

afterAll(async () => {
  await nr?.stop();
  await manager?.close();
});

interface Comms {
  ws: WebSocket;
  frames: unknown[];
  opened: Promise<boolean>;
  closed: Promise<void>;
  next(predicate: (frame: unknown) => boolean): Promise<unknown>;
}

function connect(headers: Record<string, string>): Comms {
  const ws = new WebSocket(`ws://127.0.0.1:${nr.port}/comms`, { headers, handshakeTimeout: 30_000 });
  const frames: unknown[] = [];
  const waiters: { predicate: (frame: unknown) => boolean; resolve: (frame: unknown) => void }[] = [];
  ws.on('message', (data: Buffer) => {
    const parsed: unknown = JSON.parse(data.toString('utf8'));
    for (const frame of Array.isArray(parsed) ? parsed : [parsed]) {
      frames.push(frame);
      for (const waiter of waiters.filter((w) => w.predicate(frame))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(frame);
      }
    }
  });
  ws.on('error', () => undefined);
  const opened = new Promise<boolean>((resolve) => {
    ws.once('open', () => resolve(true));
    ws.once('close', () => resolve(false));
  });
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  const next = (predicate: (frame: unknown) => boolean) =>
    new Promise<unknown>((resolve, reject) => {
      const seen = frames.find(predicate);
      if (seen !== undefined) return resolve(seen);
      waiters.push({ predicate, resolve });
      void closed.then(() => reject(new Error(`closed while waiting; frames: ${JSON.stringify(frames)}`)));
    });
  return { ws, frames, opened, closed, next };
}

const isAuthFail = (frame: unknown) => (frame as { auth?: string }).auth === 'fail';
const isDeploy = (frame: unknown) => (frame as { topic?: string }).topic === 'notification/runtime-deploy';

/** The subscribe frame and the deploy travel on different connections, so deploy until the frame shows up. */
async function deployUntilSeen(comms: Comms): Promise<void> {
  const seen = comms.next(isDeploy);
  let arrived = false;
  void seen.then(() => (arrived = true), () => undefined);
  for (let attempt = 0; attempt < 60 && !arrived; attempt += 1) {
    const res = await httpRequest(nr.port, {
      method: 'POST',
      path: '/flows',
      headers: { 'content-type': 'application/json', 'node-red-api-version': 'v2', authorization: `Bearer ${magic}` },
      body: JSON.stringify({ flows: [{ id: randomToken(), type: 'tab', label: 'x' }] }),
    });
    expect(res.status).toBe(200);
    await Promise.race([seen, new Promise((resolve) => setTimeout(resolve, 500))]);
  }
  await seen;
}

/** Refused means: the upgrade is turned down, or the socket is told auth failed and then closed. */
async function expectRefused(comms: Comms): Promise<void> {
  if (await comms.opened) {
    comms.ws.send(JSON.stringify({ subscribe: 'notification/#' }));
    const stayedOpen = await Promise.race([comms.closed.then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 20_000))]);
    comms.ws.terminate();
    expect(stayedOpen, 'socket stayed open after an unauthenticated subscribe').toBe(false);
    expect(comms.frames.filter(isAuthFail)).toHaveLength(1);
  }
  expect(comms.frames.filter(isDeploy)).toEqual([]);
}

describe('/comms', () => {
  it('stays open and delivers frames for the cookie from its own origin', async () => {
    const comms = connect({ cookie: `openflow_token=${magic}`, origin: own });
    expect(await comms.opened).toBe(true);
    comms.ws.send(JSON.stringify({ subscribe: 'notification/#' }));
    await deployUntilSeen(comms);
    expect(comms.frames.filter(isAuthFail)).toEqual([]);
    expect(comms.ws.readyState).toBe(WebSocket.OPEN);
    comms.ws.close();
    await comms.closed;
  });

  it('accepts a script with an explicit bearer and no Origin', async () => {
    const comms = connect({ authorization: `Bearer ${magic}` });
    expect(await comms.opened).toBe(true);
    comms.ws.send(JSON.stringify({ subscribe: 'notification/#' }));
    await deployUntilSeen(comms);
    comms.ws.close();
    await comms.closed;
  });

  it('refuses the cookie from a foreign origin', async () => {
    await expectRefused(connect({ cookie: `openflow_token=${magic}`, origin: 'http://other.localhost:4071' }));
  });

  it('refuses the magic bearer from a foreign origin', async () => {
    await expectRefused(connect({ authorization: `Bearer ${magic}`, origin: 'http://evil.example' }));
  });

  it('refuses a connection with no credentials that only subscribes', async () => {
    await expectRefused(connect({ origin: own }));
  });

  it('refuses the cookie without an Origin header', async () => {
    await expectRefused(connect({ cookie: `openflow_token=${magic}` }));
  });

  it('refuses a wrong cookie from its own origin', async () => {
    await expectRefused(connect({ cookie: `openflow_token=${randomToken()}`, origin: own }));
  });
});
