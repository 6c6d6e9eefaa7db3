import { PGlite } from '@electric-sql/pglite';
import type { Db, Queryable } from './db.js';

/**
 * PGlite is one connection inside this process, so advisory locks cannot be contended here;
 * a second manager cannot open the same data directory anyway. Locks still run through
 * Postgres so the code path is the same as on a server.
 */
export class PgliteDb implements Db {
  readonly kind = 'pglite' as const;

  private constructor(private readonly pg: PGlite) {}

  static async open(dataDir: string | null): Promise<PgliteDb> {
    const pg = dataDir ? await PGlite.create(dataDir) : await PGlite.create();
    return new PgliteDb(pg);
  }

  async query<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    const res = await this.pg.query<T>(sql, params as unknown[]);
    return res.rows;
  }

  async exec(sql: string): Promise<void> {
    await this.pg.exec(sql);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.pg.transaction(async (tx) =>
      fn({
        query: async <R>(sql: string, params: readonly unknown[] = []) => (await tx.query<R>(sql, params as unknown[])).rows,
        exec: async (sql: string) => {
          await tx.exec(sql);
        },
      }),
    );
  }

  async withLock<T>(key: number, fn: (conn: Queryable) => Promise<T>): Promise<T> {
    await this.pg.query('SELECT pg_advisory_lock($1)', [key]);
    try {
      return await fn(this);
    } finally {
      await this.pg.query('SELECT pg_advisory_unlock($1)', [key]);
    }
  }

  async tryWithLock<T>(key: number, fn: (conn: Queryable) => Promise<T>): Promise<T | null> {
    return this.withLock(key, fn);
  }

  async close(): Promise<void> {
    await this.pg.close();
  }
}
