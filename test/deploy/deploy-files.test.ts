import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../../src/config.js';
import { DOCKER_NETWORK, DOCKER_NODE_RED_PORT, DOCKER_RUNTIME_DIR, DOCKER_USER_DIR } from '../../src/drivers/docker.driver.js';
import { SETTINGS_FILE_NAME } from '../../src/nodered/settings.renderer.js';
import { startTestApp, type TestApp } from '../helpers/app.helper.js';
import { newUser } from '../helpers/http.helper.js';

const DEPLOY = resolve(import.meta.dirname, '../../deploy');
const read = (path: string) => readFileSync(resolve(DEPLOY, path), 'utf8');

/** emqx.conf as a HOCON parser reads it (Debian's ruby-hocon, a port of the reference implementation), as JSON. */
function parseHocon(path: string): any {
  const script = "c = Hocon::ConfigFactory.parse_file(ARGV[0]); puts c.root.render(Hocon::ConfigRenderOptions.concise)";
  const json = execFileSync('ruby', ['-rhocon', '-rhocon/config_factory', '-rhocon/config_render_options', '-e', script, resolve(DEPLOY, path)], { encoding: 'utf8' });
  return JSON.parse(json);
}

/** What docker compose does with ${VAR}, ${VAR:-default} and ${VAR:?message}, given the example .env. */
function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(/\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}/g, (_all, name: string, kind: string | undefined, arg: string | undefined) => {
    const value = env[name];
    if (value !== undefined && value !== '') return value;
    if (kind === '-') return arg ?? '';
    throw new Error(`compose would stop: ${name} is unset (${arg ?? 'no default'})`);
  });
}

function exampleEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of read('.env.example').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m?.[1]) env[m[1]] = m[2] ?? '';
  }
  // The secrets an operator fills in.
  for (const key of ['SESSION_SECRET', 'POSTGRES_PASSWORD', 'EMQX_NODE_COOKIE', 'EMQX_DASHBOARD_PASSWORD']) env[key] = 'x'.repeat(40);
  return env;
}

const hostPort = (url: string) => {
  const u = new URL(url);
  return `${u.hostname}:${u.port}`;
};

describe('EMQX config', () => {
  const conf = parseHocon('emqx/emqx.conf');

  it('authenticates every client with a JSON POST to the manager carrying the four placeholders', () => {
    expect(conf.authentication).toHaveLength(1);
    expect(conf.authentication[0]).toMatchObject({
      mechanism: 'password_based',
      backend: 'http',
      enable: true,
      method: 'post',
      url: 'http://manager:4071/mqtt/auth',
      headers: { 'content-type': 'application/json' },
      body: { username: '${username}', password: '${password}', clientid: '${clientid}', peerhost: '${peerhost}' },
    });
  });

  it('mounts tcp, ssl, ws and wss clients under their tenant, and keeps the internal listener off the public side', () => {
    for (const kind of ['tcp', 'ssl', 'ws', 'wss']) expect(conf.listeners[kind].default.mountpoint, kind).toBe('${client_attrs.tenant}');
    const internal = conf.listeners.tcp.internal;
    expect(internal.mountpoint).toBeUndefined();
    expect(internal.enable_authn).toBe(false);
    expect(internal.bind).toMatch(/^127\.0\.0\.1:/);
    expect(conf.dashboard.listeners.http.bind).toMatch(/^127\.0\.0\.1:/);
  });

  it('authorizes from our own acl.conf, which allows # inside the mountpoint', () => {
    expect(conf.authorization.sources).toEqual([{ type: 'file', enable: true, path: '${EMQX_ETC_DIR}/acl.conf' }]);
    const rules = read('emqx/acl.conf').split('\n').filter((line) => line.trim() !== '' && !line.startsWith('%'));
    expect(rules).toEqual(['{allow, all}.']);
  });

  describe('against the real /mqtt/auth', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ env: { MQTT_BROKER: 'external' } });
    });
    afterAll(async () => {
      await t?.close();
    });

    it('yields a tenant that turns the mountpoint template into the project prefix', async () => {
      const owner = await newUser(t.url);
      const projectId = (await owner.client.get('/api/projects')).body.items[0].id as string;
      const device = (await owner.client.post(`/api/projects/${projectId}/mqtt-clients`, { description: 'emqx config test' })).body;
      const values: Record<string, string> = { username: device.username, password: device.password, clientid: 'sensor-1', peerhost: '198.51.100.7' };
      const template = conf.authentication[0].body as Record<string, string>;
      const body = Object.fromEntries(Object.entries(template).map(([key, value]) => [key, value.replace(/\$\{(\w+)\}/g, (_m, name: string) => values[name] ?? '')]));
      const response = await fetch(`${t.url}${new URL(conf.authentication[0].url).pathname}`, { method: 'POST', headers: conf.authentication[0].headers, body: JSON.stringify(body) });
      const result = (await response.json()) as { result: string; client_attrs: Record<string, string> };
      expect(result.result).toBe('allow');
      const mountpoint = (conf.listeners.tcp.default.mountpoint as string).replace(/\$\{client_attrs\.(\w+)\}/g, (_m, name: string) => result.client_attrs[name] ?? '');
      expect(mountpoint).toBe(`ff/${projectId}/`);
    });
  });
});

