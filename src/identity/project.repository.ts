import { one, type Db, type Queryable } from '../db/db.js';

export type Role = 'owner' | 'member';

export interface ProjectRow {
  id: string;
  name: string;
  personal_of: string | null;
  created_at: Date;
  role: Role | null;
  member_count: number;
  instance_count: number;
}

export interface MemberRow {
  user_id: string;
  email: string;
  name: string;
  role: Role;
  added_at: Date;
}

const PROJECT_COLUMNS = `p.id, p.name, p.personal_of, p.created_at,
  (SELECT count(*)::int FROM project_members m2 WHERE m2.project_id = p.id) AS member_count,
  (SELECT count(*)::int FROM instances i WHERE i.project_id = p.id) AS instance_count`;

export class ProjectRepository {
  constructor(private readonly db: Db) {}

  async insertProject(q: Queryable, p: { id: string; name: string; personalOf: string | null; ownerId: string }): Promise<void> {
    await q.query('INSERT INTO projects (id, name, personal_of) VALUES ($1,$2,$3)', [p.id, p.name, p.personalOf]);
    await q.query(`INSERT INTO project_members (project_id, user_id, role) VALUES ($1,$2,'owner')`, [p.id, p.ownerId]);
  }

  /** The viewer's projects with their role, or with `all` every project (admin view); the viewer's personal project first. */
  list(viewerId: string, all: boolean, limit: number, offset: number): Promise<ProjectRow[]> {
    const role = '(SELECT m.role FROM project_members m WHERE m.project_id = p.id AND m.user_id = $1)';
    const scope = all ? '' : 'WHERE EXISTS (SELECT 1 FROM project_members m WHERE m.project_id = p.id AND m.user_id = $1)';
    return this.db.query<ProjectRow>(
      `SELECT ${PROJECT_COLUMNS}, ${role} AS role FROM projects p ${scope}
       ORDER BY (p.personal_of IS NOT DISTINCT FROM $1::uuid) DESC, p.created_at, p.id LIMIT $2 OFFSET $3`,
      [viewerId, limit, offset],
    );
  }

  count(userId: string | null): Promise<number> {
    const sql = userId === null ? 'SELECT count(*)::int AS n FROM projects' : 'SELECT count(*)::int AS n FROM project_members WHERE user_id = $1';
    return one<{ n: number }>(this.db, sql, userId === null ? [] : [userId]).then((r) => r?.n ?? 0);
  }

  get(projectId: string, userId: string): Promise<ProjectRow | null> {
    return one<ProjectRow>(
      this.db,
      `SELECT ${PROJECT_COLUMNS}, (SELECT role FROM project_members m WHERE m.project_id = p.id AND m.user_id = $2) AS role
       FROM projects p WHERE p.id = $1`,
      [projectId, userId],
    );
  }

  projectIdsFor(userId: string): Promise<string[]> {
    return this.db.query<{ project_id: string }>('SELECT project_id FROM project_members WHERE user_id = $1', [userId]).then((r) => r.map((x) => x.project_id));
  }

  async rename(projectId: string, name: string): Promise<void> {
    await this.db.query('UPDATE projects SET name = $2 WHERE id = $1', [projectId, name]);
  }

  async delete(projectId: string): Promise<void> {
    await this.db.query('DELETE FROM projects WHERE id = $1', [projectId]);
  }

  members(projectId: string): Promise<MemberRow[]> {
    return this.db.query<MemberRow>(
      `SELECT m.user_id, u.email, u.name, m.role, m.added_at FROM project_members m JOIN users u ON u.id = m.user_id
       WHERE m.project_id = $1 ORDER BY m.added_at, u.email`,
      [projectId],
    );
  }

  async addMember(projectId: string, userId: string, role: Role): Promise<boolean> {
    const rows = await this.db.query('INSERT INTO project_members (project_id, user_id, role) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING RETURNING user_id', [projectId, userId, role]);
    return rows.length > 0;
  }

  /**
   * Removes or re-roles a member, refusing when no owner would remain. The owner count is taken
   * under a row lock so two concurrent removals cannot both pass the check.
   */
  async changeMember(projectId: string, userId: string, role: Role | null): Promise<'ok' | 'not_member' | 'last_owner'> {
    return this.db.transaction(async (q) => {
      const members = await q.query<{ user_id: string; role: Role }>('SELECT user_id, role FROM project_members WHERE project_id = $1 FOR UPDATE', [projectId]);
      const target = members.find((m) => m.user_id === userId);
      if (!target) return 'not_member';
      const owners = members.filter((m) => m.role === 'owner').length;
      if (target.role === 'owner' && role !== 'owner' && owners <= 1) return 'last_owner';
      if (role === null) await q.query('DELETE FROM project_members WHERE project_id = $1 AND user_id = $2', [projectId, userId]);
      else await q.query('UPDATE project_members SET role = $3 WHERE project_id = $1 AND user_id = $2', [projectId, userId, role]);
      return 'ok';
    });
  }
}
