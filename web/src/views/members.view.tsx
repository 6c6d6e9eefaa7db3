import { useId, useState, type FormEvent } from 'react';
import type { Member, Role } from '../api/types.js';
import { useApp, useUser } from '../app.context.js';
import { ConfirmDialog } from '../components/confirm.dialog.js';
import { LoadError, Loading } from '../components/notice.js';
import { useLoad } from '../hooks/use-load.js';
import { errorMessage } from '../lib/api-error.js';
import { formatTime } from '../lib/format.js';
import { useProject } from '../project.context.js';

export function MembersView() {
  const { api, toast, fail, reloadProjects, navigate } = useApp();
  const user = useUser();
  const { project } = useProject();
  const members = useLoad(() => api.listMembers(project.id), `members:${project.id}`);
  const [removing, setRemoving] = useState<Member | null>(null);
  const [deleting, setDeleting] = useState(false);
  const canManage = project.role === 'owner' || user.isAdmin;

  const setRole = async (m: Member, role: Role) => {
    try {
      const updated = await api.setMemberRole(project.id, m.userId, role);
      members.setData((d) => d && { items: d.items.map((x) => (x.userId === m.userId ? updated : x)) });
      toast({ kind: 'success', title: `${m.name} is now ${role === 'owner' ? 'an owner' : 'a member'}` });
      if (m.userId === user.id) await reloadProjects();
    } catch (err) {
      fail(`Could not change the role of ${m.name}`, err);
      members.reload();
    }
  };

  return (
    <section aria-labelledby="members-title" className="stack">
      <div className="page-head">
        <div>
          <h1 id="members-title">Members</h1>
          <p className="muted">Who can use {project.name}. Owners can manage members, delete instances and change the project.</p>
        </div>
      </div>
      {canManage ? <AddMemberForm projectId={project.id} onAdded={(m) => members.setData((d) => d && { items: [...d.items, m] })} /> : null}
      {members.error ? (
        <LoadError error={members.error} onRetry={members.reload} what="Members" />
      ) : !members.data ? (
        <Loading what="members" />
      ) : (
        <div className="table-wrap card flush">
          <table>
            <caption className="visually-hidden">Members of {project.name}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Added</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {members.data.items.map((m) => (
                <tr key={m.userId} data-member={m.email}>
                  <td data-label="Name">
                    {m.name}
                    {m.userId === user.id ? <span className="muted"> (you)</span> : null}
                  </td>
                  <td data-label="Email">{m.email}</td>
                  <td data-label="Role">
                    {canManage ? (
                      <select value={m.role} onChange={(e) => void setRole(m, e.target.value as Role)} aria-label={`Role of ${m.name}`}>
                        <option value="member">Member</option>
                        <option value="owner">Owner</option>
                      </select>
                    ) : m.role === 'owner' ? (
                      'Owner'
                    ) : (
                      'Member'
                    )}
                  </td>
                  <td data-label="Added">{formatTime(m.addedAt)}</td>
                  <td className="row-actions">
                    {canManage ? (
                      <button type="button" className="small danger-outline" onClick={() => setRemoving(m)} aria-label={`Remove ${m.name} from the project`}>
                        Remove
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {canManage ? <ProjectSettings onDelete={project.personal ? null : () => setDeleting(true)} /> : null}
      {removing ? (
        <ConfirmDialog
          title={`Remove ${removing.name}?`}
          confirmLabel="Remove member"
          onClose={() => setRemoving(null)}
          onConfirm={async () => {
            await api.removeMember(project.id, removing.userId);
            members.setData((d) => d && { items: d.items.filter((x) => x.userId !== removing.userId) });
            toast({ kind: 'success', title: `${removing.name} removed from ${project.name}` });
            if (removing.userId === user.id) {
              await reloadProjects();
              navigate({ name: 'home' });
            }
          }}
        >
          <p>
            {removing.email} loses access to {project.name} and its instances{removing.userId === user.id ? ', and so do you' : ''}.
          </p>
        </ConfirmDialog>
      ) : null}
      {deleting ? (
        <ConfirmDialog
          title={`Delete project ${project.name}?`}
          confirmLabel="Delete project"
          typeToConfirm={project.name}
          onClose={() => setDeleting(false)}
          onConfirm={async () => {
            await api.deleteProject(project.id);
            toast({ kind: 'success', title: `Project ${project.name} deleted` });
            await reloadProjects();
            navigate({ name: 'home' });
          }}
        >
          <p>The project must have no instances left. Its members lose access. This cannot be undone.</p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}

function AddMemberForm({ projectId, onAdded }: { projectId: string; onAdded: (m: Member) => void }) {
  const { api, toast } = useApp();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('member');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ids = { email: useId(), role: useId() };
  const add = async (e: FormEvent) => {
    e.preventDefault();
    if (busy || !email.trim()) return;
    setBusy(true);
    setError(null);
    try {
      const m = await api.addMember(projectId, email.trim(), role);
      onAdded(m);
      setEmail('');
      toast({ kind: 'success', title: `${m.name} added as ${m.role}` });
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card inline-form" onSubmit={(e) => void add(e)} aria-label="Add a member">
      <div className="field grow">
        <label htmlFor={ids.email}>Email of an existing user</label>
        <input id={ids.email} type="email" value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="off" required />
      </div>
      <div className="field">
        <label htmlFor={ids.role}>Role</label>
        <select id={ids.role} value={role} onChange={(e) => setRole(e.target.value as Role)}>
          <option value="member">Member</option>
          <option value="owner">Owner</option>
        </select>
      </div>
      <button type="submit" className="primary" disabled={busy || !email.trim()} aria-busy={busy}>
        Add member
      </button>
      {error ? (
        <p className="form-error full" role="alert">
          {error}
        </p>
      ) : null}
    </form>
  );
}

function ProjectSettings({ onDelete }: { onDelete: (() => void) | null }) {
  const { api, toast, reloadProjects } = useApp();
  const { project } = useProject();
  const [name, setName] = useState(project.name);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const id = useId();
  const rename = async (e: FormEvent) => {
    e.preventDefault();
    if (busy || !name.trim() || name.trim() === project.name) return;
    setBusy(true);
    setError(null);
    try {
      await api.renameProject(project.id, name.trim());
      await reloadProjects();
      toast({ kind: 'success', title: 'Project renamed' });
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" aria-labelledby="project-settings-title">
      <h2 id="project-settings-title">Project</h2>
      <form className="inline-form" onSubmit={(e) => void rename(e)}>
        <div className="field grow">
          <label htmlFor={id}>Project name</label>
          <input id={id} value={name} onChange={(e) => setName(e.target.value)} maxLength={100} required />
        </div>
        <button type="submit" disabled={busy || !name.trim() || name.trim() === project.name}>
          Rename
        </button>
      </form>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      {onDelete ? (
        <div className="danger-zone">
          <div>
            <strong>Delete this project</strong>
            <p className="muted">Only possible once it has no instances.</p>
          </div>
          <button type="button" className="danger-outline" onClick={onDelete}>
            Delete project…
          </button>
        </div>
      ) : (
        <p className="muted">This is a personal project; it lasts as long as its owner's account.</p>
      )}
    </section>
  );
}
