import { useId, useState } from 'react';
import { useApp } from '../app.context.js';
import { errorMessage } from '../lib/api-error.js';
import { Modal } from './modal.dialog.js';
import { FormFooter } from './form-footer.js';

export function NewProjectDialog({ onClose }: { onClose: () => void }) {
  const { api, reloadProjects, navigate, toast } = useApp();
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const id = useId();
  const problem = name.trim() === '' ? 'A name is required' : name.length > 100 ? 'At most 100 characters' : null;
  const submit = async () => {
    if (problem || busy) return;
    setBusy(true);
    setError(null);
    try {
      const project = await api.createProject(name.trim());
      await reloadProjects();
      toast({ kind: 'success', title: `Project "${project.name}" created` });
      onClose();
      navigate({ name: 'project', projectId: project.id });
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };
  return (
    <Modal
      title="New project"
      onClose={onClose}
      onSubmit={() => void submit()}
      footer={<FormFooter onCancel={onClose} submitLabel="Create project" disabled={problem !== null} busy={busy} />}
    >
      <div className="field">
        <label htmlFor={id}>Name</label>
        <input id={id} value={name} onChange={(e) => setName(e.target.value)} maxLength={100} autoFocus required />
      </div>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </Modal>
  );
}
