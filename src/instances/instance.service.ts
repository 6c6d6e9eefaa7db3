import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { AuditService, AuditTarget } from '../audit/audit.service.js';
import type { DriverEvent, InstanceDriver, InstanceSpec, LogLine } from '../drivers/instance-driver.js';
import { AppError, badRequest, conflict, notFound } from '../errors.js';
import { requireActor, type Actor, type RequestContext } from '../identity/actor.js';
import type { AccessLevel, ProjectService } from '../identity/project.service.js';
import { encryptCredentials, splitInlineCredentials } from '../nodered/credentials.js';
import { renderSettings } from '../nodered/settings.renderer.js';
import { randomToken, sha256Hex, type SecretBox } from '../platform/crypto.js';
import { KeyedMutex } from '../platform/keyed-mutex.js';
import type { InstanceRepository, InstanceRow, InstanceState } from './instance.repository.js';
import { validateLabel } from './labels.js';
import type { Template, TemplateService } from './template.service.js';

export interface Instance {
  id: string;
  projectId: string;
  subdomain: string;
  url: string;
  state: InstanceState;
  errorMessage: string | null;
  template: string;
  memoryMb: number;
  cpu: number;
  env: Record<string, string>;
  aliases: string[];
  mqtt: { url: string; username: string };
  restartCount: number;
  startedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface InstanceSecrets {
  magicToken: string;
  credentialSecret: string;
  instanceSecret: string;
  mqttPassword: string;
}

export interface CreateInstanceInput {
  subdomain: string;
  template?: string;
  memoryMb?: number;
  cpu?: number;
  env?: Record<string, string>;
}

export interface UpdateInstanceInput {
  memoryMb?: number;
  cpu?: number;
  env?: Record<string, string>;
}

/** Where the runtime sees things: host paths for local processes, mount paths inside containers. */
export interface RuntimeLayout {
  runtimeDir: string;
  listenHost: string;
  userDirInRuntime(hostUserDir: string): string;
  /** How the runtime reaches the manager and the broker (loopback locally, host.docker.internal in Docker). */
  callbackBaseUrl: string;
  mqtt: { host: string; port: number };
}

export interface InstanceServiceOptions {
  dataPath: string;
  publicUrl: string;
  rootDomain: string;
  layout: RuntimeLayout;
  paletteCatalogues: string[];
}

export interface InstanceStatus {
  state: InstanceState;
  pid: number | null;
  port: number | null;
  uptimeMs: number | null;
  rssBytes: number | null;
  restarts: number;
  nodeRedVersion: string | null;
}

const RESERVED_ENV = /^(OPENFLOW_|NODE_OPTIONS$|NODE_PATH$|PATH$|HOME$)/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const MAX_ENV_KEYS = 100;
const MAX_ERROR_CHARS = 4000;

/**
 * The one owner of instance state. Every transition goes through a compare-and-set on the row
 * (so replicas and concurrent calls cannot both act) and, inside this process, through a per-instance
 * mutex (so runtime operations on one instance never overlap).
 */
export class InstanceService {
  private readonly mutex = new KeyedMutex();
  private readonly changeListeners = new Set<(i: Instance) => void>();
  private readonly routeListeners = new Set<() => void>();
  private readonly deleteListeners = new Set<(d: { id: string; projectId: string }) => void>();
  private readonly detachDriver: () => void;

  constructor(
    private readonly repo: InstanceRepository,
    private readonly projects: ProjectService,
    private readonly templates: TemplateService,
    private readonly audit: AuditService,
    private readonly driver: InstanceDriver,
    private readonly secrets: SecretBox,
    private readonly options: InstanceServiceOptions,
    private readonly log: FastifyBaseLogger,
  ) {
    this.detachDriver = driver.onEvent((e) => void this.onDriverEvent(e));
  }

  get driverPinsNames(): boolean {
    return this.driver.pinsNamesAtCreate;
  }

