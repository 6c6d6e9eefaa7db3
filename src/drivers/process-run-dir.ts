import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcessHost } from './process-host.js';

/** What a manager leaves behind about a Node-RED it started, so the next manager can adopt or kill it. */
export interface RunRecord {
  instanceId: string;
  pid: number;
  /** /proc/<pid>/stat field 22: a recycled pid has another start time, so it is never mistaken for ours. */
  startTicks: string;
  port: number;
  startedAt: string;
  userDir: string;
  /** Hash of what the process was started with; a process started from another spec is restarted, not adopted. */
  specHash: string;
  restarts: number;
}

export interface RunPaths {
  record: string;
  stdout: string;
  stderr: string;
}

function isRunRecord(value: unknown): value is RunRecord {
  const r = value as Partial<RunRecord> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.instanceId === 'string' &&
    Number.isInteger(r.pid) &&
    typeof r.startTicks === 'string' &&
    Number.isInteger(r.port) &&
    typeof r.startedAt === 'string' &&
    typeof r.userDir === 'string' &&
    typeof r.specHash === 'string' &&
    Number.isInteger(r.restarts)
  );
}

const RECORD_SUFFIX = '.json';

/** `<runDir>/<instanceId>.json` plus the instance's stdout/stderr files. */
export class RunDirectory {
  constructor(
    readonly dir: string,
    private readonly host: ProcessHost,
  ) {}

  paths(instanceId: string): RunPaths {
    return {
      record: join(this.dir, `${instanceId}${RECORD_SUFFIX}`),
      stdout: join(this.dir, `${instanceId}.stdout.log`),
      stderr: join(this.dir, `${instanceId}.stderr.log`),
    };
  }

  write(record: RunRecord): void {
    this.host.writePrivateFile(this.paths(record.instanceId).record, `${JSON.stringify(record, null, 2)}\n`);
  }

  read(instanceId: string): RunRecord | null {
    try {
      const parsed: unknown = JSON.parse(readFileSync(this.paths(instanceId).record, 'utf8'));
      return isRunRecord(parsed) && parsed.instanceId === instanceId ? parsed : null;
    } catch {
      return null;
    }
  }

  /** Every readable record; unreadable ones are deleted, since nothing can be verified from them. */
  list(): RunRecord[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const records: RunRecord[] = [];
    for (const name of names) {
      if (!name.endsWith(RECORD_SUFFIX)) continue;
      const instanceId = name.slice(0, -RECORD_SUFFIX.length);
      const record = this.read(instanceId);
      if (record) records.push(record);
      else rmSync(join(this.dir, name), { force: true });
    }
    return records;
  }

  removeRecord(instanceId: string): void {
    rmSync(this.paths(instanceId).record, { force: true });
  }

  removeAll(instanceId: string): void {
    const paths = this.paths(instanceId);
    for (const path of [paths.record, paths.stdout, paths.stderr]) rmSync(path, { force: true });
  }
}
