import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { AuditService } from '../audit/audit.service.js';
import { readStableFiles } from '../backups/stable-read.js';
import { AppError, badRequest, conflict, notFound } from '../errors.js';
import { requireActor, type Actor, type RequestContext } from '../identity/actor.js';
import type { ProjectService } from '../identity/project.service.js';
import type { InstanceRepository, InstanceRow } from '../instances/instance.repository.js';
import type { Instance, InstanceService } from '../instances/instance.service.js';
import type { CredentialMap } from '../nodered/credentials.js';
import type { Clock } from '../platform/clock.js';
import { safeEqual, type SecretBox } from '../platform/crypto.js';
import { countNodes, diffFlows, type FlowDiff, type FlowNode } from './flow-diff.js';
import { isInstallableModule, ModuleInstallError, type ModuleInstaller } from './module-installer.js';
import type { RuntimeAdmin } from './runtime-admin.client.js';
import type { SnapshotRepository, SnapshotRow, SnapshotSummaryRow } from './snapshot.repository.js';
import { CREDENTIALS_FILE, CredentialsUnreadableError, FLOWS_FILE, missingModules, readFlowFiles, readInstalledModules, writeFileAtomic, writeFlowFiles, type FlowFiles } from './userdir-flows.js';

export interface Snapshot {
  id: string;
  projectId: string;
  sourceInstanceId: string | null;
  name: string;
  description: string;
  /** A user (id set) or, for snapshots taken in the editor, the instance whose editor took it (id null). */
  author: { id: string | null; name: string } | null;
  nodeCount: number;
  modules: Record<string, string>;
  env: Record<string, string>;
  settings: Record<string, unknown>;
  createdAt: string;
}

export interface SnapshotDetail extends Snapshot {
  flows: FlowNode[];
  /** Ids of the nodes that carry credentials; the values never leave the manager. */
  credentialNodeIds: string[];
}

export interface SnapshotInput {
  name?: string;
  description?: string;
}

export interface ApplyResult {
  snapshotId: string;
  instance: Instance;
  /** How the runtime picked the flows up: a reload, a restart (modules were installed), or not at all (not running). */
  mode: 'reloaded' | 'restarted' | 'written';
  installedModules: string[];
}

export interface SnapshotDiff extends FlowDiff {
  snapshotId: string;
  against: string;
}

interface Author {
  id: string | null;
  label: string | null;
}

/**
 * Snapshots carry flows between instances and projects. Credentials are read from flows_cred.json with the source's
 * credentialSecret and kept sealed under a manager key; applying re-encrypts them for the target, writes both files
 * and has the runtime reload them from storage, never through a deploy body (see RuntimeAdmin).
 */
export class SnapshotService {
  constructor(
    private readonly repo: SnapshotRepository,
    private readonly instances: InstanceService,
    private readonly instanceRepo: InstanceRepository,
    private readonly projects: ProjectService,
    private readonly audit: AuditService,
    private readonly box: SecretBox,
    private readonly runtime: RuntimeAdmin,
    private readonly installer: ModuleInstaller,
    private readonly clock: Clock,
    private readonly log: FastifyBaseLogger,
  ) {}

  async create(ctx: RequestContext, instanceId: string, input: SnapshotInput): Promise<Snapshot> {
    const actor = requireActor(ctx);
    return this.audit.run(
      ctx,
      'snapshot.create',
      { type: 'snapshot', label: input.name ?? null, details: { instanceId } },
      async () => {
        const row = await this.instances.access(actor, instanceId, 'member');
        return this.instances.withInstanceLock(row.id, () => this.capture(row, input, { id: actor.userId, label: null }));
      },
      (s) => ({ id: s.id, label: s.name, projectId: s.projectId, details: { instanceId, nodeCount: s.nodeCount } }),
    );
  }

  async list(ctx: RequestContext, instanceId: string, page: { limit?: number; offset?: number }): Promise<{ items: Snapshot[]; total: number }> {
    const row = await this.instances.access(requireActor(ctx), instanceId, 'member');
    return this.listOf(row, page.limit ?? 50, page.offset ?? 0);
  }

  async get(ctx: RequestContext, snapshotId: string): Promise<SnapshotDetail> {
    const snap = await this.load(requireActor(ctx), snapshotId);
    return { ...this.toDto(snap), flows: snap.flows, credentialNodeIds: Object.keys(this.openCredentials(snap)).sort() };
  }

  async apply(ctx: RequestContext, snapshotId: string, instanceId: string): Promise<ApplyResult> {
    const actor = requireActor(ctx);
    return this.audit.run(
      ctx,
      'snapshot.apply',
      { type: 'snapshot', id: snapshotId, details: { instanceId } },
      async () => {
        const snap = await this.load(actor, snapshotId);
        const target = await this.instances.access(actor, instanceId, 'member');
        return this.instances.withInstanceLock(target.id, () => this.applyLocked(snap, target.id));
      },
      (r) => ({ label: r.instance.subdomain, projectId: r.instance.projectId, details: { instanceId, mode: r.mode, installedModules: r.installedModules } }),
    );
  }