  onChange(listener: (i: Instance) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  onDeleted(listener: (d: { id: string; projectId: string }) => void): () => void {
    this.deleteListeners.add(listener);
    return () => this.deleteListeners.delete(listener);
  }

  onRoutesChanged(listener: () => void): () => void {
    this.routeListeners.add(listener);
    return () => this.routeListeners.delete(listener);
  }

  instanceUrl(label: string): string {
    const u = new URL(this.options.publicUrl);
    return `${u.protocol}//${label}.${this.options.rootDomain}${u.port ? `:${u.port}` : ''}`;
  }

  userDirOf(id: string): string {
    return path.join(this.options.dataPath, 'instances', id);
  }

  toDto(r: InstanceRow): Instance {
    return {
      id: r.id,
      projectId: r.project_id,
      subdomain: r.subdomain,
      url: this.instanceUrl(r.subdomain),
      state: r.state,
      errorMessage: r.error_message,
      template: r.template_id,
      memoryMb: r.memory_mb,
      cpu: r.cpu,
      env: r.env,
      aliases: r.aliases,
      mqtt: { url: `mqtt://${this.options.layout.mqtt.host}:${this.options.layout.mqtt.port}`, username: r.mqtt_username },
      restartCount: r.restart_count,
      startedAt: r.started_at?.toISOString() ?? null,
      createdAt: r.created_at.toISOString(),
      updatedAt: r.updated_at.toISOString(),
    };
  }

  openSecrets(r: InstanceRow): InstanceSecrets {
    return JSON.parse(this.secrets.open(r.secrets_enc)) as InstanceSecrets;
  }

  /** Loads an instance the actor may act on; others get 404 whether or not it exists. */
  async access(actor: Actor, id: string, level: AccessLevel, audited?: AuditTarget): Promise<InstanceRow> {
    const row = /^[0-9a-f-]{36}$/i.test(id) ? await this.repo.get(id) : null;
    if (!row) throw notFound('Instance');
    try {
      await this.projects.access(actor, row.project_id, level);
    } catch (err) {
      if (err instanceof AppError && err.status === 404) throw notFound('Instance');
      throw err;
    }
    // Only callers who may see the instance get its project and name into their audit row.
    if (audited) Object.assign(audited, { projectId: row.project_id, label: audited.label ?? row.subdomain });
    return row;
  }

  async list(ctx: RequestContext, projectId: string): Promise<Instance[]> {
    await this.projects.access(requireActor(ctx), projectId, 'member');
    return (await this.repo.listByProject(projectId)).map((r) => this.toDto(r));
  }

  async get(ctx: RequestContext, id: string): Promise<Instance> {
    return this.toDto(await this.access(requireActor(ctx), id, 'member'));
  }

  async create(ctx: RequestContext, projectId: string, input: CreateInstanceInput): Promise<Instance> {
    const actor = requireActor(ctx);
    const subdomain = input.subdomain.trim().toLowerCase();
    return this.audit.run(
      ctx,
      'instance.create',
      { type: 'instance', label: subdomain, projectId },
      async () => {
        await this.projects.access(actor, projectId, 'member');
        validateLabel(subdomain, 'subdomain');
        const template = await this.templates.get(input.template ?? 'blank');
        const memoryMb = input.memoryMb ?? template.memory.default;
        const cpu = input.cpu ?? template.cpu.default;
        checkLimits(template, { memoryMb, cpu });
        const env = { ...template.env, ...validateEnv(input.env ?? {}) };
        const id = crypto.randomUUID();
        const secrets: InstanceSecrets = {
          magicToken: randomToken(32),
          credentialSecret: randomToken(32),
          instanceSecret: randomToken(32),
          mqttPassword: randomToken(24),
        };
        const inserted = await this.repo.insert({
          id,
          projectId,
          subdomain,
          templateId: template.id,
          memoryMb,
          cpu,
          env,
          secretsEnc: this.secrets.seal(JSON.stringify(secrets)),
          mqttUsername: `nr-${id.slice(0, 8)}-${subdomain}`.slice(0, 64),
          mqttPasswordHash: sha256Hex(secrets.mqttPassword),
          createdBy: actor.userId,
        });
        if (!inserted) throw conflict('subdomain_taken', `The name "${subdomain}" is already in use`);
        const row = (await this.repo.get(id))!;
        this.changed(row);
        return this.toDto(row);
      },
      (i) => ({ id: i.id, details: { template: i.template, memoryMb: i.memoryMb, cpu: i.cpu } }),
    );
  }

  async update(ctx: RequestContext, id: string, input: UpdateInstanceInput): Promise<{ instance: Instance; restartNeeded: boolean }> {
    const actor = requireActor(ctx);
    const target: AuditTarget = { type: 'instance', id, details: { fields: Object.keys(input) } };
    return this.audit.run(ctx, 'instance.update', target, async () => {
      const row = await this.access(actor, id, 'member', target);
      const template = await this.templates.get(row.template_id);
      checkLimits(template, input);
      await this.repo.update(id, {
        ...(input.memoryMb !== undefined ? { memory_mb: input.memoryMb } : {}),
        ...(input.cpu !== undefined ? { cpu: input.cpu } : {}),
        ...(input.env !== undefined ? { env: validateEnv(input.env) } : {}),
      });
      const updated = (await this.repo.get(id))!;
      this.changed(updated);
      return { instance: this.toDto(updated), restartNeeded: updated.state === 'running' || updated.state === 'starting' };
    });
  }

  async start(ctx: RequestContext, id: string, opts: { wait?: boolean } = {}): Promise<Instance> {
    const actor = requireActor(ctx);
    const target: AuditTarget = { type: 'instance', id };
    return this.audit.run(ctx, 'instance.start', target, async () => {
      const row = await this.access(actor, id, 'member', target);
      const starting = await this.repo.transition(id, ['stopped', 'error'], 'starting', { desired_state: 'running', error_message: null });
      if (!starting) throw this.busy(row, 'start');
      this.changed(starting);
      const job = this.mutex.run(id, () => this.boot(id));
      if (opts.wait) await job;
      return this.toDto((await this.repo.get(id)) ?? starting);
    });
  }

  async stop(ctx: RequestContext, id: string): Promise<Instance> {
    const actor = requireActor(ctx);
    const target: AuditTarget = { type: 'instance', id };
    return this.audit.run(ctx, 'instance.stop', target, async () => {
      const row = await this.access(actor, id, 'member', target);
      const stopping = await this.repo.transition(id, ['running', 'starting', 'error'], 'stopping', { desired_state: 'stopped' });
      if (!stopping) throw this.busy(row, 'stop');
      this.changed(stopping);
      await this.mutex.run(id, () => this.halt(id));
      return this.toDto((await this.repo.get(id))!);
    });
  }

  async restart(ctx: RequestContext, id: string, opts: { wait?: boolean } = {}): Promise<Instance> {
    const actor = requireActor(ctx);
    const target: AuditTarget = { type: 'instance', id };
    return this.audit.run(ctx, 'instance.restart', target, async () => {
      const row = await this.access(actor, id, 'member', target);
      const stopping = await this.repo.transition(id, ['running', 'error'], 'stopping', { desired_state: 'running' });
      if (!stopping) throw this.busy(row, 'restart');
      this.changed(stopping);
      const job = this.mutex.run(id, async () => {
        await this.halt(id, 'starting');
        await this.boot(id);
      });
      if (opts.wait) await job;
      return this.toDto((await this.repo.get(id))!);
    });
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    const actor = requireActor(ctx);
    const target: AuditTarget = { type: 'instance', id };
    await this.audit.run(ctx, 'instance.delete', target, async () => {
      const row = await this.access(actor, id, 'owner', target);
      await this.mutex.run(id, async () => {
        await this.repo.transition(id, ['running', 'starting', 'error', 'stopped'], 'stopping', { desired_state: 'stopped' });
        await this.driver.remove(id);
        await this.repo.delete(id);
        await fs.rm(this.userDirOf(id), { recursive: true, force: true });
        await fs.rm(path.join(this.options.dataPath, 'backups', id), { recursive: true, force: true });
      });
      this.notifyRoutes();
      for (const l of this.deleteListeners) l({ id, projectId: row.project_id });
      return row;
    });
  }

  async status(ctx: RequestContext, id: string): Promise<InstanceStatus> {
    const row = await this.access(requireActor(ctx), id, 'member');
    const s = await this.driver.status(id);
    return {
      state: row.state,
      pid: s?.pid ?? null,
      port: s?.port ?? null,
      uptimeMs: s?.uptimeMs ?? null,
      rssBytes: s?.rssBytes ?? null,
      restarts: row.restart_count,
      nodeRedVersion: s?.nodeRedVersion ?? null,
    };
  }

  async logs(ctx: RequestContext, id: string, limit: number): Promise<LogLine[]> {
    await this.access(requireActor(ctx), id, 'member');
    return this.driver.logs(id, limit);
  }

  async followLogs(ctx: RequestContext, id: string, onLine: (l: LogLine) => void): Promise<() => void> {
    await this.access(requireActor(ctx), id, 'member');
    return this.driver.followLogs(id, onLine);
  }

  async listAliases(ctx: RequestContext, id: string): Promise<string[]> {
    return (await this.access(requireActor(ctx), id, 'member')).aliases;
  }

  async addAlias(ctx: RequestContext, id: string, alias: string): Promise<{ aliases: string[]; restartNeeded: boolean }> {
    const actor = requireActor(ctx);
    const label = alias.trim().toLowerCase();
    const target: AuditTarget = { type: 'instance', id, details: { alias: label } };
    return this.audit.run(ctx, 'instance.alias.add', target, async () => {
      const row = await this.access(actor, id, 'member', target);
      validateLabel(label, 'alias');
      if (!(await this.repo.addAlias(id, label))) throw conflict('subdomain_taken', `The name "${label}" is already in use`);
      const updated = (await this.repo.get(id))!;
      this.changed(updated);
      return { aliases: updated.aliases, restartNeeded: this.driver.pinsNamesAtCreate && row.state !== 'stopped' };
    });
  }

  async removeAlias(ctx: RequestContext, id: string, alias: string): Promise<{ aliases: string[]; restartNeeded: boolean }> {
    const actor = requireActor(ctx);
    const label = alias.trim().toLowerCase();
    const target: AuditTarget = { type: 'instance', id, details: { alias: label } };
    return this.audit.run(ctx, 'instance.alias.remove', target, async () => {
      const row = await this.access(actor, id, 'member', target);
      if (!(await this.repo.removeAlias(id, label))) throw new AppError(404, 'alias_not_found', `"${label}" is not an alias of this instance`);
      const updated = (await this.repo.get(id))!;
      this.changed(updated);
      return { aliases: updated.aliases, restartNeeded: this.driver.pinsNamesAtCreate && row.state !== 'stopped' };
    });
  }

  /** New magic token: old editor cookies stop working once the runtime restarts with it. */
  async rotateMagicToken(ctx: RequestContext, id: string): Promise<Instance> {
    const actor = requireActor(ctx);
    const target: AuditTarget = { type: 'instance', id };
    return this.audit.run(ctx, 'instance.token.rotate', target, async () => {
      const row = await this.access(actor, id, 'member', target);
      const secrets = { ...this.openSecrets(row), magicToken: randomToken(32) };
      await this.repo.update(id, { secrets_enc: this.secrets.seal(JSON.stringify(secrets)) });
      if (row.state === 'running') {
        const stopping = await this.repo.transition(id, ['running'], 'stopping', {});
        if (stopping) {
          this.changed(stopping);
          await this.mutex.run(id, async () => {
            await this.halt(id, 'starting');
            await this.boot(id);
          });
        }
      }
      return this.toDto((await this.repo.get(id))!);
    });
  }

  /** Runs `fn` with exclusive use of the instance's runtime (snapshots and backups stop or reload it). */
  withInstanceLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.mutex.run(id, fn);
  }

