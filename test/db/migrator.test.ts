import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/db/migrations.js';
import { migrate } from '../../src/db/migrator.js';
import { PostgresDb } from '../../src/db/postgres.db.js';
import { createTestDb, type TestDb } from '../helpers/db.helper.js';

describe('migrations', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb();
  });
  afterAll(async () => {
    await t?.drop();
  });

  it('applies every migration once; a second run is a no-op', async () => {
    const first = await migrate(t.db, MIGRATIONS);
    expect(first.applied).toEqual(MIGRATIONS.map((m) => m.version));
    const second = await migrate(t.db, MIGRATIONS);
    expect(second.applied).toEqual([]);
    expect(second.current).toBe(first.current);
    const tables = (await t.db.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`)).map((r) => r.table_name);
    expect(tables).toEqual(expect.arrayContaining(['users', 'projects', 'project_members', 'instances', 'instance_aliases', 'snapshots', 'backups', 'audit_log', 'sessions', 'api_tokens', 'access_tokens']));
  });

  it('lets only one of two concurrent managers migrate (real Postgres only)', async () => {
    if (!t.url) return;
    const fresh = await createTestDb();
    const a = new PostgresDb(fresh.url!);
    const b = new PostgresDb(fresh.url!);
    try {
      const [ra, rb] = await Promise.all([migrate(a, MIGRATIONS), migrate(b, MIGRATIONS)]);
      expect([...ra.applied, ...rb.applied].sort()).toEqual(MIGRATIONS.map((m) => m.version));
      const rows = await a.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
      expect(rows[0]!.n).toBe(MIGRATIONS.length);
    } finally {
      await a.close();
      await b.close();
      await fresh.drop();
    }
  });

  it('rolls back a failing migration and names it', async () => {
    const bad = [...MIGRATIONS, { version: 9999, name: 'broken', sql: 'CREATE TABLE ok_table (id int); SELECT * FROM no_such_table;' }];
    await expect(migrate(t.db, bad)).rejects.toThrow(/Migration 9999 \(broken\)/);
    const tables = await t.db.query(`SELECT 1 FROM information_schema.tables WHERE table_name = 'ok_table'`);
    expect(tables).toHaveLength(0);
  });
});
