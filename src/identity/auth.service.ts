import crypto from 'node:crypto';
import type { AuditService } from '../audit/audit.service.js';
import type { Db } from '../db/db.js';
import { AppError, conflict, forbidden, notFound, unauthorized } from '../errors.js';
import type { Clock } from '../platform/clock.js';
import { randomToken, sha256Hex, type PasswordHasher } from '../platform/crypto.js';
import { requireActor, type Actor, type RequestContext } from './actor.js';
import type { IdentityRepository, UserRow } from './identity.repository.js';
import type { ProjectRepository } from './project.repository.js';

export interface PublicUser {
  id: string;
  email: string;
  name: string;
  isAdmin: boolean;
  createdAt: string;
}

export interface NewUser {
  email: string;
  password: string;
  name: string;
}

export interface ApiToken {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
}

const SESSION_TTL_MS = 14 * 24 * 3600 * 1000;
const SESSION_REFRESH_MS = 24 * 3600 * 1000;
export const API_TOKEN_PREFIX = 'oft_';

export function publicUser(u: UserRow): PublicUser {
  return { id: u.id, email: u.email, name: u.name, isAdmin: u.is_admin, createdAt: u.created_at.toISOString() };
}

function actorOf(u: UserRow, via: Actor['via'], sessionId: string | null): Actor {
  return { userId: u.id, email: u.email, name: u.name, isAdmin: u.is_admin, via, sessionId };
}

export class AuthService {
  private decoyHash: Promise<string> | null = null;

  constructor(
    private readonly db: Db,
    private readonly identity: IdentityRepository,
    private readonly projects: ProjectRepository,
    private readonly hasher: PasswordHasher,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly options: { allowSignup: boolean },
  ) {}

  /** The first account becomes platform admin; later ones only when self-registration is open. */
  async register(ctx: RequestContext, input: NewUser, userAgent: string | null): Promise<{ user: PublicUser; sessionToken: string }> {
    const email = input.email.trim().toLowerCase();
    return this.audit.run(
      ctx,
      'auth.register',
      { type: 'user', label: email },
      async () => {
        const user = await this.createUser(input, (existing) => {
          if (existing > 0 && !this.options.allowSignup) throw new AppError(403, 'signup_disabled', 'Self-registration is disabled; ask an administrator for an account');
          return existing === 0;
        });
        const sessionToken = await this.startSession(user.id, userAgent);
        return { user: publicUser(user), sessionToken };
      },
      (r) => ({ id: r.user.id, details: { admin: r.user.isAdmin } }),
    );
  }

  async adminCreateUser(ctx: RequestContext, input: NewUser & { isAdmin?: boolean }): Promise<PublicUser> {
    const actor = requireActor(ctx);
    return this.audit.run(
      ctx,
      'user.create',
      { type: 'user', label: input.email.trim().toLowerCase() },
      async () => {
        if (!actor.isAdmin) throw forbidden('Only platform administrators can create users');
        return publicUser(await this.createUser(input, () => input.isAdmin ?? false));
      },
      (u) => ({ id: u.id }),
    );
  }

  async listUsers(ctx: RequestContext): Promise<PublicUser[]> {
    if (!requireActor(ctx).isAdmin) throw forbidden('Only platform administrators can list users');
    return (await this.identity.listUsers()).map(publicUser);
  }

  async login(ctx: RequestContext, email: string, password: string, userAgent: string | null): Promise<{ user: PublicUser; sessionToken: string }> {
    const normalized = email.trim().toLowerCase();
    return this.audit.run(
      ctx,
      'auth.login',
      { type: 'user', label: normalized },
      async () => {
        const user = await this.identity.findUserByEmail(normalized);
        // Unknown users still pay for one hash so response time does not reveal which emails exist.
        const ok = await this.hasher.verify(password, user?.password_hash ?? (await this.decoy()));
        if (!user || !ok) throw new AppError(401, 'invalid_credentials', 'Email or password is incorrect');
        const sessionToken = await this.startSession(user.id, userAgent);
        return { user: publicUser(user), sessionToken };
      },
      (r) => ({ id: r.user.id }),
    );
  }

  async logout(ctx: RequestContext): Promise<void> {
    const actor = requireActor(ctx);
    await this.audit.run(ctx, 'auth.logout', { type: 'user', id: actor.userId, label: actor.email }, async () => {
      if (actor.sessionId) await this.identity.deleteSession(actor.sessionId);
    });
  }

