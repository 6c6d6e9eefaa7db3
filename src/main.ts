#!/usr/bin/env node
import fs from 'node:fs';
import { buildApp } from './app.js';
import { ConfigError, parseConfig, type Config } from './config.js';
import { MIGRATIONS } from './db/migrations.js';
import { migrate } from './db/migrator.js';
import { openDb } from './db/open.js';
import { loadOrCreateSessionSecret } from './platform/session-secret.js';

const USAGE = `Usage: openflow <command>

Commands:
  start     run the manager (default)
  migrate   apply pending database migrations and exit
`;

async function loadConfig(): Promise<Config> {
  if (fs.existsSync('.env')) process.loadEnvFile('.env');
  const config = parseConfig(process.env);
  fs.mkdirSync(config.dataPath, { recursive: true });
  config.sessionSecret ??= await loadOrCreateSessionSecret(config.dataPath);
  return config;
}

async function runMigrate(): Promise<void> {
  const config = await loadConfig();
  const db = await openDb(config);
  try {
    const result = await migrate(db, MIGRATIONS);
    console.log(result.applied.length ? `Applied migrations ${result.applied.join(', ')}; schema at version ${result.current}.` : `Schema is up to date (version ${result.current}).`);
  } finally {
    await db.close();
  }
}

async function runStart(): Promise<void> {
  const config = await loadConfig();
  const started = Date.now();
  const db = await openDb(config);
  const openflow = await buildApp(config, { db });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    openflow.log.info({ signal }, 'shutting down');
    await openflow.close();
    await db.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  const port = await openflow.listen();
  const engine = config.databaseUrl ? 'Postgres server' : 'embedded Postgres (PGlite)';
  console.log(`\nOpenflow is running (${engine}, started in ${Date.now() - started} ms).\n  Dashboard: ${config.publicUrl.replace(`:${config.port}`, `:${port}`)}\n`);
}

async function main(): Promise<void> {
  const command = process.argv[2] ?? 'start';
  if (command === 'start') return runStart();
  if (command === 'migrate') return runMigrate();
  process.stdout.write(USAGE);
  process.exitCode = command === 'help' || command === '--help' ? 0 : 2;
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(err.message);
  else console.error(err);
  process.exit(1);
});
