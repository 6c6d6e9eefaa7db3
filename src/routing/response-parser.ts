/**
 * Incremental HTTP/1.1 response parser (RFC 9112) for the router's upstream connections. It hands body bytes on as
 * slices of the buffers it is given, without copying, and tells its owner whether the connection may carry another
 * request afterwards.
 */

export interface ResponseHead {
  readonly statusCode: number;
  readonly statusMessage: string;
  /** Flat `[name, value, ...]` as received, framing fields included. */
  readonly rawHeaders: string[];
  /** Body length when the body is length-delimited, else -1 (chunked, until close, or none). */
  readonly contentLength: number;
  readonly chunked: boolean;
}

export interface ResponseSink {
  onHead(head: ResponseHead): void;
  onBody(chunk: Buffer): void;
}

export class ResponseParseError extends Error {
  readonly code = 'UPSTREAM_BAD_RESPONSE';
}

const MAX_HEAD_BYTES = 64 * 1024;
const MAX_CHUNK_LINE_BYTES = 4 * 1024;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9][0-9]{2})(?: ([^\r\n]*))?$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const DIGITS = /^[0-9]{1,15}$/;
const HEX = /^[0-9a-fA-F]{1,12}$/;
const KEEP_ALIVE_TIMEOUT = /(?:^|[,;\s])timeout=([0-9]{1,6})/i;
const CRLF_CRLF = Buffer.from('\r\n\r\n');

const enum State {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  UntilClose,
  Done,
}

export class ResponseParser {
  /** False when the upstream asked to close, spoke HTTP/1.0, or delimited the body by closing. */
  reusable = true;
  /** Seconds from the upstream's `Keep-Alive: timeout=N`, or -1. */
  keepAliveSeconds = -1;
  private state = State.Head;
  private pending: Buffer | null = null;
  private remaining = 0;

  constructor(
    private readonly sink: ResponseSink,
    private readonly bodyless: boolean,
  ) {}

  get complete(): boolean {
    return this.state === State.Done;
  }

  /** Whether any byte of a response, interim ones included, arrived. */
  started = false;

  /** Feeds received bytes; returns how many belong to this response (it stops at its end). */
  execute(data: Buffer): number {
    this.started = true;
    let at = 0;
    while (at < data.length && this.state !== State.Done) {
      switch (this.state) {
        case State.Head:
          at = this.readHead(data, at);
          break;
        case State.Length: {
          const take = Math.min(this.remaining, data.length - at);
          this.remaining -= take;
          this.sink.onBody(at === 0 && take === data.length ? data : data.subarray(at, at + take));
          at += take;
          if (this.remaining === 0) this.finishBody();
          break;
        }
        case State.ChunkSize:
          at = this.readLine(data, at, (line) => this.onChunkSize(line));
          break;
        case State.ChunkData: {
          const take = Math.min(this.remaining, data.length - at);
          this.remaining -= take;
          this.sink.onBody(data.subarray(at, at + take));
          at += take;
          if (this.remaining === 0) this.state = State.ChunkDataEnd;
          break;
        }
        case State.ChunkDataEnd:
          at = this.readLine(data, at, (line) => {
            if (line.length !== 0) throw new ResponseParseError('chunk data not followed by CRLF');
            this.state = State.ChunkSize;
          });
          break;
        case State.Trailers:
          at = this.readLine(data, at, (line) => {
            if (line.length === 0) this.finishBody();
          });
          break;
        case State.UntilClose:
          this.sink.onBody(at === 0 ? data : data.subarray(at));
          at = data.length;
          break;
      }
    }
    return at;
  }

  /** The upstream closed its side. Returns true when that legitimately ended the response. */
  end(): boolean {
    if (this.state === State.UntilClose) {
      this.finishBody();
      return true;
    }
    return this.state === State.Done;
  }

  private readHead(data: Buffer, at: number): number {
    let buffer: Buffer;
    let searchFrom: number;
    if (this.pending === null) {
      buffer = at === 0 ? data : data.subarray(at);
      searchFrom = 0;
    } else {
      searchFrom = Math.max(0, this.pending.length - 3);
      buffer = Buffer.concat([this.pending, data.subarray(at)]);
    }
    const end = buffer.indexOf(CRLF_CRLF, searchFrom);
    if (end === -1) {
      if (buffer.length > MAX_HEAD_BYTES) throw new ResponseParseError('response head too large');
      // Copy rather than keep a view, so a small remainder doesn't pin the whole socket read buffer.
      this.pending = this.pending === null ? Buffer.from(buffer) : buffer;
      return data.length;
    }
    const consumedBefore = this.pending === null ? 0 : this.pending.length;
    this.pending = null;
    this.parseHead(buffer.toString('latin1', 0, end));
    return at + (end + 4 - consumedBefore);
  }

