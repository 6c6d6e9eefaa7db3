import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Cron } from 'croner';
import type { FastifyBaseLogger } from 'fastify';
import type { AuditService } from '../audit/audit.service.js';
import { AppError, badRequest, conflict, notFound } from '../errors.js';
import { requireActor, type Actor, type RequestContext } from '../identity/actor.js';
import type { InstanceService } from '../instances/instance.service.js';
import type { Clock } from '../platform/clock.js';
import { ArchiveRefusedError, extractArchive } from './archive-extractor.js';
import { estimateTarBytes, writeArchive } from './archive-writer.js';
import type { BackupRepository, BackupRow, BackupStatus, ScheduleRow } from './backup.repository.js';
import { readStableFiles } from './stable-read.js';

export interface Progress {
  bytes: number;
  totalBytes: number | null;
  percent: number | null;
}

export interface Backup {
  id: string;
  instanceId: string;
  projectId: string;
  kind: 'manual' | 'scheduled';
  status: BackupStatus;
  sizeBytes: number | null;
  sha256: string | null;
  errorMessage: string | null;
  createdAt: string;
  completedAt: string | null;
  progress: Progress;
  restore: (Progress & { status: BackupStatus; error: string | null; restoredAt: string | null }) | null;
}

export interface BackupSchedule {
  cron: string;
  /** Cron expressions are read in UTC. */
  timezone: 'UTC';
  enabled: boolean;
  retention: number;
  nextRunAt: string | null;
}

export interface BackupLimits {
  /** Hard cap on what one archive may expand to. */
  maxExpandedBytes: number;
  /** Expansion allowed relative to the archive's size (a gzip bomb expands a thousandfold)... */
  expansionRatio: number;
  /** ...but never less than this, since tiny archives of tar padding legitimately expand far. */
  minExpandedBytes: number;
}

export interface BackupServiceOptions {
  dataPath: string;
  limits?: Partial<BackupLimits>;
  /** How often progress is written to the database during a long operation. */
  progressIntervalMs?: number;
}

export const DEFAULT_BACKUP_CRON = '0 3 * * *';
export const MAX_RETENTION = 365;
const DEFAULT_LIMITS: BackupLimits = { maxExpandedBytes: 2 * 1024 ** 3, expansionRatio: 50, minExpandedBytes: 64 * 1024 ** 2 };
const CAPTURE_MAX_FILE_BYTES = 16 * 1024 * 1024;
const MIN_SCHEDULE_GAP_MS = 5 * 60_000;
const STALE_STAGING_MS = 6 * 3600_000;
const RESTORE_PREFIX = '.restore-';
const OLD_PREFIX = '.restore-old-';

/**
 * What a backup leaves out: npm's download cache (HOME is the userDir; it is rebuilt on demand and can dwarf the
 * data), Node-RED's half-written save files (`*.$$$`, renamed into place when complete) and our own `*.tmp` twins.
 */
export function excludedFromBackup(rel: string): boolean {
  return rel === '.npm' || rel.startsWith('.npm/') || rel.endsWith('.$$$') || /\.[0-9a-f]{12}\.tmp$/.test(rel);
}

/** Writes progress at most every interval and never two writes at once; the last value is flushed at the end. */
class ProgressWriter {
  private latest: number | null = null;
  private lastWrite = 0;
  private inFlight: Promise<void> | null = null;

  constructor(
    private readonly write: (bytes: number) => Promise<void>,
    private readonly clock: Clock,
    private readonly intervalMs: number,
  ) {}

  report(bytes: number): void {
    this.latest = bytes;
    const now = this.clock.now().getTime();
    if (this.inFlight || now - this.lastWrite < this.intervalMs) return;
    this.lastWrite = now;
    this.inFlight = this.flushLatest().finally(() => {
      this.inFlight = null;
    });
  }

  async flush(): Promise<void> {
    await this.inFlight;
    await this.flushLatest();
  }

  private async flushLatest(): Promise<void> {
    const v = this.latest;
    this.latest = null;
    if (v !== null) await this.write(v).catch(() => undefined);
  }
}

function percentOf(bytes: number, total: number | null): number | null {
  if (!total) return null;
  return Math.min(100, Math.floor((bytes * 100) / total));
}

function cronOf(expr: string): Cron {
  return new Cron(expr, { timezone: 'UTC', paused: true });
}

