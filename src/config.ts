import path from 'node:path';

export type DriverName = 'process' | 'docker' | 'kubernetes';
export type BrokerMode = 'embedded' | 'external';

export interface Config {
  port: number;
  host: string;
  dataPath: string;
  databaseUrl: string | null;
  rootDomain: string;
  /** Base URL people use to reach the manager; instance URLs share its scheme and port. */
  publicUrl: string;
  sessionSecret: string | null;
  allowSignup: boolean;
  driver: DriverName;
  portRange: { start: number; end: number };
  mqtt: { broker: BrokerMode; port: number; portExplicit: boolean; publicUrl: string | null };
  /** URL instances use to call the manager back (Launch redemption). */
  instanceCallbackUrl: string;
  logLevel: string;
  /** Login/register attempts per client address per minute. */
  authRateLimit: number;
  /** log2 of scrypt's N for new password hashes. */
  passwordHashCost: number;
  /** Palette catalogues the editors fetch; [] on networks that cannot reach them. */
  paletteCatalogues: string[];
  /** On a clean manager shutdown: stop instances, or leave them for the next manager to adopt. */
  instancesOnShutdown: 'stop' | 'leave';
  /** Supervision: restart delays after successive crashes; as many crashes within the window put an instance in error. */
  crashBackoffMs: number[];
  crashWindowMs: number;
  /** Optional LLM-written audit prose; the API-stored settings win over these. */
  auditSummary: AuditSummaryConfig;
  /** DRIVER=docker: the engine, the network instances share, the image they run and the user they run as. */
  docker: DockerConfig;
}

export interface DockerConfig {
  socket: string;
  network: string;
  image: string;
  /** uid:gid Node-RED runs as in its container; null keeps the image's user. */
  user: { uid: number; gid: number } | null;
  /** Host name instances use for MQTT; null = host.docker.internal (embedded broker) or `emqx` (MQTT_BROKER=external). */
  mqttHost: string | null;
}

export interface AuditSummaryConfig {
  enabled: boolean;
  apiKey: string | null;
  /** Provider endpoint (gateways, tests); null = the provider's own. */
  baseUrl: string | null;
  model: string;
  dailyTokenBudget: number;
  /** How long rows gather before a batch is sent; also the base of the retry backoff. */
  intervalMs: number;
  /** Per-request timeout towards the provider. */
  timeoutMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
/** Provider model ids and gateway aliases: letters, digits and a few separators. */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,99}$/;