  private parseHead(text: string): void {
    const lines = text.split('\r\n');
    const status = STATUS_LINE.exec(lines[0] as string);
    if (status === null) throw new ResponseParseError('malformed status line');
    const statusCode = Number(status[2]);
    const rawHeaders: string[] = [];
    let contentLength = -1;
    let transferEncoding: string | null = null;
    let close = status[1] === '0';
    for (let i = 1; i < lines.length; i += 1) {
      const line = lines[i] as string;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new ResponseParseError('malformed header line');
      const name = line.slice(0, colon);
      const value = line.slice(colon + 1).trim();
      if (!TOKEN.test(name) || !FIELD_VALUE.test(value)) throw new ResponseParseError('invalid header field');
      rawHeaders.push(name, value);
      switch (name.length) {
        case 10: {
          const lower = name.toLowerCase();
          if (lower === 'connection') {
            const tokens = value.toLowerCase();
            if (tokens.includes('close')) close = true;
            else if (status[1] === '0' && tokens.includes('keep-alive')) close = false;
          } else if (lower === 'keep-alive') {
            const hint = KEEP_ALIVE_TIMEOUT.exec(value);
            if (hint !== null) this.keepAliveSeconds = Number(hint[1]);
          }
          break;
        }
        case 14:
          if (name.toLowerCase() === 'content-length') {
            if (!DIGITS.test(value)) throw new ResponseParseError('invalid content-length');
            const length = Number(value);
            if (contentLength !== -1 && contentLength !== length) throw new ResponseParseError('conflicting content-length');
            contentLength = length;
          }
          break;
        case 17:
          if (name.toLowerCase() === 'transfer-encoding') {
            transferEncoding = transferEncoding === null ? value : `${transferEncoding}, ${value}`;
          }
          break;
      }
    }
    if (statusCode < 200) {
      // Interim answers (100 Continue, 103 Early Hints) precede the real one; a 101 was never asked for.
      if (statusCode === 101) throw new ResponseParseError('unexpected protocol switch');
      return;
    }
    const chunked = transferEncoding !== null && /(?:^|,)\s*chunked\s*$/i.test(transferEncoding);
    if (transferEncoding !== null) contentLength = -1;
    if (close) this.reusable = false;
    this.sink.onHead({ statusCode, statusMessage: status[3] ?? '', rawHeaders, contentLength, chunked });
    if (this.bodyless || statusCode === 204 || statusCode === 304) {
      this.finishBody();
    } else if (chunked) {
      this.state = State.ChunkSize;
    } else if (transferEncoding !== null || contentLength === -1) {
      this.reusable = false;
      this.state = State.UntilClose;
    } else if (contentLength === 0) {
      this.finishBody();
    } else {
      this.remaining = contentLength;
      this.state = State.Length;
    }
  }

  private onChunkSize(line: string): void {
    const semicolon = line.indexOf(';');
    const hex = (semicolon === -1 ? line : line.slice(0, semicolon)).trim();
    if (!HEX.test(hex)) throw new ResponseParseError('invalid chunk size');
    const size = parseInt(hex, 16);
    if (size === 0) {
      this.state = State.Trailers;
    } else {
      this.remaining = size;
      this.state = State.ChunkData;
    }
  }

  /** Reads one CRLF-terminated line, which may arrive split over several buffers. */
  private readLine(data: Buffer, at: number, onLine: (line: string) => void): number {
    const lf = data.indexOf(10, at);
    if (lf === -1) {
      const rest = data.subarray(at);
      this.pending = this.pending === null ? Buffer.from(rest) : Buffer.concat([this.pending, rest]);
      if (this.pending.length > MAX_CHUNK_LINE_BYTES) throw new ResponseParseError('chunk line too long');
      return data.length;
    }
    let line = data.subarray(at, lf);
    if (this.pending !== null) {
      line = Buffer.concat([this.pending, line]);
      this.pending = null;
    }
    if (line.length === 0 || line[line.length - 1] !== 13) throw new ResponseParseError('line not ended by CRLF');
    onLine(line.toString('latin1', 0, line.length - 1));
    return lf + 1;
  }

  private finishBody(): void {
    this.state = State.Done;
  }
}
