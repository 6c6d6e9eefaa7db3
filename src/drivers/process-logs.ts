import { closeSync, fstatSync, openSync, readSync, truncateSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

export interface LogFileTailOptions {
  /** Start this many bytes before the current end (adoption), dropping the first partial line; 0 reads it all. */
  backfillBytes?: number;
  /** Past this size the file is truncated once read, so a long-running writer cannot fill the disk. */
  maxFileBytes: number;
  maxLineChars: number;
}

/**
 * Follows a log file that a child process appends to, turning new bytes into lines. The writer opened it with
 * O_APPEND, so truncation is safe for it; lines written between the last read and the truncation are lost, a window
 * of one poll at most, which is the price of not needing the manager alive to drain a pipe.
 */
export class LogFileTail {
  private readonly fd: number;
  private offset = 0;
  private carry = '';
  private dropFirstLine = false;
  private readonly decoder = new StringDecoder('utf8');
  private readonly buffer = Buffer.alloc(64 * 1024);
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly onLine: (line: string) => void,
    private readonly options: LogFileTailOptions,
  ) {
    this.fd = openSync(path, 'r');
    const backfill = options.backfillBytes;
    if (backfill !== undefined && backfill > 0) {
      const size = fstatSync(this.fd).size;
      this.offset = Math.max(0, size - backfill);
      this.dropFirstLine = this.offset > 0;
    }
  }

  /** Emits every complete line written since the last call. */
  poll(): void {
    if (this.closed) return;
    const size = fstatSync(this.fd).size;
    if (size < this.offset) {
      this.offset = 0;
      this.decoder.end();
    }
    while (this.offset < size) {
      const read = readSync(this.fd, this.buffer, 0, Math.min(this.buffer.length, size - this.offset), this.offset);
      if (read === 0) break;
      this.offset += read;
      this.take(this.decoder.write(this.buffer.subarray(0, read)));
    }
    if (this.offset >= this.options.maxFileBytes) {
      truncateSync(this.path, 0);
      this.offset = 0;
    }
  }

  /** Reads what is left, emits a trailing partial line, and releases the file. */
  close(): void {
    if (this.closed) return;
    this.poll();
    this.take(this.decoder.end());
    if (this.carry !== '') this.emit(this.carry);
    this.carry = '';
    this.closed = true;
    closeSync(this.fd);
  }

  private take(text: string): void {
    const parts = (this.carry + text).split('\n');
    this.carry = parts.pop() ?? '';
    for (const part of parts) {
      if (this.dropFirstLine) {
        this.dropFirstLine = false;
        continue;
      }
      this.emit(part);
    }
    if (this.carry.length > this.options.maxLineChars) {
      this.emit(this.carry);
      this.carry = '';
    }
  }

  private emit(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    this.onLine(line.length > this.options.maxLineChars ? `${line.slice(0, this.options.maxLineChars)}…` : line);
  }
}
