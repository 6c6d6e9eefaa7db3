import { useId, useState } from 'react';
import type { PublicUser, Template } from '../api/types.js';
import { useApp, useUser } from '../app.context.js';
import { AuditLog } from '../components/audit-log.js';
import { EnvEditor } from '../components/env-editor.js';
import { Link } from '../components/link.js';
import { Modal } from '../components/modal.dialog.js';
import { LoadError, Loading, Notice } from '../components/notice.js';
import { useLoad } from '../hooks/use-load.js';
import { errorMessage } from '../lib/api-error.js';
import { envFromRows, type EnvRow } from '../lib/env-rows.js';
import { formatTime } from '../lib/format.js';
import type { AdminSection } from '../lib/route.parser.js';
import { parseTemplateForm, type TemplateForm } from '../lib/template-form.js';
import { FormFooter } from '../components/form-footer.js';

const SECTIONS: { id: AdminSection; label: string }[] = [
  { id: 'users', label: 'Users' },
  { id: 'templates', label: 'Templates' },
  { id: 'audit', label: 'Platform audit' },
];

export function AdminView({ section }: { section: AdminSection }) {
  const user = useUser();
  if (!user.isAdmin) {
    return (
      <Notice title="Administrators only" tone="warning">
        <p>This area is for platform administrators.</p>
      </Notice>
    );
  }
  return (
    <section aria-labelledby="admin-title">
      <div className="page-head">
        <h1 id="admin-title">Administration</h1>
      </div>
      <nav aria-label="Administration sections" className="tabs">
        {SECTIONS.map((s) => (
          <Link key={s.id} to={{ name: 'admin', section: s.id }} aria-current={s.id === section ? 'page' : undefined}>
            {s.label}
          </Link>
        ))}
      </nav>
      <div className="tab-panel">
        {section === 'users' ? <UsersSection /> : null}
        {section === 'templates' ? <TemplatesSection /> : null}
        {section === 'audit' ? <PlatformAudit /> : null}
      </div>
    </section>
  );
}

