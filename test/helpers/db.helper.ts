import crypto from 'node:crypto';
import pg from 'pg';
import type { Db } from '../../src/db/db.js';
import { PgliteDb } from '../../src/db/pglite.db.js';
import { PostgresDb } from '../../src/db/postgres.db.js';

export interface TestDb {
  db: Db;
  /** Set when the test runs on a Postgres server: the URL of this test's own database. */
  url: string | null;
  drop(): Promise<void>;
}

/**
 * TEST_DATABASE_URL (set by .ci/run for the second pass) points at a real Postgres server: each
 * test gets its own database there. Without it, each test gets an in-memory PGlite.
 */
export async function createTestDb(): Promise<TestDb> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) {
    const db = await PgliteDb.open(null);
    return { db, url: null, drop: () => db.close() };
  }
  const name = `openflow_t_${crypto.randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} TEMPLATE template0`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const db = new PostgresDb(url.toString());
  return {
    db,
    url: url.toString(),
    async drop() {
      await db.close().catch(() => undefined);
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
