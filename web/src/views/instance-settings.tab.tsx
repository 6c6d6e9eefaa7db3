import { useId, useState } from 'react';
import type { Instance, Template } from '../api/types.js';
import { useApp } from '../app.context.js';
import { EnvEditor } from '../components/env-editor.js';
import { LoadError, Loading } from '../components/notice.js';
import { useLoad } from '../hooks/use-load.js';
import { useRestartToast } from '../hooks/use-restart-toast.js';
import { errorMessage } from '../lib/api-error.js';
import { envFromRows, rowsFromEnv, type EnvRow } from '../lib/env-rows.js';
import { limitProblem } from '../lib/limits.js';
import { useProject } from '../project.context.js';

export function InstanceSettingsTab({ instance }: { instance: Instance }) {
  const { api } = useApp();
  const templates = useLoad(() => api.listTemplates(), 'templates');
  if (templates.error) return <LoadError error={templates.error} onRetry={templates.reload} what="Templates" />;
  if (!templates.data) return <Loading what="settings" />;
  const template = templates.data.items.find((t) => t.id === instance.template) ?? null;
  return <SettingsForm key={instance.id} instance={instance} template={template} />;
}

function SettingsForm({ instance, template }: { instance: Instance; template: Template | null }) {
  const { api, toast } = useApp();
  const { dispatch } = useProject();
  const restartToast = useRestartToast();
  const [memory, setMemory] = useState(String(instance.memoryMb));
  const [cpu, setCpu] = useState(String(instance.cpu));
  const [rows, setRows] = useState<EnvRow[]>(() => rowsFromEnv(instance.env));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ids = { mem: useId(), memMsg: useId(), cpu: useId(), cpuMsg: useId() };

  const memoryBounds = template?.memory ?? { min: 1, max: Number.MAX_SAFE_INTEGER };
  const cpuBounds = template?.cpu ?? { min: 0.01, max: Number.MAX_SAFE_INTEGER };
  const memoryProblem = limitProblem(memory, memoryBounds, 'Memory', true);
  const cpuProblem = limitProblem(cpu, cpuBounds, 'CPU', false);
  const env = envFromRows(rows);
  const envChanged = JSON.stringify(rowsFromEnv(env.env)) !== JSON.stringify(rowsFromEnv(instance.env));
  const changed = Number(memory) !== instance.memoryMb || Number(cpu) !== instance.cpu || envChanged;
  const valid = !memoryProblem && !cpuProblem && !env.problem;

  const save = async () => {
    if (!valid || !changed || busy) return;
    setBusy(true);
    setError(null);
    try {
      const { restartNeeded, ...updated } = await api.updateInstance(instance.id, {
        ...(Number(memory) !== instance.memoryMb ? { memoryMb: Number(memory) } : {}),
        ...(Number(cpu) !== instance.cpu ? { cpu: Number(cpu) } : {}),
        ...(envChanged ? { env: env.env } : {}),
      });
      dispatch({ type: 'upsert', instance: updated });
      setRows(rowsFromEnv(updated.env));
      if (restartNeeded) restartToast(updated, 'Settings saved; restart to apply', `${updated.subdomain} keeps its old settings until it restarts.`);
      else toast({ kind: 'success', title: 'Settings saved', message: 'They apply the next time the instance starts.' });
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="card form-card"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
      noValidate
      aria-labelledby="settings-title"
    >
      <h2 id="settings-title">Settings</h2>
      <div className="field-row">
        <div className="field">
          <label htmlFor={ids.mem}>Memory limit (MiB)</label>
          <input id={ids.mem} type="number" min={memoryBounds.min} max={template?.memory.max} step={1} value={memory} onChange={(e) => setMemory(e.target.value)} aria-invalid={memoryProblem !== null} aria-describedby={ids.memMsg} />
          <p id={ids.memMsg} className={memoryProblem ? 'field-error' : 'hint'}>
            {memoryProblem ?? (template ? `${template.memory.min}–${template.memory.max} MiB for the ${template.name} template` : 'Bounds are set by the template')}
          </p>
        </div>
        <div className="field">
          <label htmlFor={ids.cpu}>CPU (cores)</label>
          <input id={ids.cpu} type="number" min={cpuBounds.min} max={template?.cpu.max} step={0.1} value={cpu} onChange={(e) => setCpu(e.target.value)} aria-invalid={cpuProblem !== null} aria-describedby={ids.cpuMsg} />
          <p id={ids.cpuMsg} className={cpuProblem ? 'field-error' : 'hint'}>
            {cpuProblem ?? (template ? `${template.cpu.min}–${template.cpu.max} cores` : 'Bounds are set by the template')}
          </p>
        </div>
      </div>
      <EnvEditor rows={rows} onChange={setRows} />
      {env.problem ? <p className="field-error">{env.problem}</p> : null}
      <p className="hint">Names starting with OPENFLOW_ are set by the platform and cannot be overridden.</p>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      <div className="actions">
        <button type="submit" className="primary" disabled={!valid || !changed || busy} aria-busy={busy}>
          {busy ? <span className="spinner" aria-hidden="true" /> : null}
          Save settings
        </button>
        <button
          type="button"
          disabled={!changed || busy}
          onClick={() => {
            setMemory(String(instance.memoryMb));
            setCpu(String(instance.cpu));
            setRows(rowsFromEnv(instance.env));
            setError(null);
          }}
        >
          Discard changes
        </button>
      </div>
    </form>
  );
}
