import type { Project } from '../api/types.js';

export interface ProjectGroups {
  /** Projects the person belongs to: their personal project first, then the rest by name. */
  mine: Project[];
  /** Projects a platform admin can see without being a member. */
  others: Project[];
}

const byName = (a: Project, b: Project) => a.name.localeCompare(b.name, undefined, { sensitivity: 'base' }) || a.id.localeCompare(b.id);

export function groupProjects(projects: Project[]): ProjectGroups {
  const mine = projects.filter((p) => p.role !== null);
  const personal = mine.filter((p) => p.personal && p.role === 'owner');
  const shared = mine.filter((p) => !(p.personal && p.role === 'owner')).sort(byName);
  return { mine: [...personal, ...shared], others: projects.filter((p) => p.role === null).sort(byName) };
}

/** The project to open when none is named: the last one used if still visible, else the personal one. */
export function defaultProject(projects: Project[], lastUsed: string | null): Project | null {
  const { mine, others } = groupProjects(projects);
  return projects.find((p) => p.id === lastUsed) ?? mine[0] ?? others[0] ?? null;
}
