import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SETTINGS_FILE_NAME, nodeRedRuntimeDir, renderSettings, type NodeRedSettingsInput } from '../../src/nodered/settings.renderer.js';

const run = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'openflow-settings-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const base: NodeRedSettingsInput = {
  port: 10_001,
  host: '127.0.0.1',
  userDir: '/data/instances/i-1',
  credentialSecret: 'c-secret',
  subdomain: 'demo',
  dashboardUrl: 'http://localhost:4071/',
  runtimeDir: nodeRedRuntimeDir(),
};

// Loads the settings in a fresh Node, as red.js would, and reports what it exported and what stayed in the env.
const loader = `
const settings = require(process.argv[1]);
Promise.all([settings.adminAuth.tokens(process.argv[2]), settings.adminAuth.tokens('wrong'), settings.adminAuth.tokens('')]).then(([good, bad, empty]) => {
  const exported = JSON.parse(JSON.stringify(settings, (k, v) => (typeof v === 'function' ? '[function]' : v)));
  process.stdout.write(JSON.stringify({ exported, good, bad, empty, env: {
    magic: process.env.OPENFLOW_MAGIC_TOKEN ?? null,
    secret: process.env.OPENFLOW_INSTANCE_SECRET ?? null,
    authUrl: process.env.OPENFLOW_AUTH_URL ?? null,
  } }));
});
`;

interface Loaded {
  exported: Record<string, unknown> & { editorTheme: Record<string, Record<string, unknown>> };
  good: unknown;
  bad: unknown;
  empty: unknown;
  env: Record<string, string | null>;
}

async function load(name: string, text: string, magic = 'm-123'): Promise<Loaded> {
  const file = join(dir, name);
  await writeFile(file, text);
  const { stdout } = await run(process.execPath, ['-e', loader, file, magic], {
    env: { PATH: process.env.PATH, OPENFLOW_MAGIC_TOKEN: magic, OPENFLOW_INSTANCE_SECRET: 's-456', OPENFLOW_AUTH_URL: 'http://127.0.0.1:1/redeem' },
    timeout: 30_000,
  });
  return JSON.parse(stdout) as Loaded;
}

describe('renderSettings', () => {
  it('produces settings Node can load, with the shim wired in and the secrets gone from the env', async () => {
    const loaded = await load('plain.cjs', renderSettings({ ...base, memoryMb: 256 }));
    const s = loaded.exported;
    expect(s).toMatchObject({
      uiHost: '127.0.0.1',
      uiPort: 10_001,
      userDir: '/data/instances/i-1',
      flowFile: 'flows.json',
      credentialSecret: 'c-secret',
      httpAdminRoot: '/',
      httpNodeRoot: '/api',
      httpAdminMiddleware: '[function]',
      adminAuth: { tokens: '[function]' },
      nodesDir: [join(base.runtimeDir, 'plugins')],
      runtimeState: { enabled: true, ui: true },
      logging: { console: { level: 'info', audit: false } },
      diagnostics: { enabled: false, ui: false },
      telemetry: { enabled: false, updateNotification: false },
      apiMaxLength: '4mb',
    });
    expect(Object.keys(s.adminAuth as object)).toEqual(['tokens']);
    expect(s.editorTheme.page).toEqual({ title: 'demo · Openflow', scripts: [join(base.runtimeDir, 'openflow-editor-boot.js')] });
    expect(s.editorTheme.logout).toEqual({ redirect: 'http://localhost:4071/' });
    expect(s.editorTheme.login?.button).toEqual({ label: 'Open the Openflow dashboard', url: 'http://localhost:4071/' });
    expect(s.editorTheme.projects).toEqual({ enabled: false });
    expect(loaded.good).toEqual({ username: 'openflow', permissions: '*' });
    expect(loaded.bad).toBeNull();
    expect(loaded.empty).toBeNull();
    expect(loaded.env).toEqual({ magic: null, secret: null, authUrl: 'http://127.0.0.1:1/redeem' });
    expect(JSON.stringify(s)).not.toContain('m-123');
  });

  it('embeds hostile values as data, never as code', async () => {
    const hostile = `x"; process.exit(7); "'\`\${process.pid}</script>\u2028`;
    const loaded = await load(
      'hostile.cjs',
      renderSettings({ ...base, host: hostile, userDir: hostile, credentialSecret: hostile, subdomain: hostile, dashboardUrl: hostile }),
    );
    const s = loaded.exported;
    expect(s.uiHost).toBe(hostile);
    expect(s.userDir).toBe(hostile);
    expect(s.credentialSecret).toBe(hostile);
    expect(s.editorTheme.logout).toEqual({ redirect: hostile });
    expect(s.editorTheme.page?.title).toBe(`${hostile} · Openflow`);
    // The editor renders the header title as HTML.
    expect(s.editorTheme.header?.title).not.toMatch(/[<>"'&](?!#\d+;)/);
  });

  it('caps request bodies by the memory limit', async () => {
    const cap = (memoryMb?: number) => /apiMaxLength: "(\w+)"/.exec(renderSettings({ ...base, memoryMb }))?.[1];
    expect(cap()).toBe('5mb');
    expect(cap(32)).toBe('1mb');
    expect(cap(128)).toBe('2mb');
    expect(cap(4096)).toBe('5mb');
  });

  it('refuses inputs that cannot make a working instance', () => {
    for (const port of [0, 65_536, 1.5, Number.NaN]) expect(() => renderSettings({ ...base, port })).toThrow(RangeError);
    for (const memoryMb of [0, -1, 2.5]) expect(() => renderSettings({ ...base, memoryMb })).toThrow(RangeError);
    for (const key of ['host', 'userDir', 'credentialSecret', 'subdomain', 'dashboardUrl', 'runtimeDir'] as const) {
      expect(() => renderSettings({ ...base, [key]: '' })).toThrow(TypeError);
    }
  });

  it(`needs the ${SETTINGS_FILE_NAME} name below a package.json of type module`, async () => {
    const esmDir = join(dir, 'esm');
    await run('mkdir', ['-p', join(esmDir, 'instance')]);
    await writeFile(join(esmDir, 'package.json'), '{"type":"module"}');
    const loaded = await load(join('esm', 'instance', SETTINGS_FILE_NAME), renderSettings(base));
    expect(loaded.exported.httpNodeRoot).toBe('/api');
  });
});

describe('nodeRedRuntimeDir', () => {
  it('finds the shim, the editor boot script and the plugins folder', () => {
    const runtimeDir = nodeRedRuntimeDir();
    for (const file of ['openflow-shim.cjs', 'openflow-editor-boot.js', 'plugins']) {
      expect(existsSync(join(runtimeDir, file)), file).toBe(true);
    }
  });
});
