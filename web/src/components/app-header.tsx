import { useId, useState } from 'react';
import { useApp, useUser } from '../app.context.js';
import { preferences } from '../hooks/use-preferences.js';
import { defaultProject, groupProjects } from '../lib/project-order.js';
import type { Route } from '../lib/route.parser.js';
import { Link } from './link.js';
import { NewProjectDialog } from './new-project.dialog.js';

export function AppHeader() {
  const { route, navigate, projects, signOut, fail } = useApp();
  const user = useUser();
  const selectId = useId();
  const [creating, setCreating] = useState(false);
  const routeProject = 'projectId' in route ? route.projectId : null;
  const current = routeProject ?? defaultProject(projects, preferences.lastProject())?.id ?? null;
  const { mine, others } = groupProjects(projects);

  const nav: { label: string; to: Route; active: boolean }[] = current
    ? [
        { label: 'Instances', to: { name: 'project', projectId: current }, active: route.name === 'project' || route.name === 'instance' },
        { label: 'Members', to: { name: 'members', projectId: current }, active: route.name === 'members' },
        { label: 'Audit log', to: { name: 'audit', projectId: current }, active: route.name === 'audit' },
      ]
    : [];
  if (user.isAdmin) nav.push({ label: 'Admin', to: { name: 'admin', section: 'users' }, active: route.name === 'admin' });

  const switchTo = (projectId: string) => {
    if (projectId === '__new') {
      setCreating(true);
      return;
    }
    // Keep the kind of screen when switching: members stay members, audit stays audit.
    if (route.name === 'members' || route.name === 'audit') navigate({ name: route.name, projectId });
    else navigate({ name: 'project', projectId });
  };

  return (
    <header className="topbar">
      <Link to={{ name: 'home' }} className="brand" aria-label="Openflow home">
        <img src="/favicon.svg" alt="" width="24" height="24" />
        <span>Openflow</span>
      </Link>
      <div className="project-switcher">
        <label htmlFor={selectId}>Project</label>
        <select id={selectId} value={current ?? ''} onChange={(e) => switchTo(e.target.value)}>
          {current === null ? <option value="">Choose a project</option> : null}
          <optgroup label="Your projects">
            {mine.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
                {p.personal && p.role === 'owner' ? ' (personal)' : ''}
              </option>
            ))}
          </optgroup>
          {others.length ? (
            <optgroup label="Other projects (admin)">
              {others.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
            </optgroup>
          ) : null}
          <option value="__new">+ New project…</option>
        </select>
      </div>
      <nav aria-label="Main" className="mainnav">
        {nav.map((n) => (
          <Link key={n.label} to={n.to} aria-current={n.active ? 'page' : undefined}>
            {n.label}
          </Link>
        ))}
      </nav>
      <div className="usermenu">
        <Link to={{ name: 'account' }} aria-current={route.name === 'account' ? 'page' : undefined} title={user.email}>
          {user.name}
        </Link>
        <button type="button" className="small" onClick={() => void signOut().catch((err: unknown) => fail('Could not sign out', err))}>
          Sign out
        </button>
      </div>
      {creating ? <NewProjectDialog onClose={() => setCreating(false)} /> : null}
    </header>
  );
}