/** The newest time the schedule was due at or before `now`, or null if never. */
export function latestSlot(expr: string, now: Date): Date | null {
  return cronOf(expr).previousRuns(1, new Date(now.getTime() + 1))[0] ?? null;
}

/**
 * Backups are disaster recovery for a whole userDir: a streamed tar.gz under data/backups/<instanceId>/, with size and
 * sha256 recorded. Restores extract into a staging directory beside the live one and swap it in by rename.
 */
export class BackupService {
  private readonly limits: BackupLimits;
  private readonly progressIntervalMs: number;

  constructor(
    private readonly repo: BackupRepository,
    private readonly instances: InstanceService,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly options: BackupServiceOptions,
    private readonly log: FastifyBaseLogger,
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.progressIntervalMs = options.progressIntervalMs ?? 500;
  }

  async create(ctx: RequestContext, instanceId: string, opts: { wait?: boolean } = {}): Promise<Backup> {
    const actor = requireActor(ctx);
    return this.startJob(opts.wait ?? false, (started) =>
      this.audit.run(
        ctx,
        'backup.create',
        { type: 'backup', details: { instanceId, kind: 'manual' } },
        async () => {
          const row = await this.instances.access(actor, instanceId, 'member');
          return this.backup(row.id, row.project_id, 'manual', actor.userId, started);
        },
        (b) => ({ id: b.id, projectId: b.projectId, details: { instanceId, kind: 'manual', sizeBytes: b.sizeBytes } }),
      ),
    );
  }

  async list(ctx: RequestContext, instanceId: string): Promise<{ items: Backup[] }> {
    const row = await this.instances.access(requireActor(ctx), instanceId, 'member');
    return { items: (await this.repo.listByInstance(row.id)).map((b) => this.toDto(b)) };
  }

  async get(ctx: RequestContext, backupId: string): Promise<Backup> {
    return this.toDto(await this.load(requireActor(ctx), backupId));
  }

  async download(ctx: RequestContext, backupId: string): Promise<{ stream: Readable; sizeBytes: number; fileName: string }> {
    const actor = requireActor(ctx);
    const b = await this.load(actor, backupId);
    if (b.status !== 'complete') throw conflict('backup_not_complete', `The backup is ${b.status}`);
    const instance = await this.instances.access(actor, b.instance_id, 'member');
    const file = this.fileOf(b);
    const size = (await fs.promises.stat(file).catch(() => null))?.size;
    if (size === undefined) throw conflict('backup_file_missing', 'The backup file is gone from the data directory');
    const stamp = b.created_at.toISOString().replace(/[-:]/g, '').replace(/\..*$/, 'Z');
    return { stream: fs.createReadStream(file), sizeBytes: size, fileName: `${instance.subdomain}-${stamp}.tar.gz` };
  }

  async delete(ctx: RequestContext, backupId: string): Promise<void> {
    const actor = requireActor(ctx);
    await this.audit.run(
      ctx,
      'backup.delete',
      { type: 'backup', id: backupId },
      async () => {
        const b = await this.load(actor, backupId);
        if (b.status === 'running') throw conflict('backup_running', 'The backup is still being written');
        if (b.restore_status === 'running') throw conflict('restore_running', 'The backup is being restored');
        await this.remove(b);
        return b;
      },
      (b) => ({ projectId: b.project_id, details: { instanceId: b.instance_id } }),
    );
  }

  async restore(ctx: RequestContext, backupId: string, opts: { wait?: boolean } = {}): Promise<Backup> {
    const actor = requireActor(ctx);
    return this.startJob(opts.wait ?? false, (started) =>
      this.audit.run(
        ctx,
        'backup.restore',
        { type: 'backup', id: backupId },
        async () => {
          const b = await this.load(actor, backupId);
          if (b.status !== 'complete') throw conflict('backup_not_complete', `The backup is ${b.status}`);
          if (!(await this.repo.startRestore(b.id))) throw conflict('restore_running', 'This backup is already being restored');
          started(this.toDto((await this.repo.get(b.id))!));
          return this.runRestore(b);
        },
        (r) => ({ projectId: r.projectId, details: { instanceId: r.instanceId } }),
      ),
    );
  }

  async getSchedule(ctx: RequestContext, instanceId: string): Promise<BackupSchedule> {
    const row = await this.instances.access(requireActor(ctx), instanceId, 'member');
    return this.scheduleDto((await this.repo.getSchedule(row.id))!);
  }