  /** Resolves a session cookie; sliding expiry is refreshed at most once a day. */
  async authenticateSession(token: string): Promise<Actor | null> {
    const id = sha256Hex(token);
    const now = this.clock.now();
    const row = await this.identity.findSessionUser(id, now);
    if (!row) return null;
    if (row.expires_at.getTime() - now.getTime() < SESSION_TTL_MS - SESSION_REFRESH_MS) {
      await this.identity.extendSession(id, new Date(now.getTime() + SESSION_TTL_MS), now);
    }
    return actorOf(row, 'session', id);
  }

  async authenticateApiToken(token: string): Promise<Actor | null> {
    if (!token.startsWith(API_TOKEN_PREFIX)) return null;
    const row = await this.identity.findTokenUser(sha256Hex(token));
    if (!row) return null;
    await this.identity.touchApiToken(row.token_id, this.clock.now());
    return actorOf(row, 'token', null);
  }

  async me(ctx: RequestContext): Promise<PublicUser> {
    const user = await this.identity.findUserById(requireActor(ctx).userId);
    if (!user) throw unauthorized();
    return publicUser(user);
  }

  async createApiToken(ctx: RequestContext, name: string): Promise<ApiToken & { token: string }> {
    const actor = requireActor(ctx);
    return this.audit.run(
      ctx,
      'token.create',
      { type: 'api_token', label: name },
      async () => {
        const token = randomToken(32, API_TOKEN_PREFIX);
        const row = await this.identity.insertApiToken({ id: crypto.randomUUID(), userId: actor.userId, name, tokenHash: sha256Hex(token), prefix: token.slice(0, 10) });
        return { ...toApiToken(row), token };
      },
      (t) => ({ id: t.id }),
    );
  }

  async listApiTokens(ctx: RequestContext): Promise<ApiToken[]> {
    return (await this.identity.listApiTokens(requireActor(ctx).userId)).map(toApiToken);
  }

  async revokeApiToken(ctx: RequestContext, id: string): Promise<void> {
    const actor = requireActor(ctx);
    await this.audit.run(ctx, 'token.revoke', { type: 'api_token', id }, async () => {
      const row = await this.identity.deleteApiToken(id, actor.userId);
      if (!row) throw notFound('API token');
    });
  }

  private async createUser(input: NewUser, decideAdmin: (existingUsers: number) => boolean): Promise<UserRow> {
    const email = input.email.trim().toLowerCase();
    const passwordHash = await this.hasher.hash(input.password);
    try {
      return await this.db.transaction(async (tx) => {
        // Serializes first-user detection so two racing registrations cannot both become admin.
        await tx.query('LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE');
        const isAdmin = decideAdmin(await this.identity.countUsers(tx));
        if (await tx.query('SELECT 1 FROM users WHERE email = $1', [email]).then((r) => r.length > 0)) {
          throw conflict('email_taken', 'An account with this email already exists');
        }
        const user = await this.identity.insertUser(tx, { id: crypto.randomUUID(), email, name: input.name.trim(), passwordHash, isAdmin });
        await this.projects.insertProject(tx, { id: crypto.randomUUID(), name: `${user.name}'s project`, personalOf: user.id, ownerId: user.id });
        return user;
      });
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw conflict('email_taken', 'An account with this email already exists');
      throw err;
    }
  }

  private async startSession(userId: string, userAgent: string | null): Promise<string> {
    const token = randomToken(32);
    await this.identity.insertSession({
      id: sha256Hex(token),
      userId,
      expiresAt: new Date(this.clock.now().getTime() + SESSION_TTL_MS),
      userAgent: userAgent?.slice(0, 300) ?? null,
    });
    return token;
  }

  private decoy(): Promise<string> {
    this.decoyHash ??= this.hasher.hash(randomToken(16));
    return this.decoyHash;
  }
}

function toApiToken(r: { id: string; name: string; prefix: string; created_at: Date; last_used_at: Date | null }): ApiToken {
  return { id: r.id, name: r.name, prefix: r.prefix, createdAt: r.created_at.toISOString(), lastUsedAt: r.last_used_at?.toISOString() ?? null };
}
