import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { buildApp, type AppDeps, type Openflow } from '../../src/app.js';
import { parseConfig, type Config } from '../../src/config.js';
import { openDb } from '../../src/db/open.js';
import { createTestDb, type TestDb } from './db.helper.js';

export interface TestApp {
  openflow: Openflow;
  config: Config;
  url: string;
  port: number;
  logs: string[];
  testDb: TestDb;
  dataPath: string;
  /** Stops the manager; `keepData` leaves the database and data dir for a restart. */
  close(opts?: { keepData?: boolean }): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  deps?: Partial<AppDeps>;
  /** Reuse the database and data dir of a previous app (restart scenarios). */
  reuse?: { testDb: TestDb; dataPath: string };
  /**
   * Open the database the way `openflow start` does (PGlite files under DATA_PATH/db, or the test's
   * Postgres database) and close it with the app, so a restart really reopens it.
   */
  likeProduction?: boolean;
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export async function startTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const dataPath = opts.reuse?.dataPath ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'openflow-test-')));
  const testDb = opts.reuse?.testDb ?? (await createTestDb());
  // Instance URLs and the Launch callback embed the manager's port, so it is chosen before start.
  const config = parseConfig({
    PORT: String(await freePort()),
    DATA_PATH: dataPath,
    SESSION_SECRET: 'test-session-secret-0123456789-abcdefghijklmnop',
    PASSWORD_HASH_COST: '10',
    AUTH_RATE_LIMIT: '10000',
    LOG_LEVEL: 'info',
    MQTT_PORT: '0',
    ...opts.env,
  });
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const db = opts.likeProduction ? await openDb({ dataPath, databaseUrl: testDb.url }) : testDb.db;
  const openflow = await buildApp(config, { db, logStream, ...opts.deps });
  const port = await openflow.listen();
  return {
    openflow,
    config,
    url: `http://127.0.0.1:${port}`,
    port,
    logs,
    testDb,
    dataPath,
    async close(closeOpts = {}) {
      await openflow.close();
      if (opts.likeProduction) await db.close();
      if (closeOpts.keepData) return;
      await testDb.drop();
      await fs.rm(dataPath, { recursive: true, force: true });
    },
  };
}
