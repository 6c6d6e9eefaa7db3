import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import tar, { type Header } from 'tar-stream';
import { IO_CHUNK, Tap, ZLIB_CHUNK } from './archive-writer.js';

export type RefusalReason = 'absolute_path' | 'path_traversal' | 'link_escape' | 'special_file' | 'too_large' | 'invalid_name';

/** The archive is not one we extract: the reason names the first offending entry. */
export class ArchiveRefusedError extends Error {
  constructor(
    readonly reason: RefusalReason,
    readonly entry: string | null,
    message: string,
  ) {
    super(message);
    this.name = 'ArchiveRefusedError';
  }
}

export interface ExtractArchiveOptions {
  archiveFile: string;
  /** A fresh, empty directory; nothing is ever written outside it. */
  stagingDir: string;
  /** Refuse once the uncompressed tar stream (headers included) passes this many bytes: the gzip-bomb guard. */
  maxExpandedBytes: number;
  /** Compressed bytes read so far. */
  onProgress(bytesRead: number): void;
}

export interface ExtractResult {
  /** sha256 of the archive file as read. */
  sha256: string;
  expandedBytes: number;
  entries: number;
}

interface EntryHeader {
  name: string;
  type: string;
  linkname?: string | null;
}

/**
 * Checks entries before tar-fs touches the disk for them. tar-fs on its own rewrites `../x` to `x` and skips what it
 * cannot place; a backup that needs such rewriting is not one of ours, so here any such entry refuses the whole
 * archive. Lexical checks are not enough once the archive holds symlinks (`a -> .` makes `a/..` the parent of the
 * root), so no entry may sit below an entry that was a symlink.
 */
export class EntryGuard {
  private readonly symlinks = new Map<string, string>();
  private readonly files = new Set<string>();
  entries = 0;
  /** The normalised relative path of the entry last accepted. */
  lastPath = '';

  check(h: EntryHeader): ArchiveRefusedError | null {
    this.entries += 1;
    const raw = h.name;
    if (raw.includes('\0') || raw === '') return new ArchiveRefusedError('invalid_name', raw, 'An entry has an empty or NUL-bearing name');
    if (raw.startsWith('/')) return new ArchiveRefusedError('absolute_path', raw, `Entry "${raw}" has an absolute path`);
    const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) return new ArchiveRefusedError('path_traversal', raw, `Entry "${raw}" climbs out with ".."`);
    const rel = parts.join('/');
    if (rel === '' && h.type !== 'directory') return new ArchiveRefusedError('invalid_name', raw, `Entry "${raw}" would replace the root`);
    this.lastPath = rel;
    for (let i = 1; i <= parts.length; i += 1) {
      const prefix = parts.slice(0, i).join('/');
      if (this.symlinks.has(prefix)) return new ArchiveRefusedError('link_escape', raw, `Entry "${raw}" would be written through the symlink "${prefix}"`);
    }
    switch (h.type) {
      case 'file':
        this.files.add(rel);
        return null;
      case 'directory':
        return null;
      case 'symlink': {
        const target = h.linkname ?? '';
        if (target === '' || target.startsWith('/') || target.includes('\0') || !this.staysInside(rel, target)) return new ArchiveRefusedError('link_escape', raw, `Symlink "${raw}" points outside the archive`);
        this.symlinks.set(rel, target);
        return null;
      }
      case 'link': {
        const target = path.posix.normalize(h.linkname ?? '').replace(/^\.\//, '');
        if (!this.files.has(target)) return new ArchiveRefusedError('link_escape', raw, `Hard link "${raw}" does not point to a file earlier in the archive`);
        this.files.add(rel);
        return null;
      }
      default:
        return new ArchiveRefusedError('special_file', raw, `Entry "${raw}" is a ${h.type}, which a backup never holds`);
    }
  }

  /** Once every entry is known: a symlink checked early may lead through one that came later. */
  verifyLinks(): ArchiveRefusedError | null {
    for (const [rel, target] of this.symlinks) {
      if (!this.staysInside(rel, target)) return new ArchiveRefusedError('link_escape', rel, `Symlink "${rel}" points outside the archive`);
    }
    return null;
  }

  /**
   * Follows the target step by step from the link's folder: it may never climb above the root, and may not pass
   * through another symlink on the way (`l -> .` would make `l/..` the root's parent while it reads as the root).
   */
  private staysInside(rel: string, target: string): boolean {
    const dir = path.posix.dirname(rel);
    const stack = dir === '.' ? [] : dir.split('/');
    const steps = target.split('/').filter((p) => p !== '' && p !== '.');
    for (let i = 0; i < steps.length; i += 1) {
      if (steps[i] === '..') {
        if (stack.length === 0) return false;
        stack.pop();
      } else {
        stack.push(steps[i]!);
        if (i < steps.length - 1 && this.symlinks.has(stack.join('/'))) return false;
      }
    }
    return true;
  }
}