  /** Stops the runtime for maintenance and reports whether it was running, so the caller can bring it back. */
  async stopForMaintenance(id: string): Promise<boolean> {
    const stopping = await this.repo.transition(id, ['running', 'starting', 'error'], 'stopping', {});
    if (!stopping) return false;
    this.changed(stopping);
    await this.halt(id, 'stopped', false);
    return true;
  }

  async startAfterMaintenance(id: string): Promise<void> {
    const starting = await this.repo.transition(id, ['stopped', 'error'], 'starting', { desired_state: 'running', error_message: null });
    if (!starting) return;
    this.changed(starting);
    await this.boot(id);
  }

  /** After a manager restart: every instance that should run runs exactly once; half-done transitions settle. */
  async recover(): Promise<void> {
    const rows = await this.repo.listAll();
    const expected: InstanceSpec[] = [];
    for (const row of rows) {
      if (row.desired_state === 'running') {
        const starting = await this.repo.transition(row.id, ['running', 'starting', 'stopping', 'error', 'stopped'], 'starting', { error_message: null });
        if (starting) this.changed(starting);
        expected.push(await this.specFor(row));
      } else if (row.state !== 'stopped') {
        const stopped = await this.repo.transition(row.id, [row.state], 'stopped', { runtime_host: null, runtime_port: null });
        if (stopped) this.changed(stopped);
      }
    }
    const running = await this.driver.recover(expected);
    for (const spec of expected) {
      const info = running.get(spec.instanceId);
      const next = info
        ? await this.repo.transition(spec.instanceId, ['starting'], 'running', { runtime_host: info.host, runtime_port: info.port, started_at: info.startedAt })
        : await this.repo.transition(spec.instanceId, ['starting'], 'error', { error_message: 'The runtime could not be brought back after the manager restarted' });
      if (next) this.changed(next);
    }
  }

