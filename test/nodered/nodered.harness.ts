import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SETTINGS_FILE_NAME, nodeRedRuntimeDir, renderSettings } from '../../src/nodered/settings.renderer.js';

const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

export function randomToken(): string {
  return randomBytes(24).toString('base64url');
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  setCookies: string[];
  body: string;
}

export interface HttpOptions {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** Plain node:http so every header goes out exactly as written (Host, Origin, Cookie) and nothing is followed. */
export function httpRequest(port: number, options: HttpOptions): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path, headers: options.headers ?? {}, timeout: 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            setCookies: res.headers['set-cookie'] ?? [],
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request ${options.path} timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * Plays the manager's side of Launch: mints single-use tokens bound to an instance and redeems them only for the
 * instance whose secret comes with the request.
 */
export class FakeManager {
  readonly redeemed: { instanceId: string | null; accessToken: unknown }[] = [];
  private readonly secrets = new Map<string, string>();
  private readonly tokens = new Map<string, { instanceId: string; used: boolean }>();

  private constructor(
    private readonly server: Server,
    readonly authUrl: string,
  ) {}

  static async start(): Promise<FakeManager> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const { port } = server.address() as AddressInfo;
    const manager = new FakeManager(server, `http://127.0.0.1:${port}/internal/launch/redeem`);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const { status, body } = manager.answer(req.method, req.url, req.headers.authorization, Buffer.concat(chunks).toString('utf8'));
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      });
    });
    return manager;
  }

  addInstance(instanceId: string, secret: string): void {
    this.secrets.set(secret, instanceId);
  }

  mint(instanceId: string): string {
    const token = randomToken();
    this.tokens.set(token, { instanceId, used: false });
    return token;
  }

  private answer(method: string | undefined, url: string | undefined, authorization: string | undefined, raw: string): { status: number; body: unknown } {
    if (method !== 'POST' || url !== '/internal/launch/redeem') return { status: 404, body: { code: 'not_found' } };
    const secret = authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : '';
    const instanceId = this.secrets.get(secret) ?? null;
    let accessToken: unknown;
    try {
      accessToken = (JSON.parse(raw) as { accessToken?: unknown }).accessToken;
    } catch {
      accessToken = undefined;
    }
    this.redeemed.push({ instanceId, accessToken });
    if (instanceId === null) return { status: 401, body: { code: 'unauthorized' } };
    const entry = typeof accessToken === 'string' ? this.tokens.get(accessToken) : undefined;
    if (entry === undefined || entry.used || entry.instanceId !== instanceId) return { status: 403, body: { code: 'invalid_token' } };
    entry.used = true;
    return { status: 200, body: { ok: true } };
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export interface NodeRedOptions {
  magicToken: string;
  instanceSecret: string;
  authUrl: string;
  subdomain: string;
  dashboardUrl: string;
  env?: Record<string, string>;
}

export class NodeRedProcess {
  private output = '';

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly userDir: string,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString('utf8')));
  }

  /** Renders settings with the real renderer, starts red.js from node_modules and waits until it answers HTTP. */
  static async start(options: NodeRedOptions): Promise<NodeRedProcess> {
    const userDir = await mkdtemp(join(tmpdir(), 'openflow-nr-'));
    const port = await freePort();
    const settingsPath = join(userDir, SETTINGS_FILE_NAME);
    await writeFile(
      settingsPath,
      renderSettings({
        port,
        host: '127.0.0.1',
        userDir,
        credentialSecret: randomToken(),
        subdomain: options.subdomain,
        dashboardUrl: options.dashboardUrl,
        runtimeDir: nodeRedRuntimeDir(),
      }),
    );
    const redJs = createRequire(import.meta.url).resolve('node-red/red.js');
    const child = spawn(process.execPath, [redJs, '--userDir', userDir, '--settings', settingsPath], {
      cwd: userDir,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: userDir,
        OPENFLOW_MAGIC_TOKEN: options.magicToken,
        OPENFLOW_INSTANCE_SECRET: options.instanceSecret,
        OPENFLOW_AUTH_URL: options.authUrl,
        OPENFLOW_SUBDOMAIN: options.subdomain,
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const instance = new NodeRedProcess(child, port, userDir);
    try {
      await instance.waitUntilAnswering();
    } catch (err) {
      await instance.stop();
      throw err;
    }
    return instance;
  }

  get logs(): string {
    return this.output;
  }

  private async waitUntilAnswering(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`Node-RED exited during start-up:\n${this.output}`);
      }
      try {
        const res = await httpRequest(this.port, { path: '/auth/login' });
        if (res.status === 200) return;
      } catch {
        // Not listening yet.
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`Node-RED did not answer within ${READY_TIMEOUT_MS} ms:\n${this.output}`);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    await rm(this.userDir, { recursive: true, force: true });
  }
}
