import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DockerodeEngine } from '../../src/drivers/docker-engine.js';
import { DOCKER_RUNTIME_DIR, DOCKER_USER_DIR, DockerDriver } from '../../src/drivers/docker.driver.js';
import type { InstanceSpec } from '../../src/drivers/instance-driver.js';
import { renderSettings } from '../../src/nodered/settings.renderer.js';
import { cleanEngine, dockerSocket, NGINX_TEST_IMAGE, NODE_RED_TEST_IMAGE, requireImage, SKIP_MESSAGE, uniqueName } from '../drivers/docker-driver.harness.js';
import { silentLogger, waitFor } from '../drivers/process-driver.harness.js';

const TEMPLATE = resolve(import.meta.dirname, '../../deploy/nginx/nginx.conf.template');
const DOMAIN = 'example.test';
const CERT_IN_CONTAINER = '/etc/openflow-test/tls/cert.pem';
const KEY_IN_CONTAINER = '/etc/openflow-test/tls/key.pem';

/** What the nginx image's envsubst step does: replace the named ${VARS}, and only those. */
function renderTemplate(text: string, vars: Record<string, string>): string {
  let out = text;
  for (const [name, value] of Object.entries(vars)) {
    const placeholder = `\${${name}}`;
    if (!out.includes(placeholder)) throw new Error(`the template has no ${placeholder}`);
    out = out.split(placeholder).join(value);
  }
  const left = /\$\{[A-Z_]+\}/.exec(out);
  if (left) throw new Error(`the template uses ${left[0]}, which the deployment does not set`);
  return out;
}

/** GET /hook and POST /echo under httpNodeRoot, so the manager-less paths /hook and /echo need the /api fallback. */
function hookFlows(name: string): string {
  return JSON.stringify([
    { id: 't', type: 'tab', label: 'hooks' },
    { id: 'h-in', type: 'http in', z: 't', url: '/hook', method: 'get', upload: false, swaggerDoc: '', wires: [['h-tpl']] },
    { id: 'h-tpl', type: 'template', z: 't', field: 'payload', fieldType: 'msg', format: 'text', syntax: 'plain', template: `hook from ${name}`, output: 'str', wires: [['h-out']] },
    { id: 'h-out', type: 'http response', z: 't', statusCode: '', headers: {}, wires: [] },
    { id: 'e-in', type: 'http in', z: 't', url: '/echo', method: 'post', upload: false, swaggerDoc: '', wires: [['e-tpl']] },
    { id: 'e-tpl', type: 'template', z: 't', field: 'payload', fieldType: 'msg', format: 'text', syntax: 'mustache', template: `${name} got {{payload}}`, output: 'str', wires: [['e-out']] },
    { id: 'e-out', type: 'http response', z: 't', statusCode: '', headers: {}, wires: [] },
  ]);
}

/** Answers every request with what it saw, standing in for the manager behind the manager's host. */
const MANAGER_STAND_IN = `
require('node:http').createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ who: 'manager', url: req.url, host: req.headers.host, proto: req.headers['x-forwarded-proto'] }));
}).listen(4071);
`;

