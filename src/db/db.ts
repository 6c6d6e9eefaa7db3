/** The database seam: one small interface over PGlite (embedded) and node-postgres (server). */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs fn in one transaction on one connection; rolls back when fn throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Runs fn holding a session-level advisory lock on a dedicated connection. */
  withLock<T>(key: number, fn: (conn: Queryable) => Promise<T>): Promise<T>;
  /** Runs fn only if the advisory lock is free right now; returns null when another holder has it. */
  tryWithLock<T>(key: number, fn: (conn: Queryable) => Promise<T>): Promise<T | null>;
  close(): Promise<void>;
}

export async function one<T>(q: Queryable, sql: string, params?: readonly unknown[]): Promise<T | null> {
  const rows = await q.query<T>(sql, params);
  return rows[0] ?? null;
}

/** Advisory lock keys: one place so two features never share a key by accident. */
export const LOCKS = {
  migrations: 710_001,
  backupSchedule: 710_002,
  auditSummary: 710_003,
} as const;
