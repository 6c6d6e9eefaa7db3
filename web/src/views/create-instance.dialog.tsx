import { useId, useState } from 'react';
import type { Template } from '../api/types.js';
import { useApp } from '../app.context.js';
import { EnvEditor } from '../components/env-editor.js';
import { Modal } from '../components/modal.dialog.js';
import { LoadError, Loading } from '../components/notice.js';
import { useLoad } from '../hooks/use-load.js';
import { errorMessage } from '../lib/api-error.js';
import { envFromRows, type EnvRow } from '../lib/env-rows.js';
import { limitProblem } from '../lib/limits.js';
import { checkLabel } from '../lib/subdomain.validation.js';
import { useProject } from '../project.context.js';
import { FormFooter } from '../components/form-footer.js';

export function CreateInstanceDialog({ onClose }: { onClose: () => void }) {
  const { api } = useApp();
  const templates = useLoad(() => api.listTemplates(), 'templates');
  return (
    <>
      {templates.data ? (
        <CreateForm templates={templates.data.items} onClose={onClose} />
      ) : (
        <Modal title="New instance" onClose={onClose} footer={<button type="button" onClick={onClose}>Cancel</button>}>
          {templates.error ? <LoadError error={templates.error} onRetry={templates.reload} what="Templates" /> : <Loading what="templates" />}
        </Modal>
      )}
    </>
  );
}

function CreateForm({ templates, onClose }: { templates: Template[]; onClose: () => void }) {
  const { api, toast } = useApp();
  const { project, dispatch } = useProject();
  const first = templates.find((t) => t.id === 'starter') ?? templates[0];
  const [subdomain, setSubdomain] = useState('');
  const [touched, setTouched] = useState(false);
  const [templateId, setTemplateId] = useState(first?.id ?? '');
  const template = templates.find((t) => t.id === templateId) ?? first;
  const [memory, setMemory] = useState(String(first?.memory.default ?? ''));
  const [cpu, setCpu] = useState(String(first?.cpu.default ?? ''));
  const [envRows, setEnvRows] = useState<EnvRow[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ids = { sub: useId(), subMsg: useId(), tpl: useId(), tplMsg: useId(), mem: useId(), memMsg: useId(), cpu: useId(), cpuMsg: useId() };

  const label = checkLabel(subdomain);
  const memoryProblem = template ? limitProblem(memory, template.memory, 'Memory', true) : null;
  const cpuProblem = template ? limitProblem(cpu, template.cpu, 'CPU', false) : null;
  const env = envFromRows(envRows);
  const valid = template && !label.problem && !memoryProblem && !cpuProblem && !env.problem;
  const showLabelProblem = (touched || subdomain !== '') && label.problem !== null;

  const chooseTemplate = (id: string) => {
    setTemplateId(id);
    const t = templates.find((x) => x.id === id);
    if (t) {
      setMemory(String(t.memory.default));
      setCpu(String(t.cpu.default));
    }
  };

  const submit = async () => {
    setTouched(true);
    if (!valid || busy || !template) return;
    setBusy(true);
    setError(null);
    try {
      const created = await api.createInstance(project.id, { subdomain: label.label, template: template.id, memoryMb: Number(memory), cpu: Number(cpu), env: env.env });
      dispatch({ type: 'upsert', instance: created });
      toast({ kind: 'success', title: `Instance ${created.subdomain} created`, message: 'It is stopped; start it when you are ready.' });
      onClose();
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };

  return (
    <Modal
      title="New instance"
      onClose={onClose}
      onSubmit={() => void submit()}
      wide
      footer={<FormFooter onCancel={onClose} submitLabel="Create instance" disabled={touched && !valid} busy={busy} />}
    >
      <div className="field">
        <label htmlFor={ids.sub}>Subdomain</label>
        <input
          id={ids.sub}
          value={subdomain}
          onChange={(e) => setSubdomain(e.target.value)}
          onBlur={() => setTouched(true)}
          aria-invalid={showLabelProblem}
          aria-describedby={ids.subMsg}
          autoComplete="off"
          spellCheck={false}
          maxLength={63}
          className="mono"
          autoFocus
          required
        />
        <p id={ids.subMsg} className={showLabelProblem ? 'field-error' : 'hint'} aria-live="polite">
          {showLabelProblem ? label.problem : label.label && !label.problem ? `Will be created as “${label.label}”.` : 'Lower-case letters, digits and “-”; starts with a letter.'}
        </p>
      </div>
      <div className="field">
        <label htmlFor={ids.tpl}>Template</label>
        <select id={ids.tpl} value={templateId} onChange={(e) => chooseTemplate(e.target.value)} aria-describedby={ids.tplMsg}>
          {templates.map((t) => (
            <option key={t.id} value={t.id}>
              {t.name}
            </option>
          ))}
        </select>
        <p id={ids.tplMsg} className="hint">
          {template?.description}
        </p>
      </div>
      {template ? (
        <div className="field-row">
          <div className="field">
            <label htmlFor={ids.mem}>Memory (MiB)</label>
            <input id={ids.mem} type="number" inputMode="numeric" min={template.memory.min} max={template.memory.max} step={1} value={memory} onChange={(e) => setMemory(e.target.value)} aria-invalid={memoryProblem !== null} aria-describedby={ids.memMsg} />
            <p id={ids.memMsg} className={memoryProblem ? 'field-error' : 'hint'}>
              {memoryProblem ?? `${template.memory.min}–${template.memory.max} MiB`}
            </p>
          </div>
          <div className="field">
            <label htmlFor={ids.cpu}>CPU (cores)</label>
            <input id={ids.cpu} type="number" inputMode="decimal" min={template.cpu.min} max={template.cpu.max} step={0.1} value={cpu} onChange={(e) => setCpu(e.target.value)} aria-invalid={cpuProblem !== null} aria-describedby={ids.cpuMsg} />
            <p id={ids.cpuMsg} className={cpuProblem ? 'field-error' : 'hint'}>
              {cpuProblem ?? `${template.cpu.min}–${template.cpu.max} cores`}
            </p>
          </div>
        </div>
      ) : null}
      <details>
        <summary>Environment variables (optional)</summary>
        <EnvEditor rows={envRows} onChange={setEnvRows} />
        {env.problem ? <p className="field-error">{env.problem}</p> : null}
      </details>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </Modal>
  );
}