  async setSchedule(ctx: RequestContext, instanceId: string, input: { cron?: string; enabled?: boolean; retention?: number }): Promise<BackupSchedule> {
    const actor = requireActor(ctx);
    let projectId: string | null = null;
    return this.audit.run(ctx, 'backup.schedule', { type: 'instance', id: instanceId, details: { ...input } }, async () => {
      const row = await this.instances.access(actor, instanceId, 'member');
      projectId = row.project_id;
      const current = (await this.repo.getSchedule(row.id))!;
      const cron = (input.cron ?? current.backup_schedule ?? DEFAULT_BACKUP_CRON).trim();
      validateCron(cron, this.clock.now());
      const retention = input.retention ?? current.backup_retention;
      if (!Number.isInteger(retention) || retention < 1 || retention > MAX_RETENTION) throw badRequest('invalid_retention', `retention must be between 1 and ${MAX_RETENTION}`, { field: 'retention' });
      // Counting starts now: a new schedule never fires for a time that passed before it was set.
      await this.repo.setSchedule(row.id, { cron, enabled: input.enabled ?? current.backup_enabled, retention, slot: this.clock.now() });
      return this.scheduleDto((await this.repo.getSchedule(row.id))!);
    }, () => ({ projectId }));
  }

  /** Called by the scheduler once it has claimed the slot; retention then prunes the oldest scheduled backups. */
  async runScheduled(s: ScheduleRow): Promise<Backup> {
    const system: RequestContext = { actor: null, ip: null };
    const backup = await this.audit.run(
      system,
      'backup.create',
      { type: 'backup', label: s.subdomain, projectId: s.project_id, details: { instanceId: s.id, kind: 'scheduled' } },
      () => this.backup(s.id, s.project_id, 'scheduled', null, () => undefined),
      (b) => ({ id: b.id, details: { instanceId: s.id, kind: 'scheduled', sizeBytes: b.sizeBytes } }),
    );
    for (const old of await this.repo.expiredScheduled(s.id, s.backup_retention)) {
      await this.audit.run(system, 'backup.delete', { type: 'backup', id: old.id, label: s.subdomain, projectId: s.project_id, details: { instanceId: s.id, reason: 'retention' } }, () => this.remove(old));
    }
    return backup;
  }