describe('docker-compose.yml', () => {
  const env = exampleEnv();
  const compose = parseYaml(interpolate(read('docker-compose.yml'), env)) as any;
  const services = compose.services as Record<string, any>;
  const managerEnv = services.manager.environment as Record<string, string>;

  it('gives the manager a configuration it accepts: Docker driver, external EMQX, Postgres', () => {
    const config = parseConfig(managerEnv);
    expect(config.driver).toBe('docker');
    expect(config.mqtt.broker).toBe('external');
    expect(config.databaseUrl).toMatch(/^postgres:\/\/openflow:.+@postgres:5432\/openflow$/);
    expect(config.publicUrl).toBe(`https://${env.OPENFLOW_DOMAIN}`);
    expect(config.docker).toMatchObject({ network: DOCKER_NETWORK, user: { uid: 1000, gid: 1000 }, mqttHost: 'emqx', socket: '/var/run/docker.sock' });
    const configSource = readFileSync(resolve(import.meta.dirname, '../../src/config.ts'), 'utf8');
    const unread = Object.keys(managerEnv).filter((key) => !configSource.includes(`'${key}'`) && !configSource.includes(`env.${key}`));
    expect(unread, 'manager variables src/config.ts never reads').toEqual([]);
  });

  it('wires the names the other files use: network, manager, EMQX, certificates, instance data', () => {
    expect(compose.networks['openflow-network'].name).toBe(DOCKER_NETWORK);
    for (const service of ['manager', 'emqx', 'nginx']) expect(services[service].networks).toSatisfy((n: unknown) => (Array.isArray(n) ? n.includes(DOCKER_NETWORK) : DOCKER_NETWORK in (n as object)));
    expect(Object.keys(services.postgres.networks ?? {}).concat(services.postgres.networks ?? [])).not.toContain(DOCKER_NETWORK);

    const emqx = parseHocon('emqx/emqx.conf');
    expect(hostPort(emqx.authentication[0].url)).toBe(`manager:${managerEnv.PORT}`);
    expect(hostPort(managerEnv.INSTANCE_CALLBACK_URL ?? '')).toBe(`manager:${managerEnv.PORT}`);
    expect(services.emqx.volumes).toContain('./emqx/acl.conf:/opt/emqx/etc/acl.conf:ro');
    expect(services.emqx.volumes).toContain('./emqx/emqx.conf:/opt/emqx/etc/emqx.conf:ro');
    expect(services.emqx.image).toMatch(/^emqx\/emqx:5\.8\.\d+$/);
    expect(emqx.listeners.tcp.default.bind).toBe(`0.0.0.0:${managerEnv.MQTT_PORT}`);
    const internalIp = env.EMQX_INTERNAL_IP;
    expect(services.emqx.environment.EMQX_LISTENERS__TCP__INTERNAL__BIND).toBe(`${internalIp}:11883`);
    expect(services.emqx.networks['openflow-internal'].ipv4_address).toBe(internalIp);
    expect(compose.networks['openflow-internal'].internal).toBe(true);

    const nginx = read('nginx/nginx.conf.template');
    expect(nginx).toContain(`set $manager manager:${managerEnv.PORT};`);
    expect(nginx).toContain(`set $emqx_ws emqx:${emqx.listeners.ws.default.bind.split(':')[1]};`);
    expect(nginx).toContain(`proxy_pass http://nodered-$subdomain:${DOCKER_NODE_RED_PORT};`);
    for (const name of nginx.match(/\$\{[A-Z_]+\}/g) ?? []) expect(Object.keys(services.nginx.environment), name).toContain(name.slice(2, -1));
    expect(services.nginx.environment.NGINX_ENVSUBST_OUTPUT_DIR).toBe('/etc/nginx');
    expect(services.nginx.volumes).toContain('./nginx/nginx.conf.template:/etc/nginx/templates/nginx.conf.template:ro');
    expect(services.nginx.volumes).toContain(`${env.OPENFLOW_CERT_DIR}:/etc/nginx/certs:ro`);
    expect(emqx.listeners.ssl.default.ssl_options.certfile).toBe('${EMQX_ETC_DIR}/certs/openflow/fullchain.pem');
    expect(services.emqx.volumes).toContain(`${env.OPENFLOW_CERT_DIR}:/opt/emqx/etc/certs/openflow:ro`);

    expect(services.manager.volumes).toContain(`${env.OPENFLOW_DATA_DIR}:${env.OPENFLOW_DATA_DIR}`);
    expect(managerEnv.DATA_PATH).toBe(env.OPENFLOW_DATA_DIR);
    expect(services.manager.volumes).toContain('/var/run/docker.sock:/var/run/docker.sock');
  });
});

describe('Node-RED Dockerfile', () => {
  const dockerfile = read('node-red/Dockerfile');

  it('puts the runtime files and the settings file where the Docker driver expects them', () => {
    expect(dockerfile).toContain(`COPY --chown=root:root nodered/ ${DOCKER_RUNTIME_DIR}/`);
    expect(dockerfile).toContain(`CMD ["--settings", "${DOCKER_USER_DIR}/${SETTINGS_FILE_NAME}"]`);
    expect(dockerfile).toMatch(/^FROM nodered\/node-red:\$\{NODE_RED_VERSION\}$/m);
  });

  it('builds on the Node-RED version the manager is built and tested with', () => {
    const pinned = (JSON.parse(readFileSync(resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies['node-red'];
    expect(dockerfile).toContain(`ARG NODE_RED_VERSION=${pinned}`);
    expect(pinned).toMatch(/^4\.1\.\d+$/);
  });
});
