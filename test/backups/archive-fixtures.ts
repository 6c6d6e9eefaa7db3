import fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import tar, { type Header } from 'tar-stream';

type Headers = Partial<Header> & { name: string };

export interface FixtureEntry {
  header: Headers;
  /** File content: a buffer, or a byte count of zeros streamed without being held (for bombs). */
  body?: Buffer | number;
}

/** Writes a .tar.gz holding exactly the given raw entries: names and types the way an attacker writes them. */
export async function writeTarGz(file: string, entries: FixtureEntry[]): Promise<void> {
  const pack = tar.pack();
  const fill = async () => {
    for (const e of entries) {
      if (typeof e.body === 'number') {
        const total = e.body;
        await new Promise<void>((resolve, reject) => {
          const sink = pack.entry({ ...e.header, size: total }, (err) => (err ? reject(err) : resolve()));
          const chunk = Buffer.alloc(1024 * 1024);
          let left = total;
          const src = new Readable({
            read() {
              if (left <= 0) return this.push(null);
              const n = Math.min(left, chunk.length);
              left -= n;
              this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
            },
          });
          src.pipe(sink);
        });
      } else {
        const body = e.body ?? Buffer.alloc(0);
        await new Promise<void>((resolve, reject) => pack.entry({ ...e.header, size: body.length }, body, (err) => (err ? reject(err) : resolve())));
      }
    }
    pack.finalize();
  };
  await Promise.all([fill(), pipeline(pack, zlib.createGzip(), fs.createWriteStream(file))]);
}

/** The reason each fixture must be refused with. */
export const EXPECTED_REASON: Record<string, string> = {
  traversal: 'path_traversal',
  nestedTraversal: 'path_traversal',
  absolute: 'absolute_path',
  symlinkEscape: 'link_escape',
  relativeSymlinkEscape: 'link_escape',
  symlinkLoop: 'link_escape',
  dotLinkEscape: 'link_escape',
  laterLinkEscape: 'link_escape',
  hardlinkEscape: 'link_escape',
  device: 'special_file',
  blockDevice: 'special_file',
  fifo: 'special_file',
};

/** Every malicious archive the restore must refuse, keyed by what makes it malicious. */
export function maliciousFixtures(outside: string): Record<string, FixtureEntry[]> {
  const ok = (name: string): FixtureEntry => ({ header: { name, type: 'file' }, body: Buffer.from('fine\n') });
  return {
    traversal: [ok('flows.json'), { header: { name: '../../escaped.txt', type: 'file' }, body: Buffer.from('pwned') }],
    nestedTraversal: [ok('flows.json'), { header: { name: 'lib/../../../escaped.txt', type: 'file' }, body: Buffer.from('pwned') }],
    absolute: [ok('flows.json'), { header: { name: `${outside}/absolute.txt`, type: 'file' }, body: Buffer.from('pwned') }],
    symlinkEscape: [ok('flows.json'), { header: { name: 'out', type: 'symlink', linkname: outside } }, { header: { name: 'out/pwned.txt', type: 'file' }, body: Buffer.from('pwned') }],
    relativeSymlinkEscape: [{ header: { name: 'lib/out', type: 'symlink', linkname: '../../..' } }, { header: { name: 'lib/out/pwned.txt', type: 'file' }, body: Buffer.from('pwned') }],
    symlinkLoop: [{ header: { name: 'here', type: 'symlink', linkname: '.' } }, { header: { name: 'here/x', type: 'symlink', linkname: '..' } }, { header: { name: 'here/x/pwned.txt', type: 'file' }, body: Buffer.from('pwned') }],
    dotLinkEscape: [ok('flows.json'), { header: { name: 'l', type: 'symlink', linkname: '.' } }, { header: { name: 'esc', type: 'symlink', linkname: 'l/..' } }],
    laterLinkEscape: [ok('flows.json'), { header: { name: 'esc', type: 'symlink', linkname: 'l/../outside' } }, { header: { name: 'l', type: 'symlink', linkname: '.' } }],
    hardlinkEscape: [{ header: { name: 'passwd', type: 'link', linkname: '/etc/passwd' } }],
    device: [ok('flows.json'), { header: { name: 'null', type: 'character-device', devmajor: 1, devminor: 3 } }],
    blockDevice: [{ header: { name: 'disk', type: 'block-device', devmajor: 8, devminor: 0 } }],
    fifo: [{ header: { name: 'pipe', type: 'fifo' } }],
  };
}
