import { unauthorized } from '../errors.js';

export interface Actor {
  userId: string;
  email: string;
  name: string;
  isAdmin: boolean;
  via: 'session' | 'token';
  sessionId: string | null;
}

/** Who is asking and from where: what every service method needs for permissions and audit. */
export interface RequestContext {
  actor: Actor | null;
  ip: string | null;
}

export function requireActor(ctx: RequestContext): Actor {
  if (!ctx.actor) throw unauthorized();
  return ctx.actor;
}
