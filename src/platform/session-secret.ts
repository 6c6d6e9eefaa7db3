import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * SESSION_SECRET keys every sealed secret in the database, so an embedded start without one
 * generates it once and keeps it beside the data; losing it makes stored secrets unreadable.
 */
export async function loadOrCreateSessionSecret(dataPath: string): Promise<string> {
  const file = path.join(dataPath, 'session-secret');
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = crypto.randomBytes(48).toString('base64url');
  await fs.mkdir(dataPath, { recursive: true });
  await fs.writeFile(file, secret + '\n', { mode: 0o600, flag: 'wx' });
  return secret;
}