interface HttpsResult {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

const socket = dockerSocket();
if (!socket) console.warn(`nginx.test.ts skipped: ${SKIP_MESSAGE}`);

describe.skipIf(!socket)('the shipped nginx config in front of Node-RED containers', () => {
  const docker = new Docker({ socketPath: socket ?? '' });
  const network = uniqueName('openflow-nginx-net');
  const scope = uniqueName('nginx-test');
  const extra: string[] = [];
  let driver: DockerDriver | null = null;
  let dir = '';
  let cert = '';
  let nginxIp = '';
  let nginxConfPath = '';
  let a: InstanceSpec;
  let b: InstanceSpec;
  let aliasOfA = '';

  function makeSpec(name: string, aliases: string[] = []): InstanceSpec {
    const subdomain = uniqueName(name);
    const instanceId = `${subdomain}-${randomBytes(4).toString('hex')}`;
    const userDir = join(dir, 'instances', instanceId);
    mkdirSync(userDir, { recursive: true });
    writeFileSync(join(userDir, 'flows.json'), hookFlows(name));
    return {
      instanceId,
      subdomain,
      aliases,
      userDir,
      settingsJs: renderSettings({
        port: 1880,
        host: '0.0.0.0',
        userDir: DOCKER_USER_DIR,
        credentialSecret: randomBytes(16).toString('hex'),
        subdomain,
        dashboardUrl: `https://${DOMAIN}`,
        runtimeDir: DOCKER_RUNTIME_DIR,
        memoryMb: 256,
        catalogues: [],
      }),
      env: { OPENFLOW_INSTANCE_ID: instanceId, OPENFLOW_SUBDOMAIN: subdomain, OPENFLOW_MAGIC_TOKEN: randomBytes(24).toString('hex') },
      memoryMb: 256,
      cpu: 1,
    };
  }

  function nginxContainerOptions(cmd?: string[]): Docker.ContainerCreateOptions {
    return {
      Image: NGINX_TEST_IMAGE,
      ...(cmd ? { Cmd: cmd } : {}),
      Labels: { 'org.openflow.test': scope },
      HostConfig: {
        NetworkMode: network,
        Binds: [`${nginxConfPath}:/etc/nginx/nginx.conf:ro`, `${join(dir, 'cert.pem')}:${CERT_IN_CONTAINER}:ro`, `${join(dir, 'key.pem')}:${KEY_IN_CONTAINER}:ro`],
      },
    };
  }

  function https(host: string, path: string, options: { method?: string; headers?: Record<string, string>; body?: string; port?: number } = {}): Promise<HttpsResult> {
    return new Promise((resolveResult, reject) => {
      const req = request(
        { host: nginxIp, port: options.port ?? 443, servername: host, ca: cert, path, method: options.method ?? 'GET', headers: { host, ...options.headers }, agent: false, timeout: 20_000 },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolveResult({ status: res.statusCode ?? 0, body, headers: res.headers }));
        },
      );
      req.once('timeout', () => req.destroy(new Error(`${path} on ${host} timed out`)));
      req.once('error', reject);
      req.end(options.body);
    });
  }