  async diff(ctx: RequestContext, snapshotId: string, against: string, instanceId?: string): Promise<SnapshotDiff> {
    const actor = requireActor(ctx);
    const snap = await this.load(actor, snapshotId);
    let base: FlowFiles;
    if (against === 'current') {
      const id = instanceId ?? snap.source_instance_id;
      if (!id) throw badRequest('no_instance', 'The source instance of this snapshot is gone; name an instance to compare with', { field: 'instanceId' });
      const row = await this.instances.access(actor, id, 'member');
      base = await this.readCurrent(row);
    } else {
      const other = await this.load(actor, against);
      base = { flows: other.flows, credentials: this.openCredentials(other) };
    }
    return { snapshotId, against, ...diffFlows(base.flows, snap.flows, base.credentials, this.openCredentials(snap)) };
  }

  async delete(ctx: RequestContext, snapshotId: string): Promise<void> {
    const actor = requireActor(ctx);
    await this.audit.run(ctx, 'snapshot.delete', { type: 'snapshot', id: snapshotId }, async () => {
      const snap = await this.load(actor, snapshotId);
      await this.repo.delete(snap.id);
      return snap;
    }, (s) => ({ label: s.name, projectId: s.project_id }));
  }

  /** For calls an instance makes about itself (the editor plugin): the instance proves itself with its own secret. */
  async authenticateInstance(instanceId: string, bearer: string): Promise<InstanceRow> {
    const row = /^[0-9a-f-]{36}$/i.test(instanceId) ? await this.instanceRepo.get(instanceId) : null;
    if (!row || bearer === '' || !safeEqual(bearer, this.instances.openSecrets(row).instanceSecret)) {
      throw new AppError(401, 'invalid_instance_secret', 'The instance could not be authenticated');
    }
    return row;
  }

  /** The audit context of an instance acting on itself: the instance is the actor. */
  instanceContext(row: InstanceRow, ip: string | null): RequestContext {
    const actor: Actor = { userId: row.id, email: `instance:${row.subdomain}`, name: row.subdomain, isAdmin: false, via: 'token', sessionId: null };
    return { actor, ip };
  }

  listForInstance(row: InstanceRow, limit: number): Promise<{ items: Snapshot[]; total: number }> {
    return this.listOf(row, limit, 0);
  }

  async createForInstance(ctx: RequestContext, row: InstanceRow, input: SnapshotInput): Promise<Snapshot> {
    return this.audit.run(
      ctx,
      'snapshot.create',
      { type: 'snapshot', label: input.name ?? null, projectId: row.project_id, details: { instanceId: row.id, via: 'editor' } },
      () => this.instances.withInstanceLock(row.id, () => this.capture(row, input, { id: null, label: `editor of ${row.subdomain}` })),
      (s) => ({ id: s.id, label: s.name, details: { instanceId: row.id, via: 'editor', nodeCount: s.nodeCount } }),
    );
  }

  /** Rolls an instance back to one of its own snapshots. */
  async rollbackInstance(ctx: RequestContext, row: InstanceRow, snapshotId: string): Promise<ApplyResult> {
    return this.audit.run(
      ctx,
      'snapshot.apply',
      { type: 'snapshot', id: snapshotId, label: row.subdomain, projectId: row.project_id, details: { instanceId: row.id, via: 'editor' } },
      async () => {
        const snap = /^[0-9a-f-]{36}$/i.test(snapshotId) ? await this.repo.get(snapshotId) : null;
        if (!snap || snap.source_instance_id !== row.id) throw notFound('Snapshot');
        return this.instances.withInstanceLock(row.id, () => this.applyLocked(snap, row.id));
      },
      (r) => ({ details: { instanceId: row.id, via: 'editor', mode: r.mode, installedModules: r.installedModules } }),
    );
  }

  private async listOf(row: InstanceRow, limit: number, offset: number): Promise<{ items: Snapshot[]; total: number }> {
    const [rows, total] = await Promise.all([this.repo.listBySource(row.id, limit, offset), this.repo.countBySource(row.id)]);
    return { items: rows.map((r) => this.toDto(r)), total };
  }

  private async capture(row: InstanceRow, input: SnapshotInput, author: Author): Promise<Snapshot> {
    const files = await this.readCurrent(row);
    const modules = await readInstalledModules(this.instances.userDirOf(row.id));
    const id = crypto.randomUUID();
    await this.repo.insert({
      id,
      projectId: row.project_id,
      sourceInstanceId: row.id,
      name: input.name?.trim() || `${row.subdomain} ${this.clock.now().toISOString().slice(0, 19).replace('T', ' ')}`,
      description: input.description ?? '',
      authorId: author.id,
      authorLabel: author.label,
      flows: files.flows,
      credentialsEnc: Object.keys(files.credentials).length ? this.box.seal(JSON.stringify(files.credentials)) : null,
      env: row.env,
      settings: row.settings,
      modules,
      nodeCount: countNodes(files.flows),
    });
    return this.toDto((await this.repo.getSummary(id))!);
  }