  async close(): Promise<void> {
    this.detachDriver();
  }

  private busy(row: InstanceRow, op: string): AppError {
    if (op === 'start' && row.state === 'running') return conflict('instance_running', 'The instance is already running');
    if (op === 'stop' && row.state === 'stopped') return conflict('instance_stopped', 'The instance is already stopped');
    if (op === 'restart' && row.state === 'stopped') return conflict('instance_stopped', 'The instance is stopped; start it instead');
    return conflict('instance_busy', `The instance is ${row.state}; try again when it has settled`);
  }

  private async boot(id: string): Promise<void> {
    const row = await this.repo.get(id);
    if (!row || row.state !== 'starting') return;
    try {
      const info = await this.driver.start(await this.specFor(row));
      const running = await this.repo.transition(id, ['starting'], 'running', { runtime_host: info.host, runtime_port: info.port, started_at: info.startedAt, error_message: null });
      if (running) this.changed(running);
      else await this.driver.stop(id);
    } catch (err) {
      this.log.warn({ instanceId: id, err: (err as Error).message }, 'instance failed to start');
      const failed = await this.repo.transition(id, ['starting'], 'error', { error_message: truncate((err as Error).message) });
      if (failed) this.changed(failed);
    }
  }

  private async halt(id: string, next: 'stopped' | 'starting' = 'stopped', settle = true): Promise<void> {
    await this.driver.stop(id);
    const row = await this.repo.transition(id, ['stopping'], next, { runtime_host: null, runtime_port: null, started_at: null, ...(next === 'stopped' && settle ? { error_message: null } : {}) });
    if (row) this.changed(row);
  }

