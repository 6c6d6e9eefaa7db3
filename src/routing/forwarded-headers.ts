import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

/** Lower-case field names; most names are ruled out by their length before any lower-casing (hot path). */
class FieldNames {
  private readonly names: ReadonlySet<string>;
  private readonly lengths: ReadonlySet<number>;

  constructor(names: readonly string[]) {
    this.names = new Set(names);
    this.lengths = new Set(names.map((name) => name.length));
  }

  has(name: string): boolean {
    return this.lengths.has(name.length) && this.names.has(name.toLowerCase());
  }
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

/**
 * Fields that describe one connection rather than the message (RFC 9110 §7.6.1), plus the ones this proxy rewrites
 * itself. Node already consumed `Expect: 100-continue` on the client side, so passing it on would ask twice.
 */
const REQUEST_DROPPED = new FieldNames([...HOP_BY_HOP, 'expect', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);
const RESPONSE_DROPPED = new FieldNames(HOP_BY_HOP);
const RESPONSE_DROPPED_CHUNKED = new FieldNames([...HOP_BY_HOP, 'content-length']);

/** Field names listed in Connection are hop-by-hop too; most messages carry no such list, so this stays cheap. */
function connectionListed(raw: readonly string[]): Set<string> | null {
  let listed: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).length === 10 && (raw[i] as string).toLowerCase() === 'connection') {
      for (const token of (raw[i + 1] as string).split(',')) {
        const name = token.trim().toLowerCase();
        if (name) (listed ??= new Set()).add(name);
      }
    }
  }
  return listed;
}

function keep(raw: readonly string[], dropped: FieldNames, out: string[]): void {
  const listed = connectionListed(raw);
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (dropped.has(name) || (listed !== null && listed.has(name.toLowerCase()))) continue;
    out.push(name, raw[i + 1] as string);
  }
}

export function hasRequestBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * The header list sent upstream, flat `[name, value, ...]`. Host is kept exactly as the client sent it because the
 * instance's settings shim compares Origin with Host.
 */
export function upstreamRequestHeaders(req: IncomingMessage): string[] {
  const out: string[] = [];
  keep(req.rawHeaders, REQUEST_DROPPED, out);
  // Node hands us the decoded body; a body of unknown length is re-framed as chunked on the way out.
  if (req.headers['transfer-encoding'] !== undefined) out.push('Transfer-Encoding', 'chunked');
  const given = req.headers['x-forwarded-for'];
  const prior = Array.isArray(given) ? given.join(', ') : given;
  const peer = req.socket.remoteAddress;
  const chain = prior === undefined ? peer : peer === undefined ? prior : `${prior}, ${peer}`;
  if (chain !== undefined) out.push('X-Forwarded-For', chain);
  out.push('X-Forwarded-Proto', (req.socket as TLSSocket).encrypted ? 'https' : 'http');
  const host = req.headers.host;
  if (host !== undefined) out.push('X-Forwarded-Host', host);
  return out;
}

/** Upgrade requests keep their Connection/Upgrade pair: that is the point of the request. */
export function upstreamUpgradeHeaders(req: IncomingMessage): string[] {
  const out = upstreamRequestHeaders(req);
  out.push('Connection', 'Upgrade', 'Upgrade', req.headers.upgrade ?? 'websocket');
  return out;
}

/** The header section of a request to an upstream, from the first field through the blank line. */
export function upstreamHeaderBlock(req: IncomingMessage): string {
  const fields = upstreamRequestHeaders(req);
  let block = '';
  for (let i = 0; i < fields.length; i += 2) block += `${fields[i]}: ${fields[i + 1]}\r\n`;
  return `${block}\r\n`;
}

/**
 * Response fields passed on to the client. Node's ServerResponse does its own framing, so a chunked upstream body
 * loses its Content-Length (RFC 9112 §6.3: Transfer-Encoding wins) and the client connection gets its own chunking.
 */
export function clientResponseHeaders(raw: readonly string[], chunked = false): string[] {
  const out: string[] = [];
  keep(raw, chunked ? RESPONSE_DROPPED_CHUNKED : RESPONSE_DROPPED, out);
  return out;
}
