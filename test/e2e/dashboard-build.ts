import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const root = path.resolve(import.meta.dirname, '..', '..');
const dist = path.join(root, 'web', 'dist', 'index.html');
/** What the bundle is made of: the web sources plus the few server modules it bundles by value. */
const inputs = [path.join(root, 'web', 'src'), path.join(root, 'web', 'public'), path.join(root, 'web', 'index.html'), path.join(root, 'web', 'vite.config.ts'), path.join(root, 'src', 'instances', 'labels.ts'), path.join(root, 'src', 'audit', 'audit-actions.ts'), path.join(root, 'src', 'errors.ts')];

function newestMtime(p: string): number {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...fs.readdirSync(p).map((name) => newestMtime(path.join(p, name))));
}

/** Builds web/dist when it is missing or older than its sources, so the manager under test serves this dashboard. */
export async function ensureDashboardBuilt(): Promise<void> {
  const built = fs.existsSync(dist) ? fs.statSync(dist).mtimeMs : 0;
  if (built > Math.max(...inputs.map(newestMtime))) return;
  await promisify(execFile)(process.execPath, [path.join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], { cwd: root, timeout: 300_000 });
}
