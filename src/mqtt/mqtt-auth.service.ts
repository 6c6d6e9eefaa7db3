import crypto from 'node:crypto';
import type { AuditService } from '../audit/audit.service.js';
import { one, type Db } from '../db/db.js';
import { AppError } from '../errors.js';
import { requireActor, type RequestContext } from '../identity/actor.js';
import type { ProjectService } from '../identity/project.service.js';
import type { Clock } from '../platform/clock.js';
import { randomToken, sha256Hex } from '../platform/crypto.js';
import type { BrokerAuthenticator, BrokerAuthResult } from './embedded-broker.js';
import { tenantFor } from './tenant.js';

export interface MqttClientInfo {
  id: string;
  username: string;
  description: string;
  instanceId: string | null;
  createdAt: string;
  revokedAt: string | null;
}

export interface MqttConnectRequest {
  username: string;
  password: string;
  clientid: string;
  peerhost: string;
}

/** The EMQX 5.7+/5.8 HTTP authentication response. Allow always carries the tenant (mountpoint source). */
export type EmqxAuthResponse =
  | { result: 'allow'; is_superuser: false; client_attrs: { tenant: string }; acl: { permission: 'allow'; action: 'all'; topic: string }[] }
  | { result: 'deny' };

interface CredentialRow {
  id: string;
  project_id: string;
  instance_id: string | null;
  username: string;
  password_hash: string;
  description: string;
  created_at: Date;
  revoked_at: Date | null;
}

/** Live sessions of a credential must end when it is revoked; only the embedded broker can do that here. */
export interface SessionKicker {
  disconnectUser(username: string): number;
}

const FAILURES_PER_MINUTE = 20;
/**
 * Credentials are cached briefly: every CONNECT (and every EMQX re-auth) would otherwise cost a
 * database round trip. Revocation here clears the entry at once; another replica's revocation is
 * seen within the TTL.
 */
const CACHE_TTL_MS = 5_000;
const CACHE_MAX = 10_000;
const DECOY_HASH = sha256Hex('openflow-decoy');

/**
 * One authentication path for MQTT: the embedded broker calls authenticate() directly and EMQX calls
 * /mqtt/auth, which maps the same answer onto its contract. Passwords are random 192-bit secrets the
 * platform generated, so a SHA-256 digest compared in constant time is the right cost per CONNECT.
 */
export class MqttAuthService implements BrokerAuthenticator {
  private readonly failures = new Map<string, { windowStart: number; count: number }>();
  private readonly cache = new Map<string, { row: CredentialRow | null; at: number }>();
  private kicker: SessionKicker | null = null;

