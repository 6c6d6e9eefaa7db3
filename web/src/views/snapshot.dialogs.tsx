import { useId, useState } from 'react';
import type { Instance, Snapshot, SnapshotDiff } from '../api/types.js';
import { useApp } from '../app.context.js';
import { Modal } from '../components/modal.dialog.js';
import { LoadError, Loading, Notice } from '../components/notice.js';
import { useLoad } from '../hooks/use-load.js';
import { errorMessage } from '../lib/api-error.js';
import { plural } from '../lib/format.js';
import { groupProjects } from '../lib/project-order.js';
import { useProject } from '../project.context.js';
import { FormFooter } from '../components/form-footer.js';

export function CaptureSnapshotDialog({ instance, onClose, onCaptured }: { instance: Instance; onClose: () => void; onCaptured: (s: Snapshot) => void }) {
  const { api, toast } = useApp();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ids = { name: useId(), nameHint: useId(), description: useId() };
  const submit = async () => {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      const s = await api.createSnapshot(instance.id, { ...(name.trim() ? { name: name.trim() } : {}), ...(description.trim() ? { description: description.trim() } : {}) });
      toast({ kind: 'success', title: `Snapshot ${s.name} captured`, message: `${plural(s.nodeCount, 'node')} with their credentials.` });
      onCaptured(s);
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };
  return (
    <Modal
      title={`Capture a snapshot of ${instance.subdomain}`}
      onClose={onClose}
      onSubmit={() => void submit()}
      footer={<FormFooter onCancel={onClose} submitLabel="Capture snapshot" busy={busy} />}
    >
      <div className="field">
        <label htmlFor={ids.name}>Name</label>
        <input id={ids.name} value={name} onChange={(e) => setName(e.target.value)} maxLength={200} aria-describedby={ids.nameHint} autoFocus />
        <p id={ids.nameHint} className="hint">
          Optional; the date is used when left empty.
        </p>
      </div>
      <div className="field">
        <label htmlFor={ids.description}>Description</label>
        <textarea id={ids.description} rows={3} value={description} onChange={(e) => setDescription(e.target.value)} maxLength={2000} />
      </div>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </Modal>
  );
}

function describeRef(n: { type: string; name: string | null; id: string }): string {
  return n.name ? `${n.name} (${n.type})` : `${n.type} ${n.id}`;
}

function DiffBody({ diff }: { diff: SnapshotDiff }) {
  const total = diff.added.length + diff.removed.length + diff.changed.length + diff.renamed.length;
  if (total === 0) return <p>The current flows already match this snapshot.</p>;
  return (
    <>
      <p>Applying this snapshot would change:</p>
      {diff.added.length ? (
        <>
          <h3>Added ({diff.added.length})</h3>
          <ul className="diff-list diff-added">
            {diff.added.map((n) => (
              <li key={n.id}>{describeRef(n)}</li>
            ))}
          </ul>
        </>
      ) : null}
      {diff.removed.length ? (
        <>
          <h3>Removed ({diff.removed.length})</h3>
          <ul className="diff-list diff-removed">
            {diff.removed.map((n) => (
              <li key={n.id}>{describeRef(n)}</li>
            ))}
          </ul>
        </>
      ) : null}
      {diff.changed.length ? (
        <>
          <h3>Changed ({diff.changed.length})</h3>
          <ul className="diff-list">
            {diff.changed.map((n) => (
              <li key={n.id}>
                {describeRef(n)}: <span className="mono">{n.properties.join(', ')}</span>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {diff.renamed.length ? (
        <>
          <h3>Renamed ({diff.renamed.length})</h3>
          <ul className="diff-list">
            {diff.renamed.map((r) => (
              <li key={r.id}>
                {r.type} “{r.from}” → “{r.to}”
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </>
  );
}

export function DiffDialog({ snapshot, instance, onClose }: { snapshot: Snapshot; instance: Instance; onClose: () => void }) {
  const { api } = useApp();
  const diff = useLoad(() => api.diffSnapshot(snapshot.id, instance.id), `diff:${snapshot.id}:${instance.id}`);
  return (
    <Modal
      title={`${snapshot.name} compared with ${instance.subdomain} now`}
      wide
      onClose={onClose}
      footer={
        <button type="button" className="primary" onClick={onClose}>
          Close
        </button>
      }
    >
      {diff.error ? <LoadError error={diff.error} onRetry={diff.reload} what="The comparison" /> : diff.data ? <DiffBody diff={diff.data} /> : <Loading what="the comparison" />}
    </Modal>
  );
}

/** Applies a snapshot to this or any other instance the person can reach, in this project or another. */
export function ApplySnapshotDialog({ snapshot, instance, onClose }: { snapshot: Snapshot; instance: Instance; onClose: () => void }) {
  const { api, projects, toast } = useApp();
  const { dispatch } = useProject();
  const [projectId, setProjectId] = useState(instance.projectId);
  const [targetId, setTargetId] = useState(instance.id);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ids = { project: useId(), target: useId() };
  const targets = useLoad(() => api.listInstances(projectId), `instances:${projectId}`);
  const { mine, others } = groupProjects(projects);
  const target = targets.data?.items.find((i) => i.id === targetId) ?? null;

  const chooseProject = (id: string) => {
    setProjectId(id);
    setTargetId('');
  };

  const submit = async () => {
    if (!target || busy) return;
    setBusy(true);
    setError(null);
    try {
      const result = await api.applySnapshot(snapshot.id, target.id);
      dispatch({ type: 'upsert', instance: result.instance });
      const how =
        result.mode === 'reloaded'
          ? 'The flows are live.'
          : result.mode === 'restarted'
            ? `The instance restarted to install ${result.installedModules.join(', ') || 'modules'}.`
            : 'The instance is not running; the flows load when it starts.';
      toast({ kind: 'success', title: `Snapshot ${snapshot.name} applied to ${result.instance.subdomain}`, message: how });
      onClose();
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };

  return (
    <Modal
      title={`Apply ${snapshot.name}`}
      onClose={onClose}
      onSubmit={() => void submit()}
      footer={<FormFooter onCancel={onClose} submitLabel="Apply snapshot" tone="danger" disabled={!target} busy={busy} />}
    >
      <div className="field">
        <label htmlFor={ids.project}>Project</label>
        <select id={ids.project} value={projectId} onChange={(e) => chooseProject(e.target.value)}>
          <optgroup label="Your projects">
            {mine.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
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
        </select>
      </div>
      <div className="field">
        <label htmlFor={ids.target}>Instance</label>
        {targets.error ? (
          <LoadError error={targets.error} onRetry={targets.reload} what="Instances" />
        ) : (
          <select id={ids.target} value={targetId} onChange={(e) => setTargetId(e.target.value)} disabled={!targets.data}>
            <option value="">{targets.data ? (targets.data.items.length ? 'Choose an instance' : 'This project has no instances') : 'Loading…'}</option>
            {targets.data?.items.map((i) => (
              <option key={i.id} value={i.id}>
                {i.subdomain}
                {i.id === instance.id ? ' (this instance)' : ''}
              </option>
            ))}
          </select>
        )}
      </div>
      {target ? (
        <Notice title={`This replaces the flows of ${target.subdomain}`} tone="warning">
          <p>
            Its flows and credentials become those of the snapshot{target.state === 'running' ? ', and the running instance reloads them' : ''}. Capture a snapshot of {target.subdomain} first if you may want them back.
          </p>
        </Notice>
      ) : null}
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </Modal>
  );
}