  beforeAll(async () => {
    await requireImage(docker, NODE_RED_TEST_IMAGE);
    await requireImage(docker, NGINX_TEST_IMAGE);
    dir = mkdtempSync(join(tmpdir(), 'openflow-nginx-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${DOMAIN}`,
      '-addext', `subjectAltName=DNS:${DOMAIN},DNS:*.${DOMAIN}`,
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    nginxConfPath = join(dir, 'nginx.conf');
    writeFileSync(nginxConfPath, renderTemplate(readFileSync(TEMPLATE, 'utf8'), { OPENFLOW_DOMAIN: DOMAIN, OPENFLOW_TLS_CERT: CERT_IN_CONTAINER, OPENFLOW_TLS_KEY: KEY_IN_CONTAINER }));

    driver = new DockerDriver({ engine: new DockerodeEngine(docker), image: NODE_RED_TEST_IMAGE, network, scope, crash: { maxCrashes: 3, windowMs: 60_000, backoffMs: [500] }, logger: silentLogger });
    aliasOfA = uniqueName('also-a');
    a = makeSpec('a', [aliasOfA]);
    b = makeSpec('b');
    await Promise.all([driver.start(a), driver.start(b)]);

    const manager = await docker.createContainer({
      Image: NODE_RED_TEST_IMAGE,
      Cmd: ['/usr/local/bin/node', '-e', MANAGER_STAND_IN],
      Labels: { 'org.openflow.test': scope },
      HostConfig: { NetworkMode: network },
      NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: ['manager'] } } },
    });
    extra.push(manager.id);
    await manager.start();

    const nginx = await docker.createContainer(nginxContainerOptions());
    extra.push(nginx.id);
    await nginx.start();
    nginxIp = (await nginx.inspect()).NetworkSettings.Networks[network]?.IPAddress ?? '';
    await waitFor('nginx to accept TLS', () =>
      new Promise<boolean>((resolveReady) => {
        const tls = connect({ host: nginxIp, port: 443, servername: a.subdomain + '.' + DOMAIN, ca: cert }, () => {
          tls.end();
          resolveReady(true);
        });
        tls.once('error', () => resolveReady(false));
      }),
    );
  });

  afterAll(async () => {
    await driver?.close().catch(() => undefined);
    await cleanEngine(docker, scope, network, extra);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('passes nginx -t on the shipped file with only the domain and certificate paths filled in', async () => {
    const check = await docker.createContainer(nginxContainerOptions(['/usr/sbin/nginx', '-t']));
    extra.push(check.id);
    await check.start();
    const { StatusCode } = (await check.wait()) as { StatusCode: number };
    const output = (await check.logs({ stdout: true, stderr: true, follow: false })).toString('utf8');
    expect(output).toContain('syntax is ok');
    expect(output).toContain('test is successful');
    expect(StatusCode).toBe(0);
  });

  it('routes each subdomain and alias to its own container, with /hook and /api/hook both answering', async () => {
    const hostA = `${a.subdomain}.${DOMAIN}`;
    const hostB = `${b.subdomain}.${DOMAIN}`;
    expect(await https(hostA, '/api/hook')).toMatchObject({ status: 200, body: 'hook from a' });
    expect(await https(hostA, '/hook')).toMatchObject({ status: 200, body: 'hook from a' });
    expect(await https(hostB, '/hook?x=1')).toMatchObject({ status: 200, body: 'hook from b' });
    expect(await https(`${aliasOfA}.${DOMAIN}`, '/hook')).toMatchObject({ status: 200, body: 'hook from a' });
    // The fallback replays the request body.
    expect(await https(hostB, '/echo', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'ping' })).toMatchObject({ status: 200, body: 'b got ping' });
    // A 404 under /api is the flow's own answer, not retried.
    expect((await https(hostA, '/api/nothing-here')).status).toBe(404);

    // Without credentials the shim sends the editor's visitors to the dashboard; with them, the editor loads.
    expect((await https(hostA, '/')).headers.location).toBe(`https://${DOMAIN}`);
    const editor = await https(hostA, '/', { headers: { authorization: `Bearer ${a.env.OPENFLOW_MAGIC_TOKEN}` } });
    expect(editor.status).toBe(200);
    expect(editor.body).toContain('<title>');
    expect(editor.headers['referrer-policy']).toBeUndefined();

    expect((await https(hostA, '/flows')).status).toBe(401);
    const flows = await https(hostA, '/flows', { headers: { authorization: `Bearer ${a.env.OPENFLOW_MAGIC_TOKEN}` } });
    expect(flows.status).toBe(200);
    expect(flows.body).toContain('hook from a');
    expect((await https(hostB, '/flows', { headers: { authorization: `Bearer ${a.env.OPENFLOW_MAGIC_TOKEN}` } })).status).toBe(401);
  });

  it('passes the WebSocket upgrade on /comms, and messages both ways', async () => {
    const host = `${a.subdomain}.${DOMAIN}`;
    const outcome = await new Promise<{ status: number; reply: string }>((resolveOutcome, reject) => {
      let status = 0;
      const ws = new WebSocket(`wss://${nginxIp}/comms`, { ca: cert, servername: host, headers: { host }, origin: `https://${host}`, handshakeTimeout: 20_000 } as WebSocket.ClientOptions);
      ws.once('upgrade', (res) => (status = res.statusCode ?? 0));
      ws.once('open', () => ws.send(JSON.stringify({ auth: a.env.OPENFLOW_MAGIC_TOKEN })));
      ws.once('message', (data: Buffer) => {
        resolveOutcome({ status, reply: data.toString('utf8') });
        ws.close();
      });
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with ${res.statusCode}`)));
      ws.once('error', reject);
    });
    expect(outcome.status).toBe(101);
    expect(JSON.parse(outcome.reply)).toEqual({ auth: 'ok' });
  });

  it('answers an unknown subdomain quickly, sends the manager host to the manager and redirects plain HTTP', async () => {
    const started = Date.now();
    const unknown = await https(`nobody-${randomBytes(3).toString('hex')}.${DOMAIN}`, '/hook');
    expect(unknown.status).toBe(503);
    expect(JSON.parse(unknown.body)).toMatchObject({ code: 'instance_unavailable' });
    // resolver_timeout 2s bounds the lookup; nginx's default would hold the request for 30 s.
    expect(Date.now() - started).toBeLessThan(15_000);

    const manager = await https(DOMAIN, '/api/health?x=1');
    expect(manager.status).toBe(200);
    expect(JSON.parse(manager.body)).toEqual({ who: 'manager', url: '/api/health?x=1', host: DOMAIN, proto: 'https' });

    const plain = await new Promise<{ status: number; location: string | undefined }>((resolvePlain, reject) => {
      const req = httpRequest({ host: nginxIp, port: 80, path: '/x?y=1', headers: { host: `${a.subdomain}.${DOMAIN}` }, agent: false, timeout: 20_000 }, (res) => {
        res.resume();
        resolvePlain({ status: res.statusCode ?? 0, location: res.headers.location });
      });
      req.once('error', reject);
      req.end();
    });
    expect(plain).toEqual({ status: 301, location: `https://${a.subdomain}.${DOMAIN}/x?y=1` });
  });
});
