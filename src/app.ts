import http from 'node:http';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyBaseLogger, type FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from './config.js';
import type { Db } from './db/db.js';
import { MIGRATIONS } from './db/migrations.js';
import { migrate } from './db/migrator.js';
import { AuditRepository } from './audit/audit.repository.js';
import { AuditService } from './audit/audit.service.js';
import { auditRoutes } from './audit/audit.routes.js';
import { AnthropicSummarizer } from './audit/summary/anthropic.summarizer.js';
import { LlmSettingsService } from './audit/summary/llm-settings.service.js';
import { llmSettingsRoutes } from './audit/summary/llm-settings.routes.js';
import { SummaryRepository } from './audit/summary/summary.repository.js';
import { AuditSummaryWorker } from './audit/summary/summary.worker.js';
import { IdentityRepository } from './identity/identity.repository.js';
import { ProjectRepository } from './identity/project.repository.js';
import { AuthService } from './identity/auth.service.js';
import { ProjectService } from './identity/project.service.js';
import { identityRoutes, SESSION_COOKIE } from './identity/identity.routes.js';
import { projectRoutes } from './identity/project.routes.js';
import { installErrorHandler } from './http/error-handler.js';
import { validatorCompiler } from './http/validation.js';
import { dashboardPlugin } from './http/dashboard.plugin.js';
import type { App } from './http/types.js';
import { systemClock, type Clock } from './platform/clock.js';
import { PasswordHasher } from './platform/crypto.js';
import type { Actor } from './identity/actor.js';
import type { InstanceDriver } from './drivers/instance-driver.js';
import { ProcessDriver } from './drivers/process.driver.js';
import { DockerodeEngine } from './drivers/docker-engine.js';
import { DOCKER_HOST_ALIAS, DOCKER_RUNTIME_DIR, DOCKER_USER_DIR, DockerDriver } from './drivers/docker.driver.js';
import { InstanceRepository } from './instances/instance.repository.js';
import { InstanceService, type RuntimeLayout } from './instances/instance.service.js';
import { LaunchService } from './instances/launch.service.js';
import { TemplateService } from './instances/template.service.js';
import { instanceRoutes } from './instances/instance.routes.js';
import { RESERVED_LABELS } from './instances/labels.js';
import { nodeRedRuntimeDir } from './nodered/settings.renderer.js';
import { SecretBox } from './platform/crypto.js';
import { projectRoot } from './platform/project-root.js';
import { HostRouter } from './routing/host-router.js';
import { EmbeddedBroker } from './mqtt/embedded-broker.js';
import { MqttAuthService } from './mqtt/mqtt-auth.service.js';
import { mqttRoutes } from './mqtt/mqtt.routes.js';
import { RouteTableSync } from './routing/route-table.js';
import { SnapshotRepository } from './snapshots/snapshot.repository.js';
import { SnapshotService } from './snapshots/snapshot.service.js';
import { snapshotRoutes } from './snapshots/snapshot.routes.js';
import { HttpRuntimeAdmin } from './snapshots/runtime-admin.client.js';
import { NpmModuleInstaller } from './snapshots/module-installer.js';
import { BackupRepository } from './backups/backup.repository.js';
import { BackupService } from './backups/backup.service.js';
import { BackupScheduler } from './backups/backup.scheduler.js';
import { backupRoutes } from './backups/backup.routes.js';

export interface AppDeps {
  db: Db;
  clock?: Clock;
  /** Where log lines go; tests capture them to prove no secret is ever logged. */
  logStream?: NodeJS.WritableStream;
  /** The instance driver; by default the one config.driver names. */
  driver?: InstanceDriver;
}

/** Requests for instance hosts are taken by the router before Fastify sees them. */
export interface HostHandler {
  handleRequest(req: http.IncomingMessage, res: http.ServerResponse): boolean;
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): boolean;
}

