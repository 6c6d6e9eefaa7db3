import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { extract, type ExtractOptions } from 'tar-fs';
import { Tap } from './archive-writer.js';

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
  private readonly symlinks = new Set<string>();
  private readonly files = new Set<string>();
  entries = 0;

  check(h: EntryHeader): ArchiveRefusedError | null {
    this.entries += 1;
    const raw = h.name;
    if (raw.includes('\0') || raw === '') return new ArchiveRefusedError('invalid_name', raw, 'An entry has an empty or NUL-bearing name');
    if (raw.startsWith('/')) return new ArchiveRefusedError('absolute_path', raw, `Entry "${raw}" has an absolute path`);
    const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) return new ArchiveRefusedError('path_traversal', raw, `Entry "${raw}" climbs out with ".."`);
    const rel = parts.join('/');
    if (rel === '' && h.type !== 'directory') return new ArchiveRefusedError('invalid_name', raw, `Entry "${raw}" would replace the root`);
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
        if (target === '' || target.startsWith('/') || target.includes('\0')) return new ArchiveRefusedError('link_escape', raw, `Symlink "${raw}" points outside the archive`);
        const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(rel), target));
        if (resolved === '..' || resolved.startsWith('../')) return new ArchiveRefusedError('link_escape', raw, `Symlink "${raw}" points outside the archive`);
        this.symlinks.add(rel);
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
}

/**
 * Streams a .tar.gz into a staging directory: the file is read once, hashed on the way, gunzipped, counted against the
 * expansion cap, and every entry is checked before it is written. On refusal the stream stops at once; the caller
 * removes the staging directory.
 */
export async function extractArchive(o: ExtractArchiveOptions): Promise<ExtractResult> {
  const guard = new EntryGuard();
  const readTap = new Tap(true, o.onProgress);
  const expandTap = new Tap(false, (total) => {
    if (total > o.maxExpandedBytes) throw new ArchiveRefusedError('too_large', null, `The archive expands beyond ${o.maxExpandedBytes} bytes`);
  });
  let refused: ArchiveRefusedError | null = null;
  const options: ExtractOptions & { chown: boolean; validateSymlinks: boolean } = {
    chown: false,
    validateSymlinks: true,
    strict: true,
    ignore: (_name, header) => {
      if (refused) return true;
      const problem = guard.check(header as unknown as EntryHeader);
      if (!problem) return false;
      refused = problem;
      sink.destroy(problem);
      return true;
    },
  };
  const sink = extract(o.stagingDir, options);
  // Destroying the extractor also destroys the entry being read, and an ignored entry has no error listener of its
  // own; the error itself reaches the pipeline through the extractor.
  sink.prependListener('entry', (_header: unknown, entry: NodeJS.EventEmitter) => entry.on('error', () => undefined));
  try {
    await pipeline(fs.createReadStream(o.archiveFile), readTap, zlib.createGunzip(), expandTap, sink);
  } catch (err) {
    throw refused ?? err;
  }
  return { sha256: readTap.digest(), expandedBytes: expandTap.bytes, entries: guard.entries };
}
