import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { readStableFiles } from '../backups/stable-read.js';
import { decryptCredentials, encryptCredentials, type CredentialMap, type EncryptedCredentials } from '../nodered/credentials.js';
import type { FlowNode } from './flow-diff.js';
import { isModuleName } from './module-installer.js';

export const FLOWS_FILE = 'flows.json';
export const CREDENTIALS_FILE = 'flows_cred.json';

export interface FlowFiles {
  flows: FlowNode[];
  /** Plain credentials, decrypted with the instance's credentialSecret. */
  credentials: CredentialMap;
}

export class CredentialsUnreadableError extends Error {
  constructor() {
    super("flows_cred.json cannot be decrypted with the instance's credential secret");
    this.name = 'CredentialsUnreadableError';
  }
}

function parseFlows(text: string | undefined): FlowNode[] {
  if (text === undefined || text.trim() === '') return [];
  const parsed: unknown = JSON.parse(text);
  // Node-RED also accepts the v2 shape {flows, rev} in a flows file.
  const list = Array.isArray(parsed) ? parsed : (parsed as { flows?: unknown }).flows;
  if (!Array.isArray(list)) throw new Error('flows.json does not hold a list of nodes');
  return list as FlowNode[];
}

function parseCredentials(text: string | undefined, secret: string): CredentialMap {
  if (text === undefined || text.trim() === '') return {};
  const parsed = JSON.parse(text) as EncryptedCredentials | CredentialMap;
  if (typeof (parsed as EncryptedCredentials).$ !== 'string') return parsed as CredentialMap;
  try {
    return decryptCredentials(parsed as EncryptedCredentials, secret);
  } catch {
    throw new CredentialsUnreadableError();
  }
}

/** The flows and credentials a running or stopped instance would load, read as one consistent pair. */
export async function readFlowFiles(userDir: string, credentialSecret: string): Promise<FlowFiles> {
  const files = await readStableFiles(userDir, [FLOWS_FILE, CREDENTIALS_FILE]);
  return {
    flows: parseFlows(files.get(FLOWS_FILE)?.data.toString('utf8')),
    credentials: parseCredentials(files.get(CREDENTIALS_FILE)?.data.toString('utf8'), credentialSecret),
  };
}

/** Written beside the target and renamed over it, the way Node-RED saves, so a reader never sees half a file. */
export async function writeFileAtomic(file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.${crypto.randomBytes(6).toString('hex')}.tmp`;
  try {
    await fs.writeFile(tmp, data, { mode: 0o600 });
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Credentials are always written, an empty set included, so no credential of the previous flows outlives them.
 * The credentials file goes first: a runtime that reloads between the two writes finds new credentials it does not
 * use yet, never old credentials under new node ids.
 */
export async function writeFlowFiles(userDir: string, files: FlowFiles, credentialSecret: string): Promise<void> {
  await fs.mkdir(userDir, { recursive: true });
  await writeFileAtomic(path.join(userDir, CREDENTIALS_FILE), JSON.stringify(encryptCredentials(files.credentials, credentialSecret)));
  await writeFileAtomic(path.join(userDir, FLOWS_FILE), JSON.stringify(files.flows, null, 4));
}

async function readJson(file: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Palette modules installed in a userDir (its package.json dependencies, as Node-RED's palette manager records
 * them) with the version actually installed, or the declared range when the module's folder is missing.
 */
export async function readInstalledModules(userDir: string): Promise<Record<string, string>> {
  const pkg = await readJson(path.join(userDir, 'package.json'));
  const deps = (pkg?.dependencies ?? {}) as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(deps)) {
    if (typeof spec !== 'string' || !isModuleName(name)) continue;
    const installed = await readJson(path.join(userDir, 'node_modules', name, 'package.json'));
    out[name] = typeof installed?.version === 'string' ? installed.version : spec;
  }
  return out;
}

/** Modules of `wanted` with no installed folder under `userDir`. */
export async function missingModules(userDir: string, wanted: Record<string, string>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, version] of Object.entries(wanted)) {
    if (!isModuleName(name) || !(await readJson(path.join(userDir, 'node_modules', name, 'package.json')))) out[name] = version;
  }
  return out;
}
