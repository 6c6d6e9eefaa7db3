import type { FastifyBaseLogger } from 'fastify';
import { LOCKS, type Db, type Queryable } from '../db/db.js';
import type { Clock } from '../platform/clock.js';
import type { BackupRepository } from './backup.repository.js';
import { DEFAULT_BACKUP_CRON, latestSlot, type BackupService } from './backup.service.js';

export interface BackupSchedulerOptions {
  /** How often due schedules are looked for; a backup runs within this much of its cron time. */
  intervalMs: number;
}

/**
 * Runs scheduled backups. Time comes from the injected clock, so tests move it instead of waiting for the night.
 * Several manager replicas may run this: each tick holds a Postgres advisory lock (one replica scans at a time), and
 * each due slot is claimed by a compare-and-set on the instance row, so a slot is backed up once even if two replicas
 * tick back to back. Missed slots (the manager was down) are caught up with a single backup.
 */
export class BackupScheduler {
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<number> | null = null;

  constructor(
    private readonly db: Db,
    private readonly repo: BackupRepository,
    private readonly backups: BackupService,
    private readonly clock: Clock,
    private readonly options: BackupSchedulerOptions,
    private readonly log: FastifyBaseLogger,
  ) {}

  start(): void {
    if (this.timer) return;
    void this.backups.recoverInterrupted().catch((err: unknown) => this.log.error({ err }, 'restore recovery failed'));
    this.timer = setInterval(() => void this.tick().catch((err: unknown) => this.log.error({ err }, 'backup schedule tick failed')), this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.current?.catch(() => undefined);
  }

  /** Backs up every instance whose schedule came due; returns how many backups this replica ran. */
  tick(): Promise<number> {
    this.current ??= this.db
      .tryWithLock(LOCKS.backupSchedule, (conn) => this.runDue(conn))
      .then((n) => n ?? 0)
      .finally(() => {
        this.current = null;
      });
    return this.current;
  }

  private async runDue(conn: Queryable): Promise<number> {
    const now = this.clock.now();
    let ran = 0;
    for (const s of await this.repo.schedules()) {
      if (!s.backup_enabled) continue;
      let slot: Date | null;
      try {
        slot = latestSlot(s.backup_schedule ?? DEFAULT_BACKUP_CRON, now);
      } catch (err) {
        this.log.warn({ instanceId: s.id, err: (err as Error).message }, 'unreadable backup schedule');
        continue;
      }
      const since = s.backup_last_slot ?? s.created_at;
      if (!slot || slot.getTime() <= since.getTime()) continue;
      if (!(await this.repo.claimSlot(conn, s.id, s.backup_last_slot, slot))) continue;
      try {
        await this.backups.runScheduled(s);
        ran += 1;
      } catch (err) {
        this.log.warn({ instanceId: s.id, err: (err as Error).message }, 'scheduled backup failed');
      }
    }
    return ran;
  }
}
