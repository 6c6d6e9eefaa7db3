import { spawn } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnRequest {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  stdoutPath: string;
  stderrPath: string;
}

export interface SpawnedProcess {
  pid: number;
  exited: Promise<ProcessExit>;
}

/** What the process driver needs from the operating system: spawning, /proc inspection, signals, private files. */
export interface ProcessHost {
  /** Starts a process leading its own process group, with stdout/stderr appended to the given files. */
  spawn(request: SpawnRequest): SpawnedProcess;
  /** Field 22 of /proc/<pid>/stat (start time in clock ticks): with the pid, it names one process for good. */
  startTicks(pid: number): string | null;
  processGroup(pid: number): number | null;
  cwd(pid: number): string | null;
  cmdline(pid: number): string[] | null;
  rssBytes(pid: number): number | null;
  listPids(): number[];
  /** True when the process holds the socket listening on this TCP port. */
  ownsListeningSocket(pid: number, port: number): boolean;
  signalGroup(pgid: number, signal: NodeJS.Signals): void;
  signal(pid: number, signal: NodeJS.Signals): void;
  /** Writes atomically with mode 0600, creating the parent directory. */
  writePrivateFile(path: string, text: string): void;
  /** The path with symlinks resolved, as /proc/<pid>/cwd shows it; the absolute path when it does not exist. */
  realPath(path: string): string;
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function ignoreMissing(action: () => void): void {
  try {
    action();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

const LISTEN_STATE = '0A';

export class LinuxProcessHost implements ProcessHost {
  spawn(request: SpawnRequest): SpawnedProcess {
    // O_APPEND lets the driver truncate a log file under a running writer; the writer carries on at the new end.
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_APPEND;
    const out = openSync(request.stdoutPath, flags, 0o600);
    const err = openSync(request.stderrPath, flags, 0o600);
    try {
      // Detached: the child leads its own process group (one signal reaches its subprocesses too) and outlives a
      // manager that dies, so the next manager can adopt it. Output goes to files for the same reason: a pipe would
      // break with the manager.
      const child = spawn(request.command, request.args, {
        cwd: request.cwd,
        env: request.env,
        stdio: ['ignore', out, err],
        detached: true,
      });
      const exited = new Promise<ProcessExit>((resolve) => {
        child.once('exit', (code, signal) => resolve({ code, signal }));
        child.once('error', () => resolve({ code: null, signal: null }));
      });
      child.unref();
      if (child.pid === undefined) throw new Error(`could not spawn ${request.command} in ${request.cwd}`);
      return { pid: child.pid, exited };
    } finally {
      closeSync(out);
      closeSync(err);
    }
  }

  private statFields(pid: number): string[] | null {
    const text = readOrNull(`/proc/${pid}/stat`);
    if (text === null) return null;
    // Field 2 is the command name in parentheses and may itself hold spaces or parentheses.
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  }

  startTicks(pid: number): string | null {
    const fields = this.statFields(pid);
    if (!fields || fields[0] === 'Z' || fields[0] === 'X') return null;
    return fields[19] ?? null;
  }

  processGroup(pid: number): number | null {
    const group = this.statFields(pid)?.[2];
    return group === undefined ? null : Number(group);
  }

  cwd(pid: number): string | null {
    try {
      return readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      return null;
    }
  }

  cmdline(pid: number): string[] | null {
    const text = readOrNull(`/proc/${pid}/cmdline`);
    return text === null ? null : text.split('\0').filter((part) => part !== '');
  }

  rssBytes(pid: number): number | null {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readOrNull(`/proc/${pid}/status`) ?? '');
    return match?.[1] === undefined ? null : Number(match[1]) * 1024;
  }

  listPids(): number[] {
    return readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .map(Number);
  }

  ownsListeningSocket(pid: number, port: number): boolean {
    const inodes = new Set<string>();
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      for (const row of (readOrNull(table) ?? '').split('\n').slice(1)) {
        const cols = row.trim().split(/\s+/);
        const local = cols[1];
        if (local === undefined || cols[3] !== LISTEN_STATE || cols[9] === undefined) continue;
        if (Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) inodes.add(cols[9]);
      }
    }
    if (inodes.size === 0) return false;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      return false;
    }
    return fds.some((fd) => {
      try {
        const target = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        return target?.[1] !== undefined && inodes.has(target[1]);
      } catch {
        return false;
      }
    });
  }

  signalGroup(pgid: number, signal: NodeJS.Signals): void {
    ignoreMissing(() => process.kill(-pgid, signal));
  }

  signal(pid: number, signal: NodeJS.Signals): void {
    ignoreMissing(() => process.kill(pid, signal));
  }

  writePrivateFile(path: string, text: string): void {
    mkdirSync(dirname(path), { recursive: true });
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, text, { mode: 0o600 });
    renameSync(temporary, path);
  }

  realPath(path: string): string {
    try {
      return realpathSync(path);
    } catch {
      return resolve(path);
    }
  }
}