  private async readCurrent(row: InstanceRow): Promise<FlowFiles> {
    try {
      return await readFlowFiles(this.instances.userDirOf(row.id), this.instances.openSecrets(row).credentialSecret);
    } catch (err) {
      if (err instanceof CredentialsUnreadableError) throw conflict('credentials_unreadable', err.message);
      throw err;
    }
  }

  /** Runs under the target's instance lock, so no start, stop, restore or other apply interleaves. */
  private async applyLocked(snap: SnapshotRow, targetId: string): Promise<ApplyResult> {
    const row = await this.instanceRepo.get(targetId);
    if (!row) throw notFound('Instance');
    if (row.state === 'starting' || row.state === 'stopping') throw conflict('instance_busy', `The instance is ${row.state}; try again when it has settled`);
    const secrets = this.instances.openSecrets(row);
    const userDir = this.instances.userDirOf(row.id);
    const files: FlowFiles = { flows: snap.flows, credentials: this.openCredentials(snap) };

    const missing = await missingModules(userDir, snap.modules);
    const installed = Object.keys(missing);
    const refused = Object.entries(missing).filter(([name, version]) => !isInstallableModule(name, version));
    if (refused.length) {
      throw conflict('module_not_installable', `The snapshot needs ${refused.map(([n, v]) => `${n}@${v}`).join(', ')}, which cannot be installed from the registry; nothing was changed`);
    }
    if (installed.length) {
      try {
        await this.installer.install(userDir, missing);
      } catch (err) {
        if (!(err instanceof ModuleInstallError)) throw err;
        this.log.warn({ instanceId: row.id, modules: installed, output: err.output }, 'module install for a snapshot failed');
        throw new AppError(409, 'module_install_failed', `Installing ${installed.join(', ')} failed (${err.message}); nothing was changed`, { modules: installed });
      }
    }

    let mode: ApplyResult['mode'] = 'written';
    if (row.state === 'running' && row.runtime_host && row.runtime_port !== null) {
      if (installed.length) {
        // A running Node-RED loads node modules only at start.
        const wasRunning = await this.instances.stopForMaintenance(row.id);
        try {
          await writeFlowFiles(userDir, files, secrets.credentialSecret);
        } finally {
          if (wasRunning) await this.instances.startAfterMaintenance(row.id);
        }
        mode = 'restarted';
      } else {
        await this.writeAndReload(userDir, files, secrets.credentialSecret, { host: row.runtime_host, port: row.runtime_port, magicToken: secrets.magicToken });
        mode = 'reloaded';
      }
    } else {
      await writeFlowFiles(userDir, files, secrets.credentialSecret);
    }
    return { snapshotId: snap.id, instance: this.instances.toDto((await this.instanceRepo.get(row.id))!), mode, installedModules: installed };
  }

  /** If the runtime refuses the reload, the previous files go back so disk and runtime keep agreeing. */
  private async writeAndReload(userDir: string, files: FlowFiles, credentialSecret: string, target: { host: string; port: number; magicToken: string }): Promise<void> {
    const previous = await readStableFiles(userDir, [FLOWS_FILE, CREDENTIALS_FILE]);
    await writeFlowFiles(userDir, files, credentialSecret);
    try {
      await this.runtime.reloadFlows(target);
    } catch (err) {
      for (const name of [CREDENTIALS_FILE, FLOWS_FILE]) {
        const old = previous.get(name);
        if (old) await writeFileAtomic(path.join(userDir, name), old.data);
        else await fs.rm(path.join(userDir, name), { force: true });
      }
      await this.runtime.reloadFlows(target).catch(() => undefined);
      this.log.warn({ err: (err as Error).message }, 'runtime reload after a snapshot apply failed');
      throw new AppError(502, 'reload_failed', 'The instance did not accept the new flows; its previous flows were put back');
    }
  }

  private async load(actor: Actor, snapshotId: string): Promise<SnapshotRow> {
    const snap = /^[0-9a-f-]{36}$/i.test(snapshotId) ? await this.repo.get(snapshotId) : null;
    if (!snap) throw notFound('Snapshot');
    try {
      await this.projects.access(actor, snap.project_id, 'member');
    } catch (err) {
      if (err instanceof AppError && err.status === 404) throw notFound('Snapshot');
      throw err;
    }
    return snap;
  }

  private openCredentials(snap: SnapshotRow): CredentialMap {
    return snap.credentials_enc ? (JSON.parse(this.box.open(snap.credentials_enc)) as CredentialMap) : {};
  }

  private toDto(r: SnapshotSummaryRow): Snapshot {
    return {
      id: r.id,
      projectId: r.project_id,
      sourceInstanceId: r.source_instance_id,
      name: r.name,
      description: r.description,
      author: r.author_id ? { id: r.author_id, name: r.author_name ?? '' } : r.author_label ? { id: null, name: r.author_label } : null,
      nodeCount: r.node_count,
      modules: r.modules,
      env: r.env,
      settings: r.settings,
      createdAt: r.created_at.toISOString(),
    };
  }
}
