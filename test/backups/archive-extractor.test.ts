import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArchiveRefusedError, extractArchive } from '../../src/backups/archive-extractor.js';
import { writeArchive } from '../../src/backups/archive-writer.js';
import { readStableFiles } from '../../src/backups/stable-read.js';
import { EXPECTED_REASON, maliciousFixtures, writeTarGz } from './archive-fixtures.js';
import { treeHash } from './tree-hash.js';

const MiB = 1024 * 1024;

describe('archive extraction into a staging directory', () => {
  let root: string;
  let outside: string;
  let staging: string;

  beforeEach(async () => {
    root = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'openflow-extract-'));
    // staging sits two levels down so that `../../x` from it still lands inside this test's own temp dir.
    staging = path.join(root, 'data', 'instances', 'staging');
    outside = path.join(root, 'outside');
    await fs.promises.mkdir(staging, { recursive: true });
    await fs.promises.mkdir(outside);
  });
  afterEach(async () => {
    await fs.promises.rm(root, { recursive: true, force: true });
  });

  const everythingUnder = async (dir: string): Promise<string[]> => (await fs.promises.readdir(dir, { recursive: true })).map(String).sort();

  for (const name of Object.keys(EXPECTED_REASON)) {
    it(`refuses the ${name} archive and writes nothing outside staging`, async () => {
      const archive = path.join(root, `${name}.tar.gz`);
      await writeTarGz(archive, maliciousFixtures(outside)[name]!);
      const before = await everythingUnder(root);
      const err = await extractArchive({ archiveFile: archive, stagingDir: staging, maxExpandedBytes: 10 * MiB, onProgress: () => undefined }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ArchiveRefusedError);
      expect((err as ArchiveRefusedError).reason).toBe(EXPECTED_REASON[name]);
      const after = (await everythingUnder(root)).filter((p) => !p.startsWith(path.join('data', 'instances', 'staging')));
      expect(after).toEqual(before.filter((p) => !p.startsWith(path.join('data', 'instances', 'staging'))));
      expect(await everythingUnder(outside)).toEqual([]);
      expect(fs.existsSync(path.join(root, 'data', 'escaped.txt'))).toBe(false);
      expect(fs.existsSync(path.join(root, 'escaped.txt'))).toBe(false);
    });
  }

  it('refuses a gzip bomb once the expansion passes the cap, with a small file on disk', async () => {
    const archive = path.join(root, 'bomb.tar.gz');
    await writeTarGz(archive, [{ header: { name: 'zeros.bin', type: 'file' }, body: 200 * MiB }]);
    const size = (await fs.promises.stat(archive)).size;
    expect(size).toBeLessThan(MiB);
    const err = await extractArchive({ archiveFile: archive, stagingDir: staging, maxExpandedBytes: 20 * MiB, onProgress: () => undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArchiveRefusedError);
    expect((err as ArchiveRefusedError).reason).toBe('too_large');
    const written = fs.existsSync(path.join(staging, 'zeros.bin')) ? (await fs.promises.stat(path.join(staging, 'zeros.bin'))).size : 0;
    expect(written).toBeLessThanOrEqual(20 * MiB);
  });

  it('refuses a truncated archive as an error, not a partial success', async () => {
    const archive = path.join(root, 'ok.tar.gz');
    await writeTarGz(archive, [{ header: { name: 'big.bin', type: 'file' }, body: Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251)) }]);
    const full = await fs.promises.readFile(archive);
    await fs.promises.writeFile(archive, full.subarray(0, Math.floor(full.length / 2)));
    await expect(extractArchive({ archiveFile: archive, stagingDir: staging, maxExpandedBytes: 10 * MiB, onProgress: () => undefined })).rejects.toThrow();
  });

  it('round-trips a tree with nested dirs, inside symlinks, modes and a consistent top-level set', async () => {
    const src = path.join(root, 'src');
    await fs.promises.mkdir(path.join(src, 'node_modules', 'pkg', 'lib'), { recursive: true });
    await fs.promises.mkdir(path.join(src, '.npm', '_cacache'), { recursive: true });
    await fs.promises.writeFile(path.join(src, 'flows.json'), '[{"id":"a","type":"tab"}]');
    await fs.promises.writeFile(path.join(src, 'flows_cred.json'), '{"$":"00"}');
    await fs.promises.writeFile(path.join(src, 'flows.json.$$$'), '[{"half":');
    await fs.promises.writeFile(path.join(src, '.npm', '_cacache', 'blob'), 'cache');
    await fs.promises.writeFile(path.join(src, 'node_modules', 'pkg', 'lib', 'index.js'), 'module.exports = 1;\n');
    await fs.promises.writeFile(path.join(src, 'node_modules', 'pkg', 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    await fs.promises.symlink('lib/index.js', path.join(src, 'node_modules', 'pkg', 'main.js'));
    const exclude = (rel: string) => rel === '.npm' || rel.startsWith('.npm/') || rel.endsWith('.$$$');
    const archive = path.join(root, 'tree.tar.gz');
    const captured = await readStableFiles(src, ['flows.json', 'flows_cred.json']);
    let progress = 0;
    const written = await writeArchive({ sourceDir: src, destFile: archive, exclude, captured, onProgress: (b) => (progress = b) });
    expect(progress).toBeGreaterThan(0);
    expect(written.sizeBytes).toBe((await fs.promises.stat(archive)).size);
    const result = await extractArchive({ archiveFile: archive, stagingDir: staging, maxExpandedBytes: 10 * MiB, onProgress: () => undefined });
    expect(result.sha256).toBe(written.sha256);
    expect(await treeHash(staging)).toBe(await treeHash(src, exclude));
    expect(fs.existsSync(path.join(staging, '.npm'))).toBe(false);
    expect(fs.existsSync(path.join(staging, 'flows.json.$$$'))).toBe(false);
    expect((await fs.promises.stat(path.join(staging, 'node_modules', 'pkg', 'run.sh'))).mode & 0o777).toBe(0o755);
    expect(await fs.promises.readlink(path.join(staging, 'node_modules', 'pkg', 'main.js'))).toBe('lib/index.js');
  });

  it('accepts archives made by GNU tar (./-prefixed names, long paths)', async () => {
    const src = path.join(root, 'gnu');
    const deep = path.join(src, 'a'.repeat(60), 'b'.repeat(60), 'c'.repeat(60));
    await fs.promises.mkdir(deep, { recursive: true });
    await fs.promises.writeFile(path.join(deep, 'd'.repeat(80) + '.json'), '{}');
    await fs.promises.writeFile(path.join(src, 'flows.json'), '[]');
    const archive = path.join(root, 'gnu.tar.gz');
    const { execFileSync } = await import('node:child_process');
    execFileSync('tar', ['czf', archive, '-C', src, '.']);
    await extractArchive({ archiveFile: archive, stagingDir: staging, maxExpandedBytes: 10 * MiB, onProgress: () => undefined });
    expect(await treeHash(staging)).toBe(await treeHash(src));
  });
});