/** Parses the environment once, collecting every bad variable before failing. */
export function parseConfig(env: Record<string, string | undefined>, cwd = process.cwd()): Config {
  const problems: string[] = [];
  const str = (key: string, fallback: string) => {
    const v = env[key];
    return v === undefined || v === '' ? fallback : v;
  };
  const int = (key: string, fallback: number, min: number, max: number) => {
    const raw = env[key];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${key} must be an integer between ${min} and ${max} (got "${raw}")`);
      return fallback;
    }
    return n;
  };
  const oneOf = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    const raw = env[key];
    if (raw === undefined || raw === '') return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      problems.push(`${key} must be one of ${allowed.join(', ')} (got "${raw}")`);
      return fallback;
    }
    return raw as T;
  };
  const bool = (key: string, fallback: boolean) => {
    const raw = env[key];
    if (raw === undefined || raw === '') return fallback;
    if (['true', '1', 'yes'].includes(raw)) return true;
    if (['false', '0', 'no'].includes(raw)) return false;
    problems.push(`${key} must be true or false (got "${raw}")`);
    return fallback;
  };
  const url = (key: string, value: string | null, protocols: string[]) => {
    if (value === null) return null;
    try {
      const u = new URL(value);
      if (!protocols.includes(u.protocol)) problems.push(`${key} must use ${protocols.join(' or ')} (got "${value}")`);
    } catch {
      problems.push(`${key} must be a URL (got "${value}")`);
    }
    return value;
  };

  const backoff = () => {
    const raw = str('INSTANCE_CRASH_BACKOFF_MS', '1000,2000,5000,10000,30000');
    const list = raw.split(',').map((v) => Number(v.trim()));
    if (list.length < 1 || list.length > 20 || list.some((n) => !Number.isInteger(n) || n < 0 || n > 600_000)) {
      problems.push(`INSTANCE_CRASH_BACKOFF_MS must be 1-20 comma-separated delays in ms (got "${raw}")`);
      return [1000];
    }
    return list;
  };
  const containerUser = () => {
    const raw = env.NODE_RED_USER;
    if (raw === undefined || raw === '') return null;
    const m = /^(\d{1,10}):(\d{1,10})$/.exec(raw);
    if (!m) {
      problems.push(`NODE_RED_USER must be uid:gid in numbers (got "${raw}")`);
      return null;
    }
    return { uid: Number(m[1]), gid: Number(m[2]) };
  };
  const port = int('PORT', 4071, 0, 65535);
  const host = str('HOST', '127.0.0.1');
  const dataPath = path.resolve(cwd, str('DATA_PATH', './data'));
  const databaseUrl = url('DATABASE_URL', env.DATABASE_URL || null, ['postgres:', 'postgresql:']);
  const rootDomain = str('ROOT_DOMAIN', 'localhost').toLowerCase();
  if (!rootDomain.split('.').every((l) => LABEL.test(l))) problems.push(`ROOT_DOMAIN must be a domain name (got "${rootDomain}")`);
  const publicUrl = (url('PUBLIC_URL', str('PUBLIC_URL', `http://${rootDomain}:${port}`), ['http:', 'https:']) ?? '').replace(/\/+$/, '');
  const sessionSecret = env.SESSION_SECRET || null;
  if (sessionSecret !== null && sessionSecret.length < 32) problems.push('SESSION_SECRET must be at least 32 characters');
  const start = int('PORT_RANGE_START', 10000, 1024, 65535);
  const end = int('PORT_RANGE_END', 11000, 1024, 65535);
  if (end < start) problems.push(`PORT_RANGE_END (${end}) must not be below PORT_RANGE_START (${start})`);
  const mqttPort = int('MQTT_PORT', 1883, 0, 65535);
  const logLevel = str('LOG_LEVEL', 'info');
  if (!LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LEVELS.join(', ')} (got "${logLevel}")`);

  const summaryModel = str('AUDIT_SUMMARY_MODEL', 'claude-haiku-4-5');
  if (!MODEL_NAME.test(summaryModel)) problems.push(`AUDIT_SUMMARY_MODEL must be a model name (got "${summaryModel}")`);

  const config: Config = {
    port,
    host,
    dataPath,
    databaseUrl,
    rootDomain,
    publicUrl,
    sessionSecret,
    allowSignup: bool('ALLOW_SIGNUP', false),
    driver: oneOf('DRIVER', ['process', 'docker', 'kubernetes'] as const, 'process'),
    portRange: { start, end },
    mqtt: {
      broker: oneOf('MQTT_BROKER', ['embedded', 'external'] as const, 'embedded'),
      port: mqttPort,
      portExplicit: Boolean(env.MQTT_PORT),
      publicUrl: url('MQTT_PUBLIC_URL', env.MQTT_PUBLIC_URL || null, ['mqtt:', 'mqtts:', 'ws:', 'wss:']),
    },
    instanceCallbackUrl: (url('INSTANCE_CALLBACK_URL', str('INSTANCE_CALLBACK_URL', `http://127.0.0.1:${port}`), ['http:', 'https:']) ?? '').replace(/\/+$/, ''),
    logLevel,
    authRateLimit: int('AUTH_RATE_LIMIT', 10, 1, 100_000),
    passwordHashCost: int('PASSWORD_HASH_COST', 16, 10, 20),
    paletteCatalogues: str('PALETTE_CATALOGUES', 'https://catalogue.nodered.org/catalogue.json') === 'none' ? [] : str('PALETTE_CATALOGUES', 'https://catalogue.nodered.org/catalogue.json').split(',').map((u) => u.trim()).filter(Boolean),
    crashBackoffMs: backoff(),
    crashWindowMs: int('INSTANCE_CRASH_WINDOW_MS', 300_000, 1_000, 86_400_000),
    instancesOnShutdown: oneOf('INSTANCES_ON_SHUTDOWN', ['stop', 'leave'] as const, 'stop'),
    auditSummary: {
      enabled: bool('AUDIT_SUMMARY_ENABLED', false),
      apiKey: env.ANTHROPIC_API_KEY || null,
      baseUrl: url('ANTHROPIC_BASE_URL', env.ANTHROPIC_BASE_URL || null, ['http:', 'https:']),
      model: summaryModel,
      dailyTokenBudget: int('AUDIT_SUMMARY_DAILY_TOKEN_BUDGET', 2_000_000, 0, 1_000_000_000_000),
      intervalMs: int('AUDIT_SUMMARY_INTERVAL_MS', 60_000, 100, 86_400_000),
      timeoutMs: int('AUDIT_SUMMARY_TIMEOUT_MS', 60_000, 100, 600_000),
    },
    docker: {
      socket: str('DOCKER_SOCKET', '/var/run/docker.sock'),
      network: str('DOCKER_NETWORK', 'openflow-network'),
      image: str('NODE_RED_IMAGE', 'openflow/node-red:4.1'),
      user: containerUser(),
      mqttHost: env.DOCKER_MQTT_HOST || null,
    },
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
