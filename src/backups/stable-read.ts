import type { Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

export interface StableFile {
  name: string;
  data: Buffer;
  mode: number;
  mtime: Date;
}

const MAX_ATTEMPTS = 20;
const RETRY_DELAY_MS = 50;

function identity(s: Stats | null): string {
  return s ? `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}` : 'missing';
}

async function statOrNull(file: string): Promise<Stats | null> {
  try {
    const s = await fs.stat(file);
    return s.isFile() ? s : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

async function identities(dir: string, names: readonly string[]): Promise<string[]> {
  return Promise.all(names.map(async (n) => identity(await statOrNull(path.join(dir, n)))));
}

/**
 * Reads several files of a live Node-RED userDir as one consistent picture. Node-RED saves each file by writing a
 * temporary file and renaming it over the old one, so a single read never sees half a file; but a deploy saves
 * flows.json and then flows_cred.json, and a read landing between the two would pair new flows with old credentials.
 * So the set is read whole and read again whenever any file changed identity (inode, size, times) meanwhile.
 * Missing files are left out of the result.
 */
export async function readStableFiles(dir: string, names: readonly string[]): Promise<Map<string, StableFile>> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    const before = await identities(dir, names);
    const files = new Map<string, StableFile>();
    let vanished = false;
    for (const name of names) {
      const file = path.join(dir, name);
      const s = await statOrNull(file);
      if (!s) continue;
      try {
        files.set(name, { name, data: await fs.readFile(file), mode: s.mode & 0o777, mtime: s.mtime });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        vanished = true;
      }
    }
    const after = await identities(dir, names);
    if (!vanished && before.every((id, i) => id === after[i])) return files;
    await new Promise((r) => setTimeout(r, RETRY_DELAY_MS));
  }
  throw new Error(`${names.join(', ')} kept changing while being read`);
}
