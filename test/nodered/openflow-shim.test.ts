import { createRequire } from 'node:module';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { nodeRedRuntimeDir } from '../../src/nodered/settings.renderer.js';

// The upgrade guard is exercised end to end for /comms in comms.test.ts. Flows cannot observe the headers of an
// upgrade to a websocket node, so the /api branch is checked here by calling the guard directly.

interface UpgradeRequest {
  url: string;
  headers: Record<string, string | undefined>;
  rawHeaders: string[];
}

interface Shim {
  guardUpgrade(req: UpgradeRequest): void;
}

const magic = 'magic-0123456789';
let shim: Shim;

beforeAll(() => {
  // Each test file runs in its own worker process, so the shim's one-time read of the env stays local to this file.
  process.env.OPENFLOW_MAGIC_TOKEN = magic;
  process.env.OPENFLOW_INSTANCE_SECRET = 'instance-secret';
  const load = createRequire(import.meta.url);
  const module = load(join(nodeRedRuntimeDir(), 'openflow-shim.cjs')) as { createShim(options: object): Shim };
  shim = module.createShim({ dashboardUrl: 'http://localhost:4071/', httpNodeRoot: '/api' });
});

function upgrade(url: string, headers: Record<string, string>): UpgradeRequest {
  const rawHeaders = Object.entries(headers).flat();
  return { url, headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])), rawHeaders };
}

describe('openflow shim', () => {
  it('took both secrets out of the environment when it loaded', () => {
    expect(process.env.OPENFLOW_MAGIC_TOKEN).toBeUndefined();
    expect(process.env.OPENFLOW_INSTANCE_SECRET).toBeUndefined();
  });

  it('strips the magic cookie and bearer from upgrades to flow websockets', () => {
    const req = upgrade('/api/ws/feed?x=1', {
      Host: 'demo.localhost',
      Origin: 'http://demo.localhost',
      Cookie: `a=1; openflow_token=${magic}`,
      Authorization: `Bearer ${magic}`,
    });
    shim.guardUpgrade(req);
    expect(req.headers.cookie).toBe('a=1');
    expect(req.headers.authorization).toBeUndefined();
    expect(req.rawHeaders).toEqual(['Host', 'demo.localhost', 'Origin', 'http://demo.localhost', 'Cookie', 'a=1']);
  });

  it('leaves a flow websocket its own credentials', () => {
    const req = upgrade('/API/ws/feed', { Host: 'demo.localhost', Cookie: 'session=1', Authorization: 'Bearer flow-own' });
    shim.guardUpgrade(req);
    expect(req.headers.cookie).toBe('session=1');
    expect(req.headers.authorization).toBe('Bearer flow-own');
  });

  it('turns the cookie into a bearer for /comms from its own origin, default ports included', () => {
    const req = upgrade('/comms', { Host: 'demo.example.com:443', Origin: 'https://demo.example.com', Cookie: `openflow_token=${magic}` });
    shim.guardUpgrade(req);
    expect(req.headers.authorization).toBe(`Bearer ${magic}`);
  });

  it('removes every credential from a cross-origin /comms upgrade', () => {
    const req = upgrade('/comms', { Host: 'demo.localhost:4071', Origin: 'http://demo.localhost:4072', Cookie: `openflow_token=${magic}`, Authorization: `Bearer ${magic}` });
    shim.guardUpgrade(req);
    expect(req.headers.cookie).toBeUndefined();
    expect(req.headers.authorization).toBeUndefined();
  });

  it('keeps only an explicit header on a /comms upgrade without Origin', () => {
    const req = upgrade('/comms', { Host: 'demo.localhost', Cookie: `openflow_token=${magic}`, Authorization: 'Bearer script' });
    shim.guardUpgrade(req);
    expect(req.headers.cookie).toBeUndefined();
    expect(req.headers.authorization).toBe('Bearer script');
  });
});
