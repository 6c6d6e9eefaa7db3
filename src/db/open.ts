import path from 'node:path';
import type { Config } from '../config.js';
import type { Db } from './db.js';
import { PgliteDb } from './pglite.db.js';
import { PostgresDb } from './postgres.db.js';

/** DATABASE_URL selects a Postgres server; without it the embedded engine keeps its files under DATA_PATH/db. */
export async function openDb(config: Pick<Config, 'databaseUrl' | 'dataPath'>): Promise<Db> {
  if (config.databaseUrl) return new PostgresDb(config.databaseUrl);
  return PgliteDb.open(path.join(config.dataPath, 'db'));
}
