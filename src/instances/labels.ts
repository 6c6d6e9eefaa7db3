import { AppError } from '../errors.js';

const LABEL = /^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Names that belong to the platform itself or are commonly used for other services on the same domain. */
export const RESERVED_LABELS = new Set([
  'www', 'api', 'admin', 'mqtt', 'manager', 'dashboard', 'app', 'auth', 'login', 'logout', 'status', 'docs', 'help',
  'support', 'mail', 'smtp', 'imap', 'ftp', 'static', 'assets', 'cdn', 'ws', 'wss', 'openflow', 'emqx', 'nginx',
  'localhost', 'root', 'system', 'internal', 'node-red', 'nodered', 'broker', 'console', 'metrics', 'grafana',
]);

/** A subdomain or alias: one DNS label, lower-case, starting with a letter, not reserved. */
export function validateLabel(label: string, field: string): void {
  if (!LABEL.test(label)) {
    throw new AppError(400, 'invalid_subdomain', `${field} must be 1-63 characters of a-z, 0-9 and '-', start with a letter and not end with '-'`, { field });
  }
  if (RESERVED_LABELS.has(label)) throw new AppError(400, 'reserved_subdomain', `${field} "${label}" is reserved`, { field });
}
