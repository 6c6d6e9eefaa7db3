import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';

/** Installs palette modules into an instance's userDir before its flows start. */
export interface ModuleInstaller {
  /** Resolves once every module is installed; rejects with npm's last output lines otherwise. */
  install(userDir: string, modules: Record<string, string>): Promise<void>;
}

const NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;
const SPEC = /^[A-Za-z0-9^~<>=*.+\-| ]{1,100}$/;
const OUTPUT_LINES = 20;

/** An npm package name: nothing a path join or an argument parser could misread. */
export function isModuleName(name: string): boolean {
  return name.length <= 214 && NAME.test(name);
}

/** Plain registry versions and ranges only; `file:`, git and tarball specs do not travel between instances. */
export function isInstallableModule(name: string, version: string): boolean {
  return isModuleName(name) && SPEC.test(version) && !version.startsWith('-');
}

export class ModuleInstallError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message);
    this.name = 'ModuleInstallError';
  }
}

export interface NpmModuleInstallerOptions {
  /** The npm executable; `npm` from PATH by default. */
  npmBin?: string;
  timeoutMs?: number;
}

const PACKAGE_FILES = ['package.json', 'package-lock.json'];

/**
 * Runs `npm install` in the userDir, the way Node-RED's palette manager does, so the modules land where the runtime
 * loads them from. npm runs the packages' install scripts, so it gets a bare environment (never the manager's secrets)
 * with HOME at the userDir like the runtime itself. When npm fails, package.json and its lock file are put back, so
 * the instance is left as it was.
 */
export class NpmModuleInstaller implements ModuleInstaller {
  private readonly npmBin: string;
  private readonly timeoutMs: number;

  constructor(options: NpmModuleInstallerOptions = {}) {
    this.npmBin = options.npmBin ?? 'npm';
    this.timeoutMs = options.timeoutMs ?? 5 * 60_000;
  }

  async install(userDir: string, modules: Record<string, string>): Promise<void> {
    const specs = Object.entries(modules).map(([name, version]) => {
      if (!isInstallableModule(name, version)) throw new ModuleInstallError(`"${name}@${version}" is not an installable npm module`, '');
      return `${name}@${version}`;
    });
    if (specs.length === 0) return;
    const saved = new Map<string, Buffer | null>();
    for (const f of PACKAGE_FILES) saved.set(f, await fs.readFile(path.join(userDir, f)).catch(() => null));
    try {
      await this.run(userDir, ['install', '--no-audit', '--no-fund', '--no-update-notifier', '--save', ...specs]);
    } catch (err) {
      for (const [f, data] of saved) {
        if (data === null) await fs.rm(path.join(userDir, f), { force: true });
        else await fs.writeFile(path.join(userDir, f), data);
      }
      throw err;
    }
  }

  private run(cwd: string, args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const env: Record<string, string> = { HOME: cwd, NODE_ENV: 'production' };
      if (process.env.PATH) env.PATH = process.env.PATH;
      const child = spawn(this.npmBin, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      const lines: string[] = [];
      const collect = (chunk: Buffer) => {
        lines.push(...chunk.toString('utf8').split('\n').filter((l) => l.trim() !== ''));
        if (lines.length > OUTPUT_LINES) lines.splice(0, lines.length - OUTPUT_LINES);
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      const timer = setTimeout(() => child.kill('SIGKILL'), this.timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(new ModuleInstallError(`npm could not be run: ${err.message}`, ''));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new ModuleInstallError(signal ? `npm install was stopped (${signal})` : `npm install exited with code ${code}`, lines.join('\n')));
      });
    });
  }
}