  constructor(
    private readonly db: Db,
    private readonly projects: ProjectService,
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {}

  attachBroker(kicker: SessionKicker): void {
    this.kicker = kicker;
  }

  async authenticate(input: { username: string; password: string; clientId: string; peerhost: string }): Promise<BrokerAuthResult | null> {
    const keys = [`u:${input.username}`, `p:${input.peerhost}`];
    if (keys.some((k) => this.limited(k))) return null;
    const row = input.username ? await this.lookup(input.username) : null;
    const given = Buffer.from(sha256Hex(input.password ?? ''), 'hex');
    const expected = Buffer.from(row?.password_hash ?? DECOY_HASH, 'hex');
    const ok = crypto.timingSafeEqual(given, expected) && row !== null && row.revoked_at === null;
    if (!ok) {
      for (const k of keys) this.fail(k);
      return null;
    }
    return { tenant: tenantFor(row.project_id) };
  }

  async emqx(body: unknown): Promise<EmqxAuthResponse> {
    const req = parseConnectRequest(body);
    if (!req) return { result: 'deny' };
    const auth = await this.authenticate({ username: req.username, password: req.password, clientId: req.clientid, peerhost: req.peerhost });
    if (!auth) return { result: 'deny' };
    return { result: 'allow', is_superuser: false, client_attrs: { tenant: auth.tenant }, acl: [{ permission: 'allow', action: 'all', topic: '#' }] };
  }

  async list(ctx: RequestContext, projectId: string): Promise<MqttClientInfo[]> {
    await this.projects.access(requireActor(ctx), projectId, 'member');
    const rows = await this.db.query<CredentialRow>('SELECT * FROM mqtt_clients WHERE project_id = $1 ORDER BY created_at', [projectId]);
    return rows.map(toInfo);
  }

  async create(ctx: RequestContext, projectId: string, description: string): Promise<MqttClientInfo & { password: string }> {
    const actor = requireActor(ctx);
    return this.audit.run(
      ctx,
      'mqtt.client.create',
      { type: 'mqtt_client', projectId, label: description },
      async () => {
        await this.projects.access(actor, projectId, 'member');
        const password = randomToken(24);
        const username = `dev-${randomToken(6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
        const rows = await this.db.query<CredentialRow>(
          `INSERT INTO mqtt_clients (id, project_id, username, password_hash, description, created_by) VALUES ($1,$2,$3,$4,$5,$6) RETURNING *`,
          [crypto.randomUUID(), projectId, username, sha256Hex(password), description, actor.userId],
        );
        return { ...toInfo(rows[0]!), password };
      },
      (c) => ({ id: c.id, label: c.username }),
    );
  }

  async revoke(ctx: RequestContext, projectId: string, clientId: string): Promise<void> {
    const actor = requireActor(ctx);
    await this.audit.run(ctx, 'mqtt.client.revoke', { type: 'mqtt_client', id: clientId, projectId }, async () => {
      await this.projects.access(actor, projectId, 'member');
      const rows = await this.db.query<CredentialRow>(
        'UPDATE mqtt_clients SET revoked_at = $3 WHERE id = $1 AND project_id = $2 AND instance_id IS NULL AND revoked_at IS NULL RETURNING *',
        [clientId, projectId, this.clock.now()],
      );
      if (!rows[0]) throw new AppError(404, 'mqtt_client_not_found', 'No active device credential with this id in the project');
      this.cache.delete(rows[0].username);
      this.kicker?.disconnectUser(rows[0].username);
    });
  }

  private async lookup(username: string): Promise<CredentialRow | null> {
    const now = this.clock.now().getTime();
    const hit = this.cache.get(username);
    if (hit && now - hit.at < CACHE_TTL_MS) return hit.row;
    const row = await one<CredentialRow>(this.db, 'SELECT * FROM mqtt_clients WHERE username = $1', [username]);
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(username, { row, at: now });
    return row;
  }

  private limited(key: string): boolean {
    const f = this.failures.get(key);
    if (!f) return false;
    if (this.clock.now().getTime() - f.windowStart > 60_000) {
      this.failures.delete(key);
      return false;
    }
    return f.count >= FAILURES_PER_MINUTE;
  }

  private fail(key: string): void {
    const now = this.clock.now().getTime();
    const f = this.failures.get(key);
    if (!f || now - f.windowStart > 60_000) this.failures.set(key, { windowStart: now, count: 1 });
    else f.count += 1;
    if (this.failures.size > 100_000) this.failures.clear();
  }
}

function parseConnectRequest(body: unknown): MqttConnectRequest | null {
  if (typeof body !== 'object' || body === null) return null;
  const b = body as Record<string, unknown>;
  const str = (v: unknown, max: number) => (typeof v === 'string' && v.length <= max ? v : null);
  const username = str(b.username, 256);
  const password = str(b.password, 1024);
  if (!username || password === null) return null;
  return { username, password, clientid: str(b.clientid, 256) ?? '', peerhost: str(b.peerhost, 64) ?? '' };
}

function toInfo(r: CredentialRow): MqttClientInfo {
  return { id: r.id, username: r.username, description: r.description, instanceId: r.instance_id, createdAt: r.created_at.toISOString(), revokedAt: r.revoked_at?.toISOString() ?? null };
}
