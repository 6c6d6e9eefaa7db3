import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import Docker from 'dockerode';
import { LABEL_SCOPE } from '../../src/drivers/docker.driver.js';

/** The engine's unix socket from DOCKER_HOST (scripts/docker-up.sh prints it), or null when there is none. */
export function dockerSocket(): string | null {
  const host = process.env.DOCKER_HOST;
  if (!host?.startsWith('unix://')) return null;
  const path = host.slice('unix://'.length);
  return existsSync(path) ? path : null;
}

export const SKIP_MESSAGE = 'no Docker engine: DOCKER_HOST names no unix socket (start one with scripts/docker-up.sh)';

/** Built by scripts/build-local-image.sh; the same contract as deploy/node-red/Dockerfile. */
export const NODE_RED_TEST_IMAGE = process.env.NODE_RED_IMAGE ?? 'openflow/node-red:local';
export const NGINX_TEST_IMAGE = process.env.NGINX_IMAGE ?? 'openflow/nginx:local';

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

export async function requireImage(docker: Docker, image: string): Promise<void> {
  try {
    await docker.getImage(image).inspect();
  } catch {
    throw new Error(`the test image ${image} is missing: run scripts/build-local-image.sh with DOCKER_HOST set`);
  }
}

/** Removes every container of a test scope, then the test network. */
export async function cleanEngine(docker: Docker, scope: string, network: string, extraContainers: string[] = []): Promise<void> {
  const ours = await docker.listContainers({ all: true, filters: { label: [`${LABEL_SCOPE}=${scope}`] } });
  const ids = [...ours.map((c) => c.Id), ...extraContainers];
  await Promise.all(ids.map((id) => docker.getContainer(id).remove({ force: true }).catch(() => undefined)));
  await docker.getNetwork(network).remove().catch(() => undefined);
}

export interface ProbeResult {
  exitCode: number;
  output: string;
}

/**
 * Runs `node -e <script>` in a throwaway container on the network, the way a neighbour (nginx, EMQX, another
 * instance) sees the network: names resolve through Docker's DNS there, not on the host.
 */
export async function runInNetwork(docker: Docker, network: string, script: string, image = NODE_RED_TEST_IMAGE): Promise<ProbeResult> {
  const container = await docker.createContainer({
    Image: image,
    Cmd: ['/usr/local/bin/node', '-e', script],
    HostConfig: { NetworkMode: network },
    Labels: { 'org.openflow.test': 'probe' },
  });
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const raw = await container.logs({ stdout: true, stderr: true, follow: false });
    return { exitCode: StatusCode, output: demux(raw) };
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/** The payloads of Docker's multiplexed log frames (8-byte headers), stdout and stderr together. */
function demux(raw: Buffer): string {
  let out = '';
  for (let i = 0; i + 8 <= raw.length; ) {
    const size = raw.readUInt32BE(i + 4);
    out += raw.subarray(i + 8, i + 8 + size).toString('utf8');
    i += 8 + size;
  }
  return out;
}

/** A script for runInNetwork: GET the URL, print `<status> <body>`, exit 0 on any answer and 1 on none. */
export function httpGetScript(url: string, headers: Record<string, string> = {}): string {
  return `
const http = require('node:http');
const req = http.get(${JSON.stringify(url)}, { headers: ${JSON.stringify(headers)}, timeout: 10000 }, (res) => {
  let body = '';
  res.on('data', (c) => (body += c));
  res.on('end', () => { console.log(res.statusCode + ' ' + body); process.exit(0); });
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', (e) => { console.log('ERR ' + e.message); process.exit(1); });
`;
}

export interface HttpResult {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

export function httpTo(host: string, port: number, path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method: options.method ?? 'GET', headers: options.headers, agent: false, timeout: 15_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.once('timeout', () => req.destroy(new Error(`${options.method ?? 'GET'} ${path} on ${host}:${port} timed out`)));
    req.once('error', reject);
    req.end(options.body);
  });
}
