import crypto from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(crypto.scrypt) as (pw: crypto.BinaryLike, salt: crypto.BinaryLike, len: number, opts: crypto.ScryptOptions) => Promise<Buffer>;

const KEY_LEN = 32;
const MAXMEM = 512 * 1024 * 1024;

/**
 * scrypt with its cost in the stored string, so the cost can rise later and old hashes still verify.
 * Production uses N=2^16 (64 MiB, r=8); tests lower N to keep suites fast.
 */
export class PasswordHasher {
  constructor(private readonly log2N = 16) {}

  async hash(password: string): Promise<string> {
    const N = 2 ** this.log2N;
    const salt = crypto.randomBytes(16);
    const key = await scrypt(password.normalize('NFKC'), salt, KEY_LEN, { N, r: 8, p: 1, maxmem: MAXMEM });
    return `scrypt$${N}$8$1$${salt.toString('base64url')}$${key.toString('base64url')}`;
  }

  async verify(password: string, stored: string): Promise<boolean> {
    const [scheme, n, r, p, saltB64, keyB64] = stored.split('$');
    if (scheme !== 'scrypt' || !n || !r || !p || !saltB64 || !keyB64) return false;
    const expected = Buffer.from(keyB64, 'base64url');
    const actual = await scrypt(password.normalize('NFKC'), Buffer.from(saltB64, 'base64url'), expected.length, {
      N: Number(n),
      r: Number(r),
      p: Number(p),
      maxmem: MAXMEM,
    });
    return crypto.timingSafeEqual(actual, expected);
  }
}

/** Random secret with `bytes` of entropy, URL- and header-safe. */
export function randomToken(bytes = 32, prefix = ''): string {
  return prefix + crypto.randomBytes(bytes).toString('base64url');
}

/** Tokens are stored as SHA-256: they are high-entropy, so a slow hash buys nothing. */
export function sha256Hex(value: string | Buffer): string {
  return crypto.createHash('sha256').update(value).digest('hex');
}

export function safeEqual(a: string, b: string): boolean {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb);
}

/**
 * Authenticated encryption (AES-256-GCM) for secrets the manager must read back later:
 * instance secrets, snapshot credentials, provider keys. The key is derived per purpose.
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(masterSecret: string, purpose: string) {
    this.key = Buffer.from(crypto.hkdfSync('sha256', masterSecret, 'openflow', purpose, 32));
  }

  seal(plaintext: string): string {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `v1.${iv.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}.${body.toString('base64url')}`;
  }

  open(sealed: string): string {
    const [v, iv, tag, body] = sealed.split('.');
    if (v !== 'v1' || !iv || !tag || body === undefined) throw new Error('Unrecognised sealed value');
    const decipher = crypto.createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }
}