function UsersSection() {
  const { api } = useApp();
  const users = useLoad(() => api.listUsers(), 'users');
  const [creating, setCreating] = useState(false);
  return (
    <div className="stack">
      <div className="section-head">
        <h2>Users</h2>
        <button type="button" className="primary small" onClick={() => setCreating(true)}>
          New user
        </button>
      </div>
      {users.error ? (
        <LoadError error={users.error} onRetry={users.reload} what="Users" />
      ) : !users.data ? (
        <Loading what="users" />
      ) : (
        <div className="table-wrap card flush">
          <table>
            <caption className="visually-hidden">Platform users</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {users.data.items.map((u) => (
                <tr key={u.id}>
                  <td data-label="Name">{u.name}</td>
                  <td data-label="Email">{u.email}</td>
                  <td data-label="Role">{u.isAdmin ? 'Administrator' : 'User'}</td>
                  <td data-label="Created">{formatTime(u.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {creating ? (
        <NewUserDialog
          onClose={() => setCreating(false)}
          onCreated={(u) => {
            setCreating(false);
            users.setData((d) => d && { items: [...d.items, u] });
          }}
        />
      ) : null}
    </div>
  );
}

function NewUserDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (u: PublicUser) => void }) {
  const { api, toast } = useApp();
  const [form, setForm] = useState({ name: '', email: '', password: '', isAdmin: false });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ids = { name: useId(), email: useId(), password: useId(), pwHint: useId(), admin: useId() };
  const valid = form.name.trim() && form.email.trim() && form.password.length >= 8;
  const submit = async () => {
    if (!valid || busy) return;
    setBusy(true);
    setError(null);
    try {
      const u = await api.createUser({ name: form.name.trim(), email: form.email.trim(), password: form.password, isAdmin: form.isAdmin });
      toast({ kind: 'success', title: `User ${u.name} created`, message: 'They can sign in with the password you set.' });
      onCreated(u);
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };
  return (
    <Modal
      title="New user"
      onClose={onClose}
      onSubmit={() => void submit()}
      footer={<FormFooter onCancel={onClose} submitLabel="Create user" disabled={!valid} busy={busy} />}
    >
      <div className="field">
        <label htmlFor={ids.name}>Name</label>
        <input id={ids.name} value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} maxLength={100} required autoFocus />
      </div>
      <div className="field">
        <label htmlFor={ids.email}>Email</label>
        <input id={ids.email} type="email" value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} maxLength={254} required autoComplete="off" />
      </div>
      <div className="field">
        <label htmlFor={ids.password}>Initial password</label>
        <input id={ids.password} type="password" value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} minLength={8} maxLength={200} required autoComplete="new-password" aria-describedby={ids.pwHint} />
        <p id={ids.pwHint} className="hint">
          At least 8 characters.
        </p>
      </div>
      <label className="checkbox" htmlFor={ids.admin}>
        <input id={ids.admin} type="checkbox" checked={form.isAdmin} onChange={(e) => setForm({ ...form, isAdmin: e.target.checked })} />
        Platform administrator
      </label>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </Modal>
  );
}

function TemplatesSection() {
  const { api } = useApp();
  const templates = useLoad(() => api.listTemplates(), 'templates');
  const [creating, setCreating] = useState(false);
  return (
    <div className="stack">
      <div className="section-head">
        <h2>Templates</h2>
        <button type="button" className="primary small" onClick={() => setCreating(true)}>
          New template
        </button>
      </div>
      {templates.error ? (
        <LoadError error={templates.error} onRetry={templates.reload} what="Templates" />
      ) : !templates.data ? (
        <Loading what="templates" />
      ) : (
        <div className="cards">
          {templates.data.items.map((t) => (
            <TemplateCard key={t.id} template={t} />
          ))}
        </div>
      )}
      {creating ? (
        <NewTemplateDialog
          onClose={() => setCreating(false)}
          onCreated={() => {
            setCreating(false);
            templates.reload();
          }}
        />
      ) : null}
    </div>
  );
}

function TemplateCard({ template: t }: { template: Template }) {
  return (
    <article className="card" aria-labelledby={`tpl-${t.id}`}>
      <h3 id={`tpl-${t.id}`}>
        {t.name} <span className="chip">{t.builtin ? 'built in' : 'custom'}</span>
      </h3>
      <p className="muted mono small-text">{t.id}</p>
      <p>{t.description || '—'}</p>
      <dl className="facts">
        <dt>Memory</dt>
        <dd>
          {t.memory.min}–{t.memory.max} MiB, default {t.memory.default}
        </dd>
        <dt>CPU</dt>
        <dd>
          {t.cpu.min}–{t.cpu.max}, default {t.cpu.default}
        </dd>
        <dt>Flows</dt>
        <dd>{t.flows.length} nodes</dd>
        <dt>Environment</dt>
        <dd>{Object.keys(t.env).length ? Object.keys(t.env).join(', ') : '—'}</dd>
      </dl>
    </article>
  );
}

const EMPTY_TEMPLATE: TemplateForm = {
  id: '',
  name: '',
  description: '',
  memoryMin: '128',
  memoryMax: '1024',
  memoryDefault: '256',
  cpuMin: '0.1',
  cpuMax: '2',
  cpuDefault: '1',
  flows: '[]',
  settings: '{}',
};

function NewTemplateDialog({ onClose, onCreated }: { onClose: () => void; onCreated: () => void }) {
  const { api, toast } = useApp();
  const [form, setForm] = useState<TemplateForm>(EMPTY_TEMPLATE);
  const [envRows, setEnvRows] = useState<EnvRow[]>([]);
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const base = useId();
  const env = envFromRows(envRows);
  const parsed = parseTemplateForm(form, env.env);
  const problem = env.problem ?? (parsed.ok ? null : parsed.problem);
  const field = (key: keyof TemplateForm, label: string, props: Record<string, unknown> = {}) => (
    <div className="field">
      <label htmlFor={`${base}-${key}`}>{label}</label>
      <input id={`${base}-${key}`} value={form[key]} onChange={(e) => setForm({ ...form, [key]: e.target.value })} {...props} />
    </div>
  );
  const submit = async () => {
    setTouched(true);
    if (!parsed.ok || env.problem || busy) return;
    setBusy(true);
    setError(null);
    try {
      await api.createTemplate(parsed.template);
      toast({ kind: 'success', title: `Template ${parsed.template.name} created` });
      onCreated();
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };
  return (
    <Modal
      title="New template"
      wide
      onClose={onClose}
      onSubmit={() => void submit()}
      footer={<FormFooter onCancel={onClose} submitLabel="Create template" disabled={touched && problem !== null} busy={busy} />}
    >
      <div className="field-row">
        {field('id', 'Id', { className: 'mono', spellCheck: false, autoFocus: true, placeholder: 'e.g. dashboard-kit' })}
        {field('name', 'Name')}
      </div>
      {field('description', 'Description')}
      <fieldset>
        <legend>Memory (MiB)</legend>
        <div className="field-row three">
          {field('memoryMin', 'Minimum', { type: 'number' })}
          {field('memoryDefault', 'Default', { type: 'number' })}
          {field('memoryMax', 'Maximum', { type: 'number' })}
        </div>
      </fieldset>
      <fieldset>
        <legend>CPU (cores)</legend>
        <div className="field-row three">
          {field('cpuMin', 'Minimum', { type: 'number', step: 0.1 })}
          {field('cpuDefault', 'Default', { type: 'number', step: 0.1 })}
          {field('cpuMax', 'Maximum', { type: 'number', step: 0.1 })}
        </div>
      </fieldset>
      <div className="field">
        <label htmlFor={`${base}-flows`}>Flows (JSON array, as exported from Node-RED)</label>
        <textarea id={`${base}-flows`} rows={5} className="mono" value={form.flows} onChange={(e) => setForm({ ...form, flows: e.target.value })} spellCheck={false} />
      </div>
      <div className="field">
        <label htmlFor={`${base}-settings`}>Extra settings (JSON object)</label>
        <textarea id={`${base}-settings`} rows={3} className="mono" value={form.settings} onChange={(e) => setForm({ ...form, settings: e.target.value })} spellCheck={false} />
      </div>
      <EnvEditor rows={envRows} onChange={setEnvRows} />
      {touched && problem ? (
        <p className="field-error" role="alert">
          {problem}
        </p>
      ) : null}
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </Modal>
  );
}

function PlatformAudit() {
  const { api } = useApp();
  const users = useLoad(() => api.listUsers(), 'users');
  const actors = (users.data?.items ?? []).map((u) => ({ id: u.id, name: u.name }));
  return (
    <div className="stack">
      <h2>Platform audit</h2>
      <p className="muted">Every project, plus sign-ins and administration.</p>
      <AuditLog projectId={null} actors={actors} />
    </div>
  );
}
