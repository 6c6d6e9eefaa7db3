import { Type } from 'typebox';
import type { FastifyReply } from 'fastify';
import type { App } from '../http/types.js';
import { Email, IdParams, Name, Ok, Password, UserSchema, errorResponses } from '../http/schemas.js';
import type { AuthService } from './auth.service.js';

export const SESSION_COOKIE = 'openflow_session';

export interface IdentityRoutesOptions {
  auth: AuthService;
  secureCookies: boolean;
  authRateLimit: number;
}

const Credentials = Type.Object({ email: Email, password: Password, name: Name }, { additionalProperties: false });
const Login = Type.Object({ email: Type.String({ maxLength: 254 }), password: Type.String({ maxLength: 200 }) }, { additionalProperties: false });
const TokenSchema = Type.Object({ id: Type.String(), name: Type.String(), prefix: Type.String(), createdAt: Type.String(), lastUsedAt: Type.Union([Type.String(), Type.Null()]) });

export async function identityRoutes(app: App, opts: IdentityRoutesOptions): Promise<void> {
  const { auth } = opts;
  const rateLimit = { max: opts.authRateLimit, timeWindow: 60_000 };
  const setSession = (reply: FastifyReply, token: string) =>
    reply.setCookie(SESSION_COOKIE, token, { path: '/', httpOnly: true, sameSite: 'lax', secure: opts.secureCookies, maxAge: 14 * 24 * 3600 });

  app.post('/api/auth/register', { schema: { tags: ['auth'], body: Credentials, response: { 201: UserSchema, ...errorResponses } }, config: { audit: 'auth.register', rateLimit } }, async (req, reply) => {
    const { user, sessionToken } = await auth.register(req.ctx, req.body, req.headers['user-agent'] ?? null);
    setSession(reply, sessionToken);
    return reply.status(201).send(user);
  });

  app.post('/api/auth/login', { schema: { tags: ['auth'], body: Login, response: { 200: UserSchema, ...errorResponses } }, config: { audit: 'auth.login', rateLimit } }, async (req, reply) => {
    const { user, sessionToken } = await auth.login(req.ctx, req.body.email, req.body.password, req.headers['user-agent'] ?? null);
    setSession(reply, sessionToken);
    return user;
  });

  app.post('/api/auth/logout', { schema: { tags: ['auth'], response: { 200: Ok, ...errorResponses } }, config: { audit: 'auth.logout' } }, async (req, reply) => {
    await auth.logout(req.ctx);
    reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure: opts.secureCookies });
    return { ok: true };
  });

  app.get('/api/me', { schema: { tags: ['auth'], response: { 200: UserSchema, ...errorResponses } } }, async (req) => auth.me(req.ctx));

  app.get('/api/admin/users', { schema: { tags: ['admin'], response: { 200: Type.Object({ items: Type.Array(UserSchema) }), ...errorResponses } } }, async (req) => ({
    items: await auth.listUsers(req.ctx),
  }));

  app.post(
    '/api/admin/users',
    { schema: { tags: ['admin'], body: Type.Object({ email: Email, password: Password, name: Name, isAdmin: Type.Optional(Type.Boolean()) }, { additionalProperties: false }), response: { 201: UserSchema, ...errorResponses } }, config: { audit: 'user.create' } },
    async (req, reply) => reply.status(201).send(await auth.adminCreateUser(req.ctx, req.body)),
  );

  app.post(
    '/api/tokens',
    { schema: { tags: ['tokens'], body: Type.Object({ name: Name }, { additionalProperties: false }), response: { 201: Type.Intersect([TokenSchema, Type.Object({ token: Type.String() })]), ...errorResponses } }, config: { audit: 'token.create' } },
    async (req, reply) => reply.status(201).send(await auth.createApiToken(req.ctx, req.body.name)),
  );

  app.get('/api/tokens', { schema: { tags: ['tokens'], response: { 200: Type.Object({ items: Type.Array(TokenSchema) }), ...errorResponses } } }, async (req) => ({
    items: await auth.listApiTokens(req.ctx),
  }));

  app.delete('/api/tokens/:id', { schema: { tags: ['tokens'], params: IdParams, response: { 204: Type.Null(), ...errorResponses } }, config: { audit: 'token.revoke' } }, async (req, reply) => {
    await auth.revokeApiToken(req.ctx, req.params.id);
    return reply.status(204).send(null);
  });
}
