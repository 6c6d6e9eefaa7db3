import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { pack, type PackOptions } from 'tar-fs';
import type { Pack } from 'tar-stream';
import type { StableFile } from './stable-read.js';

const BLOCK = 512;
/** Stream buffer sizes for archive I/O; zlib's 16 KiB default makes it cross to the thread pool several times as often. */
export const IO_CHUNK = 1024 * 1024;
export const ZLIB_CHUNK = 256 * 1024;

export interface WriteArchiveOptions {
  sourceDir: string;
  destFile: string;
  /** Paths relative to sourceDir (with `/`) to leave out. */
  exclude(relPath: string): boolean;
  /** Top-level files already read consistently: packed from these buffers, not read again from the disk. */
  captured: ReadonlyMap<string, StableFile>;
  /** Uncompressed tar bytes produced so far. */
  onProgress(bytes: number): void;
}

export interface ArchiveResult {
  sizeBytes: number;
  sha256: string;
}

/** Counts and hashes what flows through without holding any of it. */
export class Tap extends Transform {
  bytes = 0;
  private readonly hash: crypto.Hash | null;

  constructor(
    withHash: boolean,
    private readonly onChunk: (total: number) => void = () => undefined,
  ) {
    super();
    this.hash = withHash ? crypto.createHash('sha256') : null;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash?.update(chunk);
    try {
      this.onChunk(this.bytes);
    } catch (err) {
      cb(err as Error);
      return;
    }
    cb(null, chunk);
  }

  digest(): string {
    if (!this.hash) throw new Error('this tap does not hash');
    return this.hash.digest('hex');
  }
}

/** The uncompressed tar size the directory will produce, for progress: headers, data and padding. */
export async function estimateTarBytes(dir: string, exclude: (rel: string) => boolean): Promise<number> {
  let total = 2 * BLOCK + BLOCK;
  const walk = async (rel: string): Promise<void> => {
    const entries = await fs.promises.readdir(path.join(dir, rel), { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const child = rel === '' ? e.name : `${rel}/${e.name}`;
      if (exclude(child)) continue;
      total += BLOCK;
      if (e.isDirectory()) await walk(child);
      else if (e.isFile()) {
        const size = (await fs.promises.stat(path.join(dir, child)).catch(() => null))?.size ?? 0;
        total += Math.ceil(size / BLOCK) * BLOCK;
      }
    }
  };
  await walk('');
  return total;
}

function appendCaptured(p: Pack, files: StableFile[]): void {
  const next = (i: number): void => {
    const f = files[i];
    if (!f) {
      p.finalize();
      return;
    }
    p.entry({ name: f.name, size: f.data.length, mode: f.mode, mtime: f.mtime, type: 'file' }, f.data, (err) => {
      if (err) p.destroy(err);
      else next(i + 1);
    });
  };
  next(0);
}

/**
 * Streams a directory into a .tar.gz file: tar-fs reads one file at a time, zlib compresses, and the size and sha256
 * are computed on the way to the disk, so memory stays flat whatever the directory holds. The file is written under
 * a temporary name and renamed into place only when complete.
 */
export async function writeArchive(o: WriteArchiveOptions): Promise<ArchiveResult> {
  const root = path.resolve(o.sourceDir);
  const relOf = (abs: string) => path.relative(root, abs).split(path.sep).join('/');
  const options: PackOptions & { sort: boolean } = {
    sort: true,
    ignore: (abs) => {
      const rel = relOf(abs);
      return o.exclude(rel) || o.captured.has(rel);
    },
    finalize: false,
    finish: (p) => appendCaptured(p, [...o.captured.values()]),
  };
  const tarTap = new Tap(false, o.onProgress);
  const fileTap = new Tap(true);
  const tmp = `${o.destFile}.partial`;
  try {
    await pipeline(pack(root, options), tarTap, zlib.createGzip({ chunkSize: ZLIB_CHUNK }), fileTap, fs.createWriteStream(tmp, { mode: 0o600, highWaterMark: IO_CHUNK }));
    await fs.promises.rename(tmp, o.destFile);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  return { sizeBytes: fileTap.bytes, sha256: fileTap.digest() };
}