const SMALL_FILE_BYTES = 1024 * 1024;

/**
 * Writes checked entries below a fresh root. Entries come one at a time from tar-stream (tar-fs's own parser).
 * tar-fs's extractor was a quarter of GNU tar's speed on a node_modules tree: for every entry it walks the parents
 * with lstat and chains several thread-pool calls. Here the EntryGuard has already ruled out writing through a
 * symlink (and the root is new, so nothing else on the way can be one), so a small file is written with a few
 * synchronous calls on a known parent: microseconds of event-loop time each, bounded by SMALL_FILE_BYTES. Larger
 * files stream. `wx` never replaces anything, so a duplicate entry fails the restore instead of overwriting.
 */
class StagingWriter {
  private readonly dirs = new Set<string>(['']);
  private readonly dirTimes: { rel: string; mode: number; mtime: Date }[] = [];

  constructor(private readonly root: string) {}

  async write(h: Header, rel: string, body: Readable): Promise<void> {
    const full = path.join(this.root, rel);
    if (h.type === 'directory') {
      this.ensureDir(rel);
      if (rel !== '') this.dirTimes.push({ rel, mode: h.mode & 0o777, mtime: h.mtime });
      await drain(body);
      return;
    }
    this.ensureDir(path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel));
    if (h.type === 'symlink') {
      await drain(body);
      fs.symlinkSync(h.linkname, full);
    } else if (h.type === 'link') {
      await drain(body);
      fs.linkSync(path.join(this.root, path.posix.normalize(h.linkname)), full);
    } else if (h.size <= SMALL_FILE_BYTES) {
      const data = await collect(body);
      const fd = fs.openSync(full, 'wx', 0o600);
      try {
        fs.writeSync(fd, data);
        fs.fchmodSync(fd, h.mode & 0o777);
        fs.futimesSync(fd, h.mtime, h.mtime);
      } finally {
        fs.closeSync(fd);
      }
    } else {
      await pipeline(body, fs.createWriteStream(full, { flags: 'wx', mode: 0o600 }));
      await fs.promises.chmod(full, h.mode & 0o777);
      await fs.promises.utimes(full, h.mtime, h.mtime);
    }
  }

  /** Directory modes and times last, deepest first, so writing their contents does not undo them. */
  finish(): void {
    for (const d of [...this.dirTimes].reverse()) {
      const full = path.join(this.root, d.rel);
      fs.chmodSync(full, d.mode | 0o700);
      fs.utimesSync(full, d.mtime, d.mtime);
    }
  }

  private ensureDir(rel: string): void {
    if (this.dirs.has(rel)) return;
    fs.mkdirSync(path.join(this.root, rel), { recursive: true, mode: 0o755 });
    for (let p = rel; p !== '' && p !== '.'; p = path.posix.dirname(p)) this.dirs.add(p);
  }
}

function drain(body: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    body.on('end', resolve).on('error', reject).resume();
  });
}

function collect(body: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    body
      .on('data', (c: Buffer) => chunks.push(c))
      .on('end', () => resolve(Buffer.concat(chunks)))
      .on('error', reject);
  });
}

/**
 * Streams a .tar.gz into a staging directory: the file is read once, hashed on the way, gunzipped, counted against the
 * expansion cap, and every entry is checked before anything of it is written. The first refused entry stops the
 * stream; the caller removes the staging directory.
 */
export async function extractArchive(o: ExtractArchiveOptions): Promise<ExtractResult> {
  const guard = new EntryGuard();
  const writer = new StagingWriter(o.stagingDir);
  const readTap = new Tap(true, o.onProgress);
  const expandTap = new Tap(false, (total) => {
    if (total > o.maxExpandedBytes) throw new ArchiveRefusedError('too_large', null, `The archive expands beyond ${o.maxExpandedBytes} bytes`);
  });
  const sink = tar.extract();
  sink.on('entry', (header, body, next) => {
    // Destroying the parser also destroys the entry being read; the error reaches the pipeline through the parser.
    body.on('error', () => undefined);
    const problem = guard.check(header);
    if (problem) {
      next(problem);
      return;
    }
    writer.write(header, guard.lastPath, body as unknown as Readable).then(() => next(), next);
  });
  // Large buffers: with the 64 KiB / 16 KiB defaults, zlib's thread-pool round trips cost more than inflating.
  await pipeline(fs.createReadStream(o.archiveFile, { highWaterMark: IO_CHUNK }), readTap, zlib.createGunzip({ chunkSize: ZLIB_CHUNK }), expandTap, sink);
  const late = guard.verifyLinks();
  if (late) throw late;
  writer.finish();
  return { sha256: readTap.digest(), expandedBytes: expandTap.bytes, entries: guard.entries };
}
