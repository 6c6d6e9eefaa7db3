import pg from 'pg';
import type { Db, Queryable } from './db.js';

/** Timestamps come back as Date in both engines; int8 and numeric as numbers, as PGlite does. */
function typeParsers(): pg.CustomTypesConfig {
  return {
    getTypeParser: ((oid: number, format?: string) => {
      if (oid === 20 || oid === 1700) return (v: string) => Number(v);
      return pg.types.getTypeParser(oid, format as 'text');
    }) as pg.CustomTypesConfig['getTypeParser'],
  };
}

function clientQueryable(client: pg.PoolClient): Queryable {
  return {
    query: async <R>(sql: string, params: readonly unknown[] = []) => (await client.query(sql, params as unknown[])).rows as R[],
    exec: async (sql: string) => {
      await client.query(sql);
    },
  };
}

export class PostgresDb implements Db {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;

  constructor(connectionString: string, max = 10) {
    this.pool = new pg.Pool({ connectionString, max, types: typeParsers() });
  }

  async query<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    const res = await this.pool.query(sql, params as unknown[]);
    return res.rows as T[];
  }

  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const tx = clientQueryable(client);
    try {
      await client.query('BEGIN');
      const result = await fn(tx);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async withLock<T>(key: number, fn: (conn: Queryable) => Promise<T>): Promise<T> {
    return (await this.locked(key, true, fn)) as T;
  }

  async tryWithLock<T>(key: number, fn: (conn: Queryable) => Promise<T>): Promise<T | null> {
    return this.locked(key, false, fn);
  }

  /** Session-level advisory locks belong to one connection, so the lock and fn share a dedicated client. */
  private async locked<T>(key: number, wait: boolean, fn: (conn: Queryable) => Promise<T>): Promise<T | null> {
    const client = await this.pool.connect();
    try {
      if (wait) await client.query('SELECT pg_advisory_lock($1)', [key]);
      else if (!(await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [key])).rows[0]?.ok) return null;
      try {
        return await fn(clientQueryable(client));
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [key]);
      }
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