  private async specFor(row: InstanceRow): Promise<InstanceSpec> {
    const secrets = this.openSecrets(row);
    const hostDir = this.userDirOf(row.id);
    await fs.mkdir(hostDir, { recursive: true });
    await this.seedFlows(row, hostDir, secrets.credentialSecret);
    const { layout } = this.options;
    const settingsJs = renderSettings({
      port: 1880,
      host: layout.listenHost,
      userDir: layout.userDirInRuntime(hostDir),
      credentialSecret: secrets.credentialSecret,
      subdomain: row.subdomain,
      dashboardUrl: this.options.publicUrl,
      runtimeDir: layout.runtimeDir,
      memoryMb: row.memory_mb,
      catalogues: this.options.paletteCatalogues,
    });
    const env: Record<string, string> = {
      ...row.env,
      OPENFLOW_INSTANCE_ID: row.id,
      OPENFLOW_PROJECT_ID: row.project_id,
      OPENFLOW_SUBDOMAIN: row.subdomain,
      OPENFLOW_URL: this.instanceUrl(row.subdomain),
      OPENFLOW_MAGIC_TOKEN: secrets.magicToken,
      OPENFLOW_INSTANCE_SECRET: secrets.instanceSecret,
      OPENFLOW_AUTH_URL: `${layout.callbackBaseUrl}/api/internal/instances/${row.id}/redeem`,
      OPENFLOW_MANAGER_URL: layout.callbackBaseUrl,
      OPENFLOW_MQTT_URL: `mqtt://${layout.mqtt.host}:${layout.mqtt.port}`,
      OPENFLOW_MQTT_HOST: layout.mqtt.host,
      OPENFLOW_MQTT_PORT: String(layout.mqtt.port),
      OPENFLOW_MQTT_USERNAME: row.mqtt_username,
      OPENFLOW_MQTT_PASSWORD: secrets.mqttPassword,
    };
    return { instanceId: row.id, subdomain: row.subdomain, aliases: row.aliases, userDir: hostDir, settingsJs, env, memoryMb: row.memory_mb, cpu: row.cpu };
  }

