import crypto from 'node:crypto';

/** Node-RED's flows_cred.json: {"$": hex(iv16) + base64(AES-256-CTR(JSON))} keyed by sha256(credentialSecret). */
export type EncryptedCredentials = { $: string };
export type CredentialMap = Record<string, Record<string, unknown>>;

function keyOf(secret: string): Buffer {
  return crypto.createHash('sha256').update(secret).digest();
}

export function encryptCredentials(creds: CredentialMap, secret: string): EncryptedCredentials {
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv('aes-256-ctr', keyOf(secret), iv);
  return { $: iv.toString('hex') + cipher.update(JSON.stringify(creds), 'utf8', 'base64') + cipher.final('base64') };
}

/** Throws when the secret is wrong: CTR has no tag, but the plaintext then is not JSON. */
export function decryptCredentials(file: EncryptedCredentials, secret: string): CredentialMap {
  const iv = Buffer.from(file.$.slice(0, 32), 'hex');
  const decipher = crypto.createDecipheriv('aes-256-ctr', keyOf(secret), iv);
  const text = decipher.update(file.$.slice(32), 'base64', 'utf8') + decipher.final('utf8');
  return JSON.parse(text) as CredentialMap;
}

/** Splits Node-RED export-format flows (credentials inline on nodes) into flows and a credential map. */
export function splitInlineCredentials(flows: unknown[]): { flows: unknown[]; credentials: CredentialMap } {
  const credentials: CredentialMap = {};
  const clean = flows.map((n) => {
    const node = n as { id?: string; credentials?: Record<string, unknown> };
    if (!node.credentials || !node.id) return n;
    const { credentials: c, ...rest } = node;
    credentials[node.id] = c;
    return rest;
  });
  return { flows: clean, credentials };
}
