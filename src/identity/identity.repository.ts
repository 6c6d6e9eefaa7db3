import { one, type Queryable } from '../db/db.js';

export interface UserRow {
  id: string;
  email: string;
  name: string;
  password_hash: string;
  is_admin: boolean;
  created_at: Date;
}

export interface SessionUserRow extends UserRow {
  session_id: string;
  expires_at: Date;
}

export interface ApiTokenRow {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  created_at: Date;
  last_used_at: Date | null;
}

export class IdentityRepository {
  constructor(private readonly db: Queryable) {}

  countUsers(q: Queryable = this.db): Promise<number> {
    return one<{ n: number }>(q, 'SELECT count(*)::int AS n FROM users').then((r) => r?.n ?? 0);
  }

  findUserByEmail(email: string): Promise<UserRow | null> {
    return one<UserRow>(this.db, 'SELECT * FROM users WHERE email = $1', [email]);
  }

  findUserById(id: string): Promise<UserRow | null> {
    return one<UserRow>(this.db, 'SELECT * FROM users WHERE id = $1', [id]);
  }

  listUsers(): Promise<UserRow[]> {
    return this.db.query<UserRow>('SELECT * FROM users ORDER BY created_at');
  }

  async insertUser(q: Queryable, u: { id: string; email: string; name: string; passwordHash: string; isAdmin: boolean }): Promise<UserRow> {
    const rows = await q.query<UserRow>(
      'INSERT INTO users (id, email, name, password_hash, is_admin) VALUES ($1,$2,$3,$4,$5) RETURNING *',
      [u.id, u.email, u.name, u.passwordHash, u.isAdmin],
    );
    return rows[0]!;
  }

  async insertSession(s: { id: string; userId: string; expiresAt: Date; userAgent: string | null }): Promise<void> {
    await this.db.query('INSERT INTO sessions (id, user_id, expires_at, user_agent) VALUES ($1,$2,$3,$4)', [s.id, s.userId, s.expiresAt, s.userAgent]);
  }

  findSessionUser(sessionId: string, now: Date): Promise<SessionUserRow | null> {
    return one<SessionUserRow>(
      this.db,
      `SELECT u.*, s.id AS session_id, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id
       WHERE s.id = $1 AND s.expires_at > $2`,
      [sessionId, now],
    );
  }

  async extendSession(sessionId: string, expiresAt: Date, now: Date): Promise<void> {
    await this.db.query('UPDATE sessions SET expires_at = $2, last_seen_at = $3 WHERE id = $1', [sessionId, expiresAt, now]);
  }

  async deleteSession(sessionId: string): Promise<void> {
    await this.db.query('DELETE FROM sessions WHERE id = $1', [sessionId]);
  }

  async insertApiToken(t: { id: string; userId: string; name: string; tokenHash: string; prefix: string }): Promise<ApiTokenRow> {
    const rows = await this.db.query<ApiTokenRow>(
      'INSERT INTO api_tokens (id, user_id, name, token_hash, prefix) VALUES ($1,$2,$3,$4,$5) RETURNING id, user_id, name, prefix, created_at, last_used_at',
      [t.id, t.userId, t.name, t.tokenHash, t.prefix],
    );
    return rows[0]!;
  }

  findTokenUser(tokenHash: string): Promise<(UserRow & { token_id: string }) | null> {
    return one(this.db, 'SELECT u.*, t.id AS token_id FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1', [tokenHash]);
  }

  async touchApiToken(id: string, now: Date): Promise<void> {
    await this.db.query('UPDATE api_tokens SET last_used_at = $2 WHERE id = $1', [id, now]);
  }

  listApiTokens(userId: string): Promise<ApiTokenRow[]> {
    return this.db.query<ApiTokenRow>('SELECT id, user_id, name, prefix, created_at, last_used_at FROM api_tokens WHERE user_id = $1 ORDER BY created_at', [userId]);
  }

  async deleteApiToken(id: string, userId: string): Promise<ApiTokenRow | null> {
    const rows = await this.db.query<ApiTokenRow>('DELETE FROM api_tokens WHERE id = $1 AND user_id = $2 RETURNING id, user_id, name, prefix, created_at, last_used_at', [id, userId]);
    return rows[0] ?? null;
  }
}
