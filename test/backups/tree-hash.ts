import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * One hash over a directory tree: every path, its kind, file contents and permission bits, and symlink targets.
 * Directory modes and times are left out (a restored root is a fresh directory).
 */
export async function treeHash(dir: string, exclude: (rel: string) => boolean = () => false): Promise<string> {
  const hash = crypto.createHash('sha256');
  const walk = async (rel: string): Promise<void> => {
    const entries = (await fs.promises.readdir(path.join(dir, rel), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const child = rel === '' ? e.name : `${rel}/${e.name}`;
      if (exclude(child)) continue;
      const full = path.join(dir, child);
      if (e.isSymbolicLink()) hash.update(`L ${child} -> ${await fs.promises.readlink(full)}\n`);
      else if (e.isDirectory()) {
        hash.update(`D ${child}\n`);
        await walk(child);
      } else if (e.isFile()) {
        const mode = (await fs.promises.stat(full)).mode & 0o777;
        const sum = crypto.createHash('sha256').update(await fs.promises.readFile(full)).digest('hex');
        hash.update(`F ${child} ${mode.toString(8)} ${sum}\n`);
      } else hash.update(`? ${child}\n`);
    }
  };
  await walk('');
  return hash.digest('hex');
}