  /**
   * After a crash mid-restore: a live directory moved aside but not replaced is moved back, and staging directories
   * nobody can still be writing are removed.
   */
  async recoverInterrupted(): Promise<void> {
    const dir = path.join(this.options.dataPath, 'instances');
    const entries = await fs.promises.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (!e.isDirectory() || !e.name.startsWith(RESTORE_PREFIX)) continue;
      const full = path.join(dir, e.name);
      if (e.name.startsWith(OLD_PREFIX)) {
        const id = e.name.slice(OLD_PREFIX.length, OLD_PREFIX.length + 36);
        const live = this.instances.userDirOf(id);
        if (!fs.existsSync(live)) {
          await fs.promises.rename(full, live);
          this.log.warn({ instanceId: id }, 'moved an instance directory back after an interrupted restore');
        } else await fs.promises.rm(full, { recursive: true, force: true });
      } else {
        const age = this.clock.now().getTime() - (await fs.promises.stat(full)).mtimeMs;
        if (age > STALE_STAGING_MS) await fs.promises.rm(full, { recursive: true, force: true });
      }
    }
  }

  /**
   * Returns as soon as the job has a row to show (its progress is then polled), or when it ends if `wait`. A job that
   * fails before it has a row (no access, say) rejects here either way.
   */
  private startJob(wait: boolean, run: (started: (b: Backup) => void) => Promise<Backup>): Promise<Backup> {
    return new Promise<Backup>((resolve, reject) => {
      let settled = false;
      const job = run((b) => {
        if (!wait && !settled) {
          settled = true;
          resolve(b);
        }
      });
      job.then(
        (b) => {
          if (!settled) resolve(b);
        },
        (err: unknown) => {
          if (!settled) reject(err);
          else this.log.warn({ err: (err as Error).message }, 'background backup job failed');
        },
      );
    });
  }

  private fileOf(b: BackupRow): string {
    return path.join(this.options.dataPath, 'backups', b.instance_id, b.file_name);
  }

  private async backup(instanceId: string, projectId: string, kind: 'manual' | 'scheduled', createdBy: string | null, started: (b: Backup) => void): Promise<Backup> {
    const id = crypto.randomUUID();
    const row = await this.repo.insert({ id, instanceId, projectId, kind, fileName: `${id}.tar.gz`, createdBy });
    started(this.toDto(row));
    const userDir = this.instances.userDirOf(instanceId);
    const dest = this.fileOf(row);
    try {
      await fs.promises.mkdir(path.dirname(dest), { recursive: true });
      await fs.promises.mkdir(userDir, { recursive: true });
      await this.repo.progress(id, { totalBytes: await estimateTarBytes(userDir, excludedFromBackup) });
      const progress = new ProgressWriter((bytes) => this.repo.progress(id, { progressBytes: bytes }), this.clock, this.progressIntervalMs);
      // Consistency with a running runtime: Node-RED saves each file by writing a temporary file and renaming it, so
      // no file is ever read half-written, and the `.$$$` temporaries are left out. What can still tear is a pair:
      // flows.json and flows_cred.json are saved one after the other. So every top-level file (flows, credentials,
      // .config.*.json, package.json; small) is first read as one stable set (readStableFiles) and packed from memory,
      // while the instance lock keeps our own snapshot applies, restores and restarts out for the whole backup.
      // Stopping flows instead would interrupt the instance; hard-link copies would not protect files written in place.
      const result = await this.instances.withInstanceLock(instanceId, async () => {
        const captured = await readStableFiles(userDir, await topLevelFiles(userDir));
        return writeArchive({ sourceDir: userDir, destFile: dest, exclude: excludedFromBackup, captured, onProgress: (b) => progress.report(b) });
      });
      await progress.flush();
      await this.repo.complete(id, { sizeBytes: result.sizeBytes, sha256: result.sha256, completedAt: this.clock.now() });
    } catch (err) {
      await this.repo.fail(id, (err as Error).message.slice(0, 1000), this.clock.now());
      throw new AppError(500, 'backup_failed', `The backup failed: ${(err as Error).message}`);
    }
    return this.toDto((await this.repo.get(id))!);
  }

  /**
   * The archive is extracted and verified while the instance keeps running: the staging directory is separate, and
   * the checksum is computed on the same single read that feeds the extraction. Only a verified, fully extracted tree
   * stops the instance, and then only for the swap. Any failure before the swap leaves the live directory untouched.
   */
  private async runRestore(b: BackupRow): Promise<Backup> {
    const userDir = this.instances.userDirOf(b.instance_id);
    const parent = path.dirname(userDir);
    await fs.promises.mkdir(parent, { recursive: true });
    const staging = await fs.promises.mkdtemp(path.join(parent, `${RESTORE_PREFIX}${b.instance_id}-`));
    try {
      const archive = this.fileOf(b);
      const size = (await fs.promises.stat(archive).catch(() => null))?.size;
      if (size === undefined) throw conflict('backup_file_missing', 'The backup file is gone from the data directory');
      if (size !== b.size_bytes) throw conflict('checksum_mismatch', 'The backup file does not have the recorded size; it is damaged');
      const cap = Math.min(this.limits.maxExpandedBytes, Math.max(this.limits.minExpandedBytes, size * this.limits.expansionRatio));
      const progress = new ProgressWriter((bytes) => this.repo.progress(b.id, { restoreProgressBytes: bytes }), this.clock, this.progressIntervalMs);
      let extracted;
      try {
        extracted = await extractArchive({ archiveFile: archive, stagingDir: staging, maxExpandedBytes: cap, onProgress: (n) => progress.report(n) });
      } catch (err) {
        if (err instanceof ArchiveRefusedError) throw new AppError(422, 'archive_refused', err.message, { reason: err.reason });
        throw conflict('archive_corrupt', `The backup file cannot be read: ${(err as Error).message}`);
      } finally {
        await progress.flush();
      }
      if (extracted.sha256 !== b.sha256) throw conflict('checksum_mismatch', 'The backup file does not match its recorded sha256; it is damaged');
      const mode = (await fs.promises.stat(userDir).catch(() => null))?.mode;
      await fs.promises.chmod(staging, mode !== undefined ? mode & 0o7777 : 0o755);
      await this.instances.withInstanceLock(b.instance_id, async () => {
        const wasRunning = await this.instances.stopForMaintenance(b.instance_id);
        try {
          await swapIn(userDir, staging, path.join(parent, `${OLD_PREFIX}${b.instance_id}-${crypto.randomBytes(4).toString('hex')}`));
        } finally {
          if (wasRunning) await this.instances.startAfterMaintenance(b.instance_id);
        }
      });
      await this.repo.finishRestore(b.id, { error: null, at: this.clock.now() });
    } catch (err) {
      await this.repo.finishRestore(b.id, { error: (err as Error).message.slice(0, 1000), at: this.clock.now() });
      throw err;
    } finally {
      await fs.promises.rm(staging, { recursive: true, force: true });
    }
    return this.toDto((await this.repo.get(b.id))!);
  }

  private async remove(b: BackupRow): Promise<void> {
    await fs.promises.rm(this.fileOf(b), { force: true });
    await this.repo.delete(b.id);
  }

  private async load(actor: Actor, backupId: string): Promise<BackupRow> {
    const b = /^[0-9a-f-]{36}$/i.test(backupId) ? await this.repo.get(backupId) : null;
    if (!b) throw notFound('Backup');
    try {
      await this.instances.access(actor, b.instance_id, 'member');
    } catch (err) {
      if (err instanceof AppError && err.status === 404) throw notFound('Backup');
      throw err;
    }
    return b;
  }

  private scheduleDto(s: ScheduleRow): BackupSchedule {
    const cron = s.backup_schedule ?? DEFAULT_BACKUP_CRON;
    const next = s.backup_enabled ? (cronOf(cron).nextRuns(1, this.clock.now())[0] ?? null) : null;
    return { cron, timezone: 'UTC', enabled: s.backup_enabled, retention: s.backup_retention, nextRunAt: next?.toISOString() ?? null };
  }

  private toDto(b: BackupRow): Backup {
    const progressBytes = b.status === 'complete' ? (b.total_bytes ?? b.progress_bytes) : b.progress_bytes;
    return {
      id: b.id,
      instanceId: b.instance_id,
      projectId: b.project_id,
      kind: b.kind,
      status: b.status,
      sizeBytes: b.size_bytes,
      sha256: b.sha256,
      errorMessage: b.error_message,
      createdAt: b.created_at.toISOString(),
      completedAt: b.completed_at?.toISOString() ?? null,
      progress: { bytes: progressBytes, totalBytes: b.total_bytes, percent: b.status === 'complete' ? 100 : percentOf(progressBytes, b.total_bytes) },
      restore: b.restore_status
        ? {
            status: b.restore_status,
            bytes: b.restore_progress_bytes,
            totalBytes: b.size_bytes,
            percent: b.restore_status === 'complete' ? 100 : percentOf(b.restore_progress_bytes, b.size_bytes),
            error: b.restore_error,
            restoredAt: b.restored_at?.toISOString() ?? null,
          }
        : null,
    };
  }
}

