/**
 * Backup and restore of a ~200 MB userDir against GNU `tar czf` / `tar xzf` of the same directory, in the same run.
 * The directory is built like a real one: installed node modules (many small files), some incompressible binary data
 * and a flows file. Ratio = tar's time / ours (1.0 = as fast as tar; the goal is at least 0.8).
 * Run: npx tsx bench/backup.bench.ts
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { extractArchive } from '../src/backups/archive-extractor.js';
import { writeArchive } from '../src/backups/archive-writer.js';
import { excludedFromBackup } from '../src/backups/backup.service.js';
import { readStableFiles } from '../src/backups/stable-read.js';

const ROUNDS = 3;
const TARGET_BYTES = 200 * 1024 * 1024;
const MIB = 1024 * 1024;
const NODE_MODULES = path.resolve(import.meta.dirname, '../node_modules');

function duBytes(dir: string): number {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}

function buildDataDir(dir: string): void {
  fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'context'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'context', 'blob.bin'), randomBytes(40 * MIB));
  const flows = Array.from({ length: 4000 }, (_, i) => ({ id: `n${i}`, type: 'function', z: 't', name: `node ${i}`, func: `msg.payload = ${i};\nreturn msg;`, x: i % 800, y: i % 600, wires: [[`n${i + 1}`]] }));
  fs.writeFileSync(path.join(dir, 'flows.json'), JSON.stringify(flows, null, 4));
  fs.writeFileSync(path.join(dir, 'flows_cred.json'), JSON.stringify({ $: randomBytes(4096).toString('base64') }));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true, dependencies: {} }));
  const candidates = fs.readdirSync(NODE_MODULES).filter((n) => !n.startsWith('.') && n !== '.bin');
  for (const name of candidates) {
    if (duBytes(dir) >= TARGET_BYTES) break;
    execFileSync('cp', ['-r', path.join(NODE_MODULES, name), path.join(dir, 'node_modules', name)]);
  }
}

async function time(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'openflow-backup-bench-'));
  try {
    const src = path.join(root, 'userdir');
    buildDataDir(src);
    const files = Number(execFileSync('sh', ['-c', `find "${src}" -type f | wc -l`], { encoding: 'utf8' }).trim());
    console.log(`data dir: ${(duBytes(src) / MIB).toFixed(0)} MiB, ${files} files`);

    const ours = path.join(root, 'ours.tar.gz');
    const theirs = path.join(root, 'tar.tar.gz');
    const backup = { ours: [] as number[], tar: [] as number[] };
    const restore = { ours: [] as number[], tar: [] as number[] };
    let sha = '';
    for (let r = 0; r < ROUNDS; r += 1) {
      backup.tar.push(await time(() => execFileSync('tar', ['czf', theirs, '-C', src, '.'])));
      backup.ours.push(
        await time(async () => {
          const top = fs.readdirSync(src, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
          const captured = await readStableFiles(src, top);
          sha = (await writeArchive({ sourceDir: src, destFile: ours, exclude: excludedFromBackup, captured, onProgress: () => undefined })).sha256;
        }),
      );
      const tarOut = path.join(root, `tar-out-${r}`);
      fs.mkdirSync(tarOut);
      restore.tar.push(await time(() => execFileSync('tar', ['xzf', ours, '-C', tarOut])));
      const ourOut = path.join(root, `our-out-${r}`);
      fs.mkdirSync(ourOut);
      restore.ours.push(
        await time(async () => {
          const result = await extractArchive({ archiveFile: ours, stagingDir: ourOut, maxExpandedBytes: 2 * 1024 ** 3, onProgress: () => undefined });
          if (result.sha256 !== sha) throw new Error('checksum mismatch');
        }),
      );
      fs.rmSync(tarOut, { recursive: true, force: true });
      fs.rmSync(ourOut, { recursive: true, force: true });
    }
    const row = (what: string, o: number[], t: number[], size: string) =>
      console.log(`${what.padEnd(8)} ours ${(median(o) / 1000).toFixed(2)} s   tar ${(median(t) / 1000).toFixed(2)} s   ratio ${(median(t) / median(o)).toFixed(2)}x   ${size}`);
    console.log(`median of ${ROUNDS} rounds; ratio = tar time / our time (goal >= 0.8)`);
    row('backup', backup.ours, backup.tar, `archive ours ${(fs.statSync(ours).size / MIB).toFixed(1)} MiB, tar ${(fs.statSync(theirs).size / MIB).toFixed(1)} MiB`);
    row('restore', restore.ours, restore.tar, 'ours includes sha256 verification and per-entry checks');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

await main();
