import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeManager, NodeRedProcess, httpRequest, randomToken } from './nodered.harness.js';

const magic = randomToken();
const secret = randomToken();
let manager: FakeManager;
let nr: NodeRedProcess;

// What a flow author can reach: request headers (parsed and raw) and env.get, plus a shell started by an exec node.
const flows = [
  { id: 'tab1', type: 'tab', label: 'probe' },
  { id: 'in1', type: 'http in', z: 'tab1', url: '/echo-headers', method: 'get', upload: false, wires: [['fn1']] },
  {
    id: 'fn1',
    type: 'function',
    z: 'tab1',
    func: [
      'msg.payload = {',
      '  headers: msg.req.headers,',
      '  rawHeaders: msg.req.rawHeaders,',
      "  magic: env.get('OPENFLOW_MAGIC_TOKEN') ?? null,",
      "  secret: env.get('OPENFLOW_INSTANCE_SECRET') ?? null,",
      "  subdomain: env.get('OPENFLOW_SUBDOMAIN') ?? null,",
      '};',
      'return msg;',
    ].join('\n'),
    outputs: 1,
    wires: [['out1']],
  },
  { id: 'out1', type: 'http response', z: 'tab1', wires: [] },
  { id: 'in2', type: 'http in', z: 'tab1', url: '/exec-env', method: 'get', upload: false, wires: [['exec1']] },
  {
    id: 'exec1',
    type: 'exec',
    z: 'tab1',
    command: 'echo "[$OPENFLOW_MAGIC_TOKEN][$OPENFLOW_INSTANCE_SECRET][$OPENFLOW_SUBDOMAIN]"',
    addpay: '',
    append: '',
    useSpawn: 'false',
    timer: '',
    winHide: false,
    oldrc: false,
    wires: [['out2'], [], []],
  },
  { id: 'out2', type: 'http response', z: 'tab1', wires: [] },
];

beforeAll(async () => {
  manager = await FakeManager.start();
  nr = await NodeRedProcess.start({ magicToken: magic, instanceSecret: secret, authUrl: manager.authUrl, subdomain: 'delta', dashboardUrl: 'http://manager.localhost:4071/' });
  const res = await httpRequest(nr.port, {
    method: 'POST',
    path: '/flows',
    headers: { 'content-type': 'application/json', 'node-red-api-version': 'v2', authorization: `Bearer ${magic}` },
    body: JSON.stringify({ flows }),
  });
  expect(res.status).toBe(200);
  // Node-RED answers the deploy before the new flows have started; wait until their routes exist.
  const deadline = Date.now() + 30_000;
  while ((await httpRequest(nr.port, { path: '/api/echo-headers' })).status === 404) {
    if (Date.now() > deadline) throw new Error('deployed flows never started');
    await new Promise((r) => setTimeout(r, 100));
  }
});

afterAll(async () => {
  await nr?.stop();
  await manager?.close();
});

describe('what flows can see', () => {
  it('keeps the magic token out of /api requests that carried it as cookie and bearer', async () => {
    for (const path of ['/api/echo-headers', '/API/echo-headers']) {
      const res = await httpRequest(nr.port, {
        path,
        headers: { cookie: `a=1; openflow_token=${magic}; b=2`, authorization: `Bearer ${magic}`, 'x-probe': 'kept' },
      });
      expect(res.status, path).toBe(200);
      expect(res.body).not.toContain(magic);
      const seen = JSON.parse(res.body) as { headers: Record<string, string>; rawHeaders: string[] };
      expect(seen.headers.cookie).toBe('a=1; b=2');
      expect(seen.headers.authorization).toBeUndefined();
      expect(seen.headers['x-probe']).toBe('kept');
      expect(seen.rawHeaders).toContain('a=1; b=2');
    }
  });

  it('passes a flow its own bearer tokens and cookies untouched', async () => {
    const own = randomToken();
    const res = await httpRequest(nr.port, { path: '/api/echo-headers', headers: { cookie: 'session=s1', authorization: `Bearer ${own}` } });
    const seen = JSON.parse(res.body) as { headers: Record<string, string> };
    expect(seen.headers.authorization).toBe(`Bearer ${own}`);
    expect(seen.headers.cookie).toBe('session=s1');
  });

  it('drops a Cookie header that held only the magic cookie', async () => {
    const res = await httpRequest(nr.port, { path: '/api/echo-headers', headers: { cookie: `openflow_token=${magic}` } });
    const seen = JSON.parse(res.body) as { headers: Record<string, string>; rawHeaders: string[] };
    expect(seen.headers.cookie).toBeUndefined();
    expect(seen.rawHeaders.map((h) => h.toLowerCase())).not.toContain('cookie');
  });

  it('hides both secrets from env.get but not the instance environment', async () => {
    const seen = JSON.parse((await httpRequest(nr.port, { path: '/api/echo-headers' })).body) as Record<string, unknown>;
    expect(seen.magic).toBeNull();
    expect(seen.secret).toBeNull();
    expect(seen.subdomain).toBe('delta');
  });

  it('hides both secrets from processes started by an exec node', async () => {
    const res = await httpRequest(nr.port, { path: '/api/exec-env' });
    expect(res.status).toBe(200);
    expect(res.body.trim()).toBe('[][][delta]');
  });
});