export interface Openflow {
  app: App;
  config: Config;
  log: FastifyBaseLogger;
  services: { auth: AuthService; projects: ProjectService; audit: AuditService; instances: InstanceService; launch: LaunchService; templates: TemplateService; mqtt: MqttAuthService; snapshots: SnapshotService; backups: BackupService; backupScheduler: BackupScheduler };
  /** The embedded broker's TCP port (or the configured external broker port). */
  mqttPort: number;
  router: HostRouter;
  /** Starts background work (recovery, schedules) and listens; returns the bound port. */
  listen(): Promise<number>;
  close(): Promise<void>;
}

const REDACT = ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', '*.password', '*.token', '*.accessToken'];

/**
 * MQTT_PORT set on purpose and busy is a configuration error; the default 1883 being busy (a local
 * Mosquitto, say) should not stop a laptop trial, so a free port is taken and logged instead.
 */
async function startEmbeddedBroker(config: Config, authenticator: MqttAuthService, log: FastifyBaseLogger): Promise<{ broker: EmbeddedBroker; port: number }> {
  const create = (port: number) => new EmbeddedBroker({ host: config.host, port, authenticator, logger: log });
  const broker = create(config.mqtt.port);
  try {
    return { broker, port: (await broker.start()).port };
  } catch (err) {
    await broker.close().catch(() => undefined);
    if (config.mqtt.portExplicit || !/EADDRINUSE|in use/i.test((err as Error).message)) throw err;
  }
  const fallback = create(0);
  const { port } = await fallback.start();
  log.warn({ port }, `MQTT port ${config.mqtt.port} is in use; the embedded broker listens on ${port} instead (set MQTT_PORT to choose)`);
  return { broker: fallback, port };
}

function createDriver(config: Config, log: FastifyBaseLogger): InstanceDriver {
  const crash = { maxCrashes: config.crashBackoffMs.length, windowMs: config.crashWindowMs, backoffMs: config.crashBackoffMs };
  if (config.driver === 'docker') {
    return new DockerDriver({
      engine: DockerodeEngine.fromSocket(config.docker.socket),
      image: config.docker.image,
      network: config.docker.network,
      user: config.docker.user,
      crash,
      onClose: config.instancesOnShutdown,
      logger: log,
    });
  }
  if (config.driver !== 'process') throw new Error(`DRIVER=${config.driver} needs its driver passed in deps (not built into this start path yet)`);
  return new ProcessDriver({
    nodeRedBin: path.join(projectRoot(), 'node_modules', 'node-red', 'red.js'),
    portRange: config.portRange,
    runDir: path.join(config.dataPath, 'run'),
    crash,
    onClose: config.instancesOnShutdown,
    logger: log,
  });
}

function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
}

/** Where Node-RED finds Openflow's files and how it reaches the manager and the broker, as its driver runs it. */
function runtimeLayout(config: Config, driver: InstanceDriver, mqttPort: number): RuntimeLayout {
  if (driver.name === 'docker') {
    return {
      runtimeDir: DOCKER_RUNTIME_DIR,
      listenHost: '0.0.0.0',
      userDirInRuntime: () => DOCKER_USER_DIR,
      // Loopback inside a container is the container itself; the host gateway name reaches a manager on the host.
      callbackBaseUrl: isLoopbackUrl(config.instanceCallbackUrl) ? `http://${DOCKER_HOST_ALIAS}:${config.port}` : config.instanceCallbackUrl,
      mqtt: { host: config.docker.mqttHost ?? (config.mqtt.broker === 'external' ? 'emqx' : DOCKER_HOST_ALIAS), port: mqttPort },
    };
  }
  return {
    runtimeDir: nodeRedRuntimeDir(),
    listenHost: '127.0.0.1',
    userDirInRuntime: (dir) => dir,
    callbackBaseUrl: config.instanceCallbackUrl,
    mqtt: { host: '127.0.0.1', port: mqttPort },
  };
}

