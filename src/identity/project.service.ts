import crypto from 'node:crypto';
import type { AuditService } from '../audit/audit.service.js';
import type { Db } from '../db/db.js';
import { AppError, badRequest, conflict, forbidden, notFound } from '../errors.js';
import { requireActor, type Actor, type RequestContext } from './actor.js';
import type { IdentityRepository } from './identity.repository.js';
import type { MemberRow, ProjectRepository, ProjectRow, Role } from './project.repository.js';

export interface Project {
  id: string;
  name: string;
  personal: boolean;
  role: Role | null;
  memberCount: number;
  instanceCount: number;
  createdAt: string;
}

export interface Member {
  userId: string;
  email: string;
  name: string;
  role: Role;
  addedAt: string;
}

export type AccessLevel = 'member' | 'owner';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function toProject(r: ProjectRow): Project {
  return {
    id: r.id,
    name: r.name,
    personal: r.personal_of !== null,
    role: r.role,
    memberCount: r.member_count,
    instanceCount: r.instance_count,
    createdAt: r.created_at.toISOString(),
  };
}

function toMember(m: MemberRow): Member {
  return { userId: m.user_id, email: m.email, name: m.name, role: m.role, addedAt: m.added_at.toISOString() };
}

/** Owns who may see and change a project; every other service asks it before touching project data. */
export class ProjectService {
  constructor(
    private readonly db: Db,
    private readonly projects: ProjectRepository,
    private readonly identity: IdentityRepository,
    private readonly audit: AuditService,
  ) {}

  /**
   * Members get in; owners are needed for 'owner'; platform admins always. Anyone else gets 404,
   * the same answer as for a project that does not exist.
   */
  async access(actor: Actor, projectId: string, level: AccessLevel): Promise<ProjectRow> {
    const row = UUID.test(projectId) ? await this.projects.get(projectId, actor.userId) : null;
    if (!row || (!row.role && !actor.isAdmin)) throw notFound('Project');
    if (level === 'owner' && row.role !== 'owner' && !actor.isAdmin) throw forbidden('Only project owners can do this');
    return row;
  }

  projectIdsFor(userId: string): Promise<string[]> {
    return this.projects.projectIdsFor(userId);
  }

  async list(ctx: RequestContext, page: { limit?: number; offset?: number }): Promise<{ items: Project[]; total: number; limit: number; offset: number }> {
    const actor = requireActor(ctx);
    const limit = Math.min(Math.max(page.limit ?? 100, 1), 500);
    const offset = Math.max(page.offset ?? 0, 0);
    const [rows, total] = await Promise.all([this.projects.list(actor.userId, actor.isAdmin, limit, offset), this.projects.count(actor.isAdmin ? null : actor.userId)]);
    return { items: rows.map(toProject), total, limit, offset };
  }

  async get(ctx: RequestContext, projectId: string): Promise<Project> {
    return toProject(await this.access(requireActor(ctx), projectId, 'member'));
  }

  async create(ctx: RequestContext, name: string): Promise<Project> {
    const actor = requireActor(ctx);
    return this.audit.run(
      ctx,
      'project.create',
      { type: 'project', label: name },
      async () => {
        const id = crypto.randomUUID();
        await this.db.transaction((tx) => this.projects.insertProject(tx, { id, name: name.trim(), personalOf: null, ownerId: actor.userId }));
        return toProject((await this.projects.get(id, actor.userId))!);
      },
      (p) => ({ id: p.id, projectId: p.id }),
    );
  }

  async rename(ctx: RequestContext, projectId: string, name: string): Promise<Project> {
    const actor = requireActor(ctx);
    return this.audit.run(ctx, 'project.update', { type: 'project', id: projectId, projectId, label: name }, async () => {
      await this.access(actor, projectId, 'owner');
      await this.projects.rename(projectId, name.trim());
      return toProject((await this.projects.get(projectId, actor.userId))!);
    });
  }

  async delete(ctx: RequestContext, projectId: string): Promise<void> {
    const actor = requireActor(ctx);
    await this.audit.run(ctx, 'project.delete', { type: 'project', id: projectId, projectId }, async () => {
      const row = await this.access(actor, projectId, 'owner');
      if (row.instance_count > 0) throw conflict('project_not_empty', 'Delete the project’s instances first');
      if (row.personal_of !== null) throw conflict('personal_project', 'A personal project cannot be deleted');
      await this.projects.delete(projectId);
    });
  }

  async members(ctx: RequestContext, projectId: string): Promise<Member[]> {
    await this.access(requireActor(ctx), projectId, 'member');
    return (await this.projects.members(projectId)).map(toMember);
  }

  async addMember(ctx: RequestContext, projectId: string, input: { email: string; role?: Role }): Promise<Member> {
    const actor = requireActor(ctx);
    const email = input.email.trim().toLowerCase();
    return this.audit.run(
      ctx,
      'project.member.add',
      { type: 'project', id: projectId, projectId, details: { email, role: input.role ?? 'member' } },
      async () => {
        await this.access(actor, projectId, 'owner');
        const user = await this.identity.findUserByEmail(email);
        if (!user) throw new AppError(404, 'user_not_found', 'No user with this email exists');
        if (!(await this.projects.addMember(projectId, user.id, input.role ?? 'member'))) throw conflict('already_member', 'This user is already a member');
        return toMember((await this.projects.members(projectId)).find((m) => m.user_id === user.id)!);
      },
      (m) => ({ label: m.email, details: { userId: m.userId, role: m.role } }),
    );
  }

  /** Owners remove anyone; members may remove themselves (leave). The last owner can never go. */
  async removeMember(ctx: RequestContext, projectId: string, userId: string): Promise<void> {
    const actor = requireActor(ctx);
    await this.audit.run(ctx, 'project.member.remove', { type: 'project', id: projectId, projectId, details: { userId } }, async () => {
      await this.access(actor, projectId, userId === actor.userId ? 'member' : 'owner');
      this.applyChange(await this.projects.changeMember(projectId, userId, null));
    });
  }

  async setRole(ctx: RequestContext, projectId: string, userId: string, role: Role): Promise<Member> {
    const actor = requireActor(ctx);
    return this.audit.run(ctx, 'project.member.role', { type: 'project', id: projectId, projectId, details: { userId, role } }, async () => {
      await this.access(actor, projectId, 'owner');
      this.applyChange(await this.projects.changeMember(projectId, userId, role));
      return toMember((await this.projects.members(projectId)).find((m) => m.user_id === userId)!);
    });
  }

  /** Makes another member the owner and the caller a member, in that order so an owner always exists. */
  async transfer(ctx: RequestContext, projectId: string, userId: string): Promise<Member[]> {
    const actor = requireActor(ctx);
    return this.audit.run(ctx, 'project.transfer', { type: 'project', id: projectId, projectId, details: { to: userId } }, async () => {
      await this.access(actor, projectId, 'owner');
      if (userId === actor.userId) throw badRequest('invalid_transfer', 'You already own this project');
      this.applyChange(await this.projects.changeMember(projectId, userId, 'owner'));
      const me = (await this.projects.members(projectId)).find((m) => m.user_id === actor.userId);
      if (me?.role === 'owner') this.applyChange(await this.projects.changeMember(projectId, actor.userId, 'member'));
      return (await this.projects.members(projectId)).map(toMember);
    });
  }

  private applyChange(result: 'ok' | 'not_member' | 'last_owner'): void {
    if (result === 'not_member') throw new AppError(404, 'member_not_found', 'This user is not a member of the project');
    if (result === 'last_owner') throw conflict('last_owner', 'A project must keep at least one owner');
  }
}