function validateCron(expr: string, now: Date): void {
  let runs: Date[];
  try {
    runs = cronOf(expr).nextRuns(4, now);
  } catch (err) {
    throw badRequest('invalid_cron', `"${expr}" is not a cron expression: ${(err as Error).message}`, { field: 'cron' });
  }
  if (runs.length === 0) throw badRequest('invalid_cron', `"${expr}" never fires`, { field: 'cron' });
  for (let i = 1; i < runs.length; i += 1) {
    if (runs[i]!.getTime() - runs[i - 1]!.getTime() < MIN_SCHEDULE_GAP_MS) throw badRequest('invalid_cron', 'Backups may run at most every 5 minutes', { field: 'cron' });
  }
}

async function topLevelFiles(dir: string): Promise<string[]> {
  const entries = await fs.promises.readdir(dir, { withFileTypes: true });
  const out: string[] = [];
  for (const e of entries) {
    if (!e.isFile() || excludedFromBackup(e.name)) continue;
    const size = (await fs.promises.stat(path.join(dir, e.name)).catch(() => null))?.size;
    if (size !== undefined && size <= CAPTURE_MAX_FILE_BYTES) out.push(e.name);
  }
  return out.sort();
}

/**
 * Two renames, with the live directory moved aside first and moved back if the second fails. A crash between the two
 * leaves only the moved-aside directory, which recoverInterrupted() puts back.
 */
async function swapIn(live: string, staging: string, aside: string): Promise<void> {
  let moved = false;
  try {
    await fs.promises.rename(live, aside);
    moved = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  try {
    await fs.promises.rename(staging, live);
  } catch (err) {
    if (moved) await fs.promises.rename(aside, live);
    throw err;
  }
  if (moved) await fs.promises.rm(aside, { recursive: true, force: true });
}