  /** The template's flows are written once, before the first start; after that the flows are the user's. */
  private async seedFlows(row: InstanceRow, hostDir: string, credentialSecret: string): Promise<void> {
    const flowsFile = path.join(hostDir, 'flows.json');
    try {
      await fs.access(flowsFile);
      return;
    } catch {
      /* first start: seed below */
    }
    const template = await this.templates.get(row.template_id).catch(() => null);
    const { flows, credentials } = splitInlineCredentials(template?.flows ?? []);
    if (Object.keys(credentials).length) {
      await fs.writeFile(path.join(hostDir, 'flows_cred.json'), JSON.stringify(encryptCredentials(credentials, credentialSecret)));
    }
    await fs.writeFile(flowsFile, JSON.stringify(flows, null, 2));
  }

  private async onDriverEvent(e: DriverEvent): Promise<void> {
    try {
      if (e.type === 'crashed') {
        const row = await this.repo.transition(e.instanceId, ['running'], 'starting', { error_message: truncate(e.message) });
        if (row) {
          this.changed(row);
          await this.audit.record({ actor: null, ip: null }, 'instance.crash', { type: 'instance', id: e.instanceId, label: row.subdomain, projectId: row.project_id, details: { restartInMs: e.restartInMs } }, 'failure', 'crashed');
        }
      } else if (e.type === 'restarted') {
        const row = await this.repo.transition(e.instanceId, ['starting', 'running'], 'running', { runtime_host: e.runtime.host, runtime_port: e.runtime.port, started_at: e.runtime.startedAt, error_message: null });
        if (row) {
          await this.repo.incrementRestarts(e.instanceId);
          this.changed((await this.repo.get(e.instanceId)) ?? row);
        }
        this.log.info({ instanceId: e.instanceId, reason: e.reason }, 'instance restarted by its driver');
      } else if (e.type === 'failed') {
        const row = await this.repo.transition(e.instanceId, ['starting', 'running'], 'error', { error_message: truncate(e.message) });
        if (row) this.changed(row);
      } else if (e.type === 'memory-exceeded') {
        this.log.warn({ instanceId: e.instanceId, rssBytes: e.rssBytes, limitBytes: e.limitBytes }, 'instance over its memory limit; restarting');
      }
    } catch (err) {
      this.log.error({ err, event: e.type }, 'failed to record a driver event');
    }
  }

  private changed(row: InstanceRow): void {
    const dto = this.toDto(row);
    for (const l of this.changeListeners) l(dto);
    this.notifyRoutes();
  }

  private notifyRoutes(): void {
    for (const l of this.routeListeners) l();
  }
}

function truncate(message: string): string {
  return message.length > MAX_ERROR_CHARS ? `${message.slice(0, MAX_ERROR_CHARS)}…` : message;
}

/** Memory and CPU must stay within the bounds of the instance's template, at create and on every change. */
function checkLimits(template: Template, limits: { memoryMb?: number; cpu?: number }): void {
  const { memoryMb, cpu } = limits;
  if (memoryMb !== undefined && (memoryMb < template.memory.min || memoryMb > template.memory.max)) {
    throw badRequest('limit_out_of_bounds', `memoryMb must be between ${template.memory.min} and ${template.memory.max} for template ${template.id}`, { field: 'memoryMb' });
  }
  if (cpu !== undefined && (cpu < template.cpu.min || cpu > template.cpu.max)) {
    throw badRequest('limit_out_of_bounds', `cpu must be between ${template.cpu.min} and ${template.cpu.max} for template ${template.id}`, { field: 'cpu' });
  }
}

export function validateEnv(env: Record<string, string>): Record<string, string> {
  const keys = Object.keys(env);
  if (keys.length > MAX_ENV_KEYS) throw badRequest('invalid_env', `At most ${MAX_ENV_KEYS} environment variables`, { field: 'env' });
  for (const k of keys) {
    if (!ENV_KEY.test(k)) throw badRequest('invalid_env', `env key "${k}" must be letters, digits and _ and not start with a digit`, { field: 'env' });
    if (RESERVED_ENV.test(k)) throw badRequest('invalid_env', `env key "${k}" is reserved by the platform`, { field: 'env' });
  }
  return env;
}
