import { describe, expect, it } from 'vitest';
import { ResponseParseError, ResponseParser, type ResponseHead } from '../../src/routing/response-parser.js';

interface Parsed {
  heads: ResponseHead[];
  body: string;
  parser: ResponseParser;
  used: number;
}

/** Feeds `wire` in pieces of `step` bytes (every split point for step 1). */
function parse(wire: string, options: { step?: number; bodyless?: boolean } = {}): Parsed {
  const heads: ResponseHead[] = [];
  const chunks: Buffer[] = [];
  const parser = new ResponseParser(
    { onHead: (head) => heads.push(head), onBody: (chunk) => chunks.push(Buffer.from(chunk)) },
    options.bodyless ?? false,
  );
  const bytes = Buffer.from(wire, 'latin1');
  const step = options.step ?? bytes.length;
  let used = 0;
  for (let at = 0; at < bytes.length && !parser.complete; at += step) {
    used += parser.execute(bytes.subarray(at, at + step));
  }
  return { heads, body: Buffer.concat(chunks).toString('latin1'), parser, used };
}

const CHUNKED =
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n' +
  '5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n';

describe('ResponseParser', () => {
  it('reads a length-delimited response and keeps header case and order', () => {
    const { heads, body, parser } = parse('HTTP/1.1 201 Created\r\nX-One: 1\r\nContent-Length: 3\r\nset-cookie: a\r\nSet-Cookie: b\r\n\r\nabc');
    expect(parser.complete).toBe(true);
    expect(parser.reusable).toBe(true);
    expect(body).toBe('abc');
    expect(heads).toHaveLength(1);
    expect(heads[0]).toMatchObject({ statusCode: 201, statusMessage: 'Created', contentLength: 3, chunked: false });
    expect(heads[0]?.rawHeaders).toEqual(['X-One', '1', 'Content-Length', '3', 'set-cookie', 'a', 'Set-Cookie', 'b']);
  });

  it('decodes a chunked body split at every byte', () => {
    for (const step of [1, 2, 3, 7, 1000]) {
      const { heads, body, parser, used } = parse(CHUNKED, { step });
      expect(parser.complete, `step ${step}`).toBe(true);
      expect(body, `step ${step}`).toBe('hello, world');
      expect(heads[0]?.chunked).toBe(true);
      expect(used).toBe(Buffer.byteLength(CHUNKED, 'latin1'));
    }
  });

  it('splits a length-delimited response at every byte', () => {
    const wire = 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789';
    const { body, parser } = parse(wire, { step: 1 });
    expect(parser.complete).toBe(true);
    expect(body).toBe('0123456789');
  });

  it('skips interim 1xx answers before the final one', () => {
    const { heads, body } = parse(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
      { step: 5 },
    );
    expect(heads.map((h) => h.statusCode)).toEqual([200]);
    expect(body).toBe('ok');
  });

  it('expects no body for HEAD, 204 and 304 whatever the headers say', () => {
    expect(parse('HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n', { bodyless: true }).parser.complete).toBe(true);
    expect(parse('HTTP/1.1 204 No Content\r\nContent-Length: 50\r\n\r\n').parser.complete).toBe(true);
    expect(parse('HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n').parser.complete).toBe(true);
  });

  it('reads to the close when nothing delimits the body, and then the connection is spent', () => {
    const { parser, body } = parse('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npart one ');
    expect(parser.complete).toBe(false);
    expect(parser.reusable).toBe(false);
    expect(body).toBe('part one ');
    expect(parser.end()).toBe(true);
    expect(parser.complete).toBe(true);
  });

  it('reports a premature close of a delimited body', () => {
    const { parser } = parse('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
    expect(parser.end()).toBe(false);
  });

  it('stops at the end of the response and reports the bytes it used', () => {
    const { used, parser } = parse('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA');
    expect(parser.complete).toBe(true);
    expect(used).toBe('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'.length);
  });

  it('marks the connection spent on Connection: close and on HTTP/1.0', () => {
    expect(parse('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n').parser.reusable).toBe(false);
    expect(parse('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').parser.reusable).toBe(false);
    expect(parse('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n').parser.reusable).toBe(true);
  });

  it('reads the Keep-Alive timeout hint', () => {
    const { parser } = parse('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 0\r\n\r\n');
    expect(parser.keepAliveSeconds).toBe(5);
  });

  it('lets Transfer-Encoding win over Content-Length', () => {
    const wire = 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n';
    const { body, heads } = parse(wire);
    expect(body).toBe('hi');
    expect(heads[0]).toMatchObject({ chunked: true, contentLength: -1 });
  });

  it('rejects malformed responses', () => {
    const bad = [
      'HTTP/2 200 OK\r\n\r\n',
      'HTTP/1.1 20 OK\r\n\r\n',
      'HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n',
      'HTTP/1.1 200 OK\r\n folded: value\r\n\r\n',
      'HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n',
      'HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhiX\r\n',
      'HTTP/1.1 101 Switching Protocols\r\n\r\n',
    ];
    for (const wire of bad) expect(() => parse(wire), JSON.stringify(wire)).toThrow(ResponseParseError);
  });

  it('refuses an endless head', () => {
    const parser = new ResponseParser({ onHead: () => undefined, onBody: () => undefined }, false);
    parser.execute(Buffer.from('HTTP/1.1 200 OK\r\n'));
    const filler = Buffer.from(`X-Filler: ${'a'.repeat(1000)}\r\n`);
    expect(() => {
      for (let i = 0; i < 100; i += 1) parser.execute(filler);
    }).toThrow(ResponseParseError);
  });
});
