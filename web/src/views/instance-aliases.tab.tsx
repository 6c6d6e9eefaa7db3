import { useId, useState, type FormEvent } from 'react';
import type { Instance } from '../api/types.js';
import { useApp } from '../app.context.js';
import { ConfirmDialog } from '../components/confirm.dialog.js';
import { useRestartToast } from '../hooks/use-restart-toast.js';
import { aliasUrl } from '../lib/alias-url.js';
import { errorMessage } from '../lib/api-error.js';
import { checkLabel } from '../lib/subdomain.validation.js';

export function InstanceAliasesTab({ instance }: { instance: Instance }) {
  const { api, toast } = useApp();
  const restartToast = useRestartToast();
  const [alias, setAlias] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [removing, setRemoving] = useState<string | null>(null);
  const ids = { input: useId(), msg: useId() };
  const check = checkLabel(alias, 'Alias');
  const showProblem = alias !== '' && check.problem !== null;

  const add = async (e: FormEvent) => {
    e.preventDefault();
    if (check.problem || busy) return;
    setBusy(true);
    setError(null);
    try {
      const res = await api.addAlias(instance.id, check.label);
      setAlias('');
      const url = aliasUrl(instance.url, check.label);
      if (res.restartNeeded) restartToast(instance, `Alias ${check.label} added; restart needed`, `The running instance answers on ${url} only after a restart.`);
      else toast({ kind: 'success', title: `Alias ${check.label} added`, message: `The instance now also answers on ${url}.` });
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const remove = async (name: string) => {
    const res = await api.removeAlias(instance.id, name);
    if (res.restartNeeded) restartToast(instance, `Alias ${name} removed; restart needed`, 'The running instance keeps answering on it until it restarts.');
    else toast({ kind: 'success', title: `Alias ${name} removed` });
  };

  return (
    <section className="card" aria-labelledby="aliases-title">
      <h2 id="aliases-title">Aliases</h2>
      <p className="muted">Extra names the instance answers on, besides {instance.subdomain}.</p>
      {instance.aliases.length === 0 ? (
        <p>No aliases yet.</p>
      ) : (
        <ul className="plain-list">
          {instance.aliases.map((a) => (
            <li key={a} className="list-row">
              <a href={aliasUrl(instance.url, a)} target="_blank" rel="noreferrer" className="mono">
                {a}
              </a>
              <button type="button" className="small danger-outline" onClick={() => setRemoving(a)} aria-label={`Remove alias ${a}`}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={(e) => void add(e)} className="inline-form" noValidate>
        <div className="field grow">
          <label htmlFor={ids.input}>New alias</label>
          <input id={ids.input} value={alias} onChange={(e) => setAlias(e.target.value)} aria-invalid={showProblem} aria-describedby={ids.msg} autoComplete="off" spellCheck={false} maxLength={63} className="mono" />
          <p id={ids.msg} className={showProblem ? 'field-error' : 'hint'} aria-live="polite">
            {showProblem ? check.problem : 'Same rules as a subdomain.'}
          </p>
        </div>
        <button type="submit" className="primary" disabled={busy || check.problem !== null} aria-busy={busy}>
          Add alias
        </button>
      </form>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      {removing ? (
        <ConfirmDialog title={`Remove alias ${removing}?`} confirmLabel="Remove alias" onConfirm={() => remove(removing)} onClose={() => setRemoving(null)}>
          <p>
            Links using <span className="mono">{aliasUrl(instance.url, removing)}</span> stop working.
          </p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