export async function buildApp(config: Config, deps: AppDeps): Promise<Openflow> {
  if (!config.sessionSecret) throw new Error('buildApp needs config.sessionSecret (main.ts generates one for embedded starts)');
  const clock = deps.clock ?? systemClock;
  const { db } = deps;
  const hostHandlers: HostHandler[] = [];
  const upgradeHandlers: HostHandler[] = [];

  const app = Fastify({
    logger: { level: config.logLevel, redact: { paths: REDACT, censor: '[redacted]' }, ...(deps.logStream ? { stream: deps.logStream } : {}) },
    bodyLimit: 1024 * 1024,
    trustProxy: config.publicUrl.startsWith('https:') ? true : ['127.0.0.1', '::1'],
    serverFactory: (handler) => {
      const server = http.createServer((req, res) => {
        for (const h of hostHandlers) if (h.handleRequest(req, res)) return;
        handler(req, res);
      });
      server.on('upgrade', (req, socket, head) => {
        for (const h of upgradeHandlers) if (h.handleUpgrade(req, socket, head)) return;
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      });
      return server;
    },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;
  app.setValidatorCompiler(validatorCompiler());

  await migrate(db, MIGRATIONS);

  const hasher = new PasswordHasher(config.passwordHashCost);
  const identityRepo = new IdentityRepository(db);
  const projectRepo = new ProjectRepository(db);
  const auditRepo = new AuditRepository(db);
  const audit = new AuditService(auditRepo, { projectIdsFor: (userId) => projectRepo.projectIdsFor(userId) }, app.log);
  const summaryRepo = new SummaryRepository(db);
  const llmSettings = new LlmSettingsService(db, summaryRepo, new SecretBox(config.sessionSecret, 'llm-key'), config.auditSummary, audit, clock, app.log);
  const summarizerFor = ({ apiKey, model }: { apiKey: string; model: string }) => new AnthropicSummarizer({ apiKey, model, baseUrl: config.auditSummary.baseUrl, timeoutMs: config.auditSummary.timeoutMs });
  const summaryWorker = new AuditSummaryWorker(db, summaryRepo, llmSettings, summarizerFor, clock, { intervalMs: config.auditSummary.intervalMs, batchSize: 50, maxBackoffMs: 900_000, maxRequestsPerTick: 20 }, app.log);
  const auth = new AuthService(db, identityRepo, projectRepo, hasher, audit, clock, { allowSignup: config.allowSignup });
  const projects = new ProjectService(db, projectRepo, identityRepo, audit);

  const mqtt = new MqttAuthService(db, projects, audit, clock);
  const embedded = config.mqtt.broker === 'embedded' ? await startEmbeddedBroker(config, mqtt, app.log) : null;
  const broker = embedded?.broker ?? null;
  const mqttPort = embedded?.port ?? config.mqtt.port;
  if (broker) mqtt.attachBroker(broker);
  const brokerUrl = config.mqtt.publicUrl ?? `mqtt://${config.rootDomain}:${mqttPort}`;

  const driver = deps.driver ?? createDriver(config, app.log);
  const layout = runtimeLayout(config, driver, mqttPort);
  const instanceRepo = new InstanceRepository(db);
  const templates = new TemplateService(db, audit);
  const instances = new InstanceService(instanceRepo, projects, templates, audit, driver, new SecretBox(config.sessionSecret, 'instance-secrets'), { dataPath: config.dataPath, publicUrl: config.publicUrl, rootDomain: config.rootDomain, layout, paletteCatalogues: config.paletteCatalogues }, app.log);
  const launch = new LaunchService(db, instances, instanceRepo, audit, clock);
  const snapshots = new SnapshotService(new SnapshotRepository(db), instances, instanceRepo, projects, audit, new SecretBox(config.sessionSecret, 'snapshot-credentials'), new HttpRuntimeAdmin(), new NpmModuleInstaller(), clock, app.log);
  const backupRepo = new BackupRepository(db);
  const backups = new BackupService(backupRepo, instances, audit, clock, { dataPath: config.dataPath }, app.log);
  const backupScheduler = new BackupScheduler(db, backupRepo, backups, clock, { intervalMs: 60_000 }, app.log);

  const router = new HostRouter({ rootDomain: config.rootDomain, logger: app.log });
  const routes = new RouteTableSync(instanceRepo, (t) => router.setTable(t), (err) => app.log.error({ err }, 'route table refresh failed'));
  instances.onRoutesChanged(() => void routes.refresh());
  await routes.refresh();
  // Reserved names (www, manager, ...) on the root domain belong to the manager, never to an instance.
  const isManagerHost = (host: string | undefined) => {
    const label = router.labelFor(host);
    return label !== null && RESERVED_LABELS.has(label);
  };
  const instanceHosts: HostHandler = {
    handleRequest: (req, res) => !isManagerHost(req.headers.host) && router.handleRequest(req, res),
    handleUpgrade: (req, socket, head) => !isManagerHost(req.headers.host) && router.handleUpgrade(req, socket, head),
  };
  hostHandlers.push(instanceHosts);
  upgradeHandlers.push(instanceHosts);
  if (broker) {
    upgradeHandlers.push({
      handleRequest: () => false,
      handleUpgrade: (req, socket, head) => {
        if (req.url?.split('?')[0] !== '/mqtt') return false;
        broker.handleUpgrade(req, socket, head);
        return true;
      },
    });
  }

  await app.register(cookie);
  await app.register(rateLimit, { global: false, errorResponseBuilder: (_req, ctx) => ({ statusCode: 429, code: 'rate_limited', message: `Too many attempts; retry in ${Math.ceil(ctx.ttl / 1000)} s` }) });
  await app.register(swagger, { openapi: { info: { title: 'Openflow API', version: '0.1.0' } } });

  app.decorateRequest('ctx', null as unknown as FastifyRequest['ctx']);
  app.addHook('onRequest', async (req) => {
    req.ctx = { actor: await authenticate(req), ip: req.ip };
  });
  async function authenticate(req: FastifyRequest): Promise<Actor | null> {
    const header = req.headers.authorization;
    if (header?.startsWith('Bearer ')) return auth.authenticateApiToken(header.slice(7).trim());
    const session = req.cookies[SESSION_COOKIE];
    return session ? auth.authenticateSession(session) : null;
  }

  installErrorHandler(app, async (req, code) => {
    const action = req.routeOptions.config.audit;
    if (action) await audit.record(req.ctx ?? { actor: null, ip: req.ip }, action, { type: 'request', details: { url: req.url.split('?')[0] } }, 'failure', code);
  });

  const secureCookies = config.publicUrl.startsWith('https:');
  await app.register(identityRoutes, { auth, secureCookies, authRateLimit: config.authRateLimit });
  await app.register(projectRoutes, { projects });
  await app.register(auditRoutes, { audit });
  await app.register(llmSettingsRoutes, { settings: llmSettings });
  await app.register(instanceRoutes, { instances, templates, launch });
  await app.register(snapshotRoutes, { snapshots });
  await app.register(backupRoutes, { backups, scheduler: backupScheduler });
  await app.register(mqttRoutes, { mqtt, brokerUrl });
  app.get('/api/docs/json', { schema: { hide: true } }, async () => app.swagger());
  await app.register(dashboardPlugin, { distDir: path.join(projectRoot(), 'web', 'dist') });
  app.get('/api/health', { schema: { hide: true } }, async () => ({ ok: true }));

  return {
    app,
    config,
    log: app.log,
    services: { auth, projects, audit, instances, launch, templates, mqtt, snapshots, backups, backupScheduler },
    mqttPort,
    router,
    async listen() {
      await app.listen({ port: config.port, host: config.host });
      const addr = app.server.address();
      void instances.recover().catch((err: unknown) => app.log.error({ err }, 'instance recovery failed'));
      summaryWorker.start();
      return typeof addr === 'object' && addr ? addr.port : config.port;
    },
    async close() {
      await summaryWorker.stop();
      await app.close();
      router.close();
      await instances.close();
      await driver.close();
      await broker?.close();
    },
  };
}
