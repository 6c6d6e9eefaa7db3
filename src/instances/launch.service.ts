import type { AuditService, AuditTarget } from '../audit/audit.service.js';
import type { Db } from '../db/db.js';
import { AppError, conflict } from '../errors.js';
import { requireActor, type RequestContext } from '../identity/actor.js';
import type { Clock } from '../platform/clock.js';
import { randomToken, safeEqual, sha256Hex } from '../platform/crypto.js';
import type { InstanceRepository } from './instance.repository.js';
import type { InstanceService } from './instance.service.js';

const ACCESS_TOKEN_TTL_MS = 60_000;

/**
 * One-click Launch: a single-use, one-minute access token bound to one instance. The instance's shim
 * redeems it through the manager and then holds the instance's own magic token as a cookie.
 */
export class LaunchService {
  constructor(
    private readonly db: Db,
    private readonly instances: InstanceService,
    private readonly repo: InstanceRepository,
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {}

  async launch(ctx: RequestContext, instanceId: string): Promise<{ url: string; expiresAt: string }> {
    const actor = requireActor(ctx);
    const target: AuditTarget = { type: 'instance', id: instanceId };
    return this.audit.run(ctx, 'instance.launch', target, async () => {
      const row = await this.instances.access(actor, instanceId, 'member', target);
      if (row.state !== 'running') throw conflict('instance_not_running', `The instance is ${row.state}; start it before opening the editor`);
      const token = randomToken(32);
      const now = this.clock.now();
      const expiresAt = new Date(now.getTime() + ACCESS_TOKEN_TTL_MS);
      await this.db.query('DELETE FROM access_tokens WHERE expires_at < $1', [new Date(now.getTime() - 3600_000)]);
      await this.db.query('INSERT INTO access_tokens (token_hash, instance_id, user_id, expires_at) VALUES ($1,$2,$3,$4)', [sha256Hex(token), instanceId, actor.userId, expiresAt]);
      return { url: `${this.instances.instanceUrl(row.subdomain)}/?access_token=${token}`, expiresAt: expiresAt.toISOString() };
    });
  }

  /**
   * Called by the instance's shim. The instance proves itself with its own secret (not the magic token);
   * the token is consumed atomically, so a replay or a race of two redemptions yields one success.
   */
  async redeem(instanceId: string, instanceSecret: string, accessToken: string): Promise<{ userId: string }> {
    const row = await this.repo.get(instanceId);
    if (!row || !safeEqual(instanceSecret, this.instances.openSecrets(row).instanceSecret)) {
      throw new AppError(401, 'invalid_instance_secret', 'The instance could not be authenticated');
    }
    const used = await this.db.query<{ user_id: string }>(
      `UPDATE access_tokens SET used_at = $3 WHERE token_hash = $1 AND instance_id = $2 AND used_at IS NULL AND expires_at > $3 RETURNING user_id`,
      [sha256Hex(accessToken), instanceId, this.clock.now()],
    );
    if (!used[0]) throw new AppError(401, 'invalid_access_token', 'The launch link is invalid, expired or already used');
    return { userId: used[0].user_id };
  }
}
