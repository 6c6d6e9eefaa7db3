import { useId, useState, type FormEvent } from 'react';
import type { ApiToken } from '../api/types.js';
import { useApp, useUser } from '../app.context.js';
import { ConfirmDialog } from '../components/confirm.dialog.js';
import { CopyButton } from '../components/copy-button.js';
import { LoadError, Loading, Notice } from '../components/notice.js';
import { useLoad } from '../hooks/use-load.js';
import { errorMessage } from '../lib/api-error.js';
import { formatTime } from '../lib/format.js';

export function AccountView() {
  const { api, toast } = useApp();
  const user = useUser();
  const tokens = useLoad(() => api.listTokens(), 'tokens');
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  const id = useId();

  const create = async (e: FormEvent) => {
    e.preventDefault();
    if (busy || !name.trim()) return;
    setBusy(true);
    setError(null);
    try {
      const { token, ...info } = await api.createToken(name.trim());
      tokens.setData((d) => d && { items: [...d.items, info] });
      setSecret(token);
      setName('');
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="account-title" className="stack">
      <div className="page-head">
        <div>
          <h1 id="account-title">Your account</h1>
          <p className="muted">
            {user.name} · {user.email}
            {user.isAdmin ? ' · platform administrator' : ''}
          </p>
        </div>
      </div>
      <section className="card" aria-labelledby="tokens-title">
        <h2 id="tokens-title">API tokens</h2>
        <p className="muted">
          For scripts and CI: send <span className="mono">Authorization: Bearer &lt;token&gt;</span> to the same API the dashboard uses.
        </p>
        {secret ? (
          <Notice title="Copy the new token now; it is shown only once" tone="warning">
            <p className="with-copy">
              <span className="mono secret">{secret}</span> <CopyButton value={secret} label="API token" />
            </p>
            <button type="button" className="small" onClick={() => setSecret(null)}>
              I have copied it
            </button>
          </Notice>
        ) : null}
        <form className="inline-form" onSubmit={(e) => void create(e)}>
          <div className="field grow">
            <label htmlFor={id}>Token name</label>
            <input id={id} value={name} onChange={(e) => setName(e.target.value)} maxLength={100} placeholder="e.g. deploy script" />
          </div>
          <button type="submit" className="primary" disabled={busy || !name.trim()} aria-busy={busy}>
            Create token
          </button>
        </form>
        {error ? (
          <p className="form-error" role="alert">
            {error}
          </p>
        ) : null}
        {tokens.error ? (
          <LoadError error={tokens.error} onRetry={tokens.reload} what="API tokens" />
        ) : !tokens.data ? (
          <Loading what="tokens" />
        ) : tokens.data.items.length === 0 ? (
          <p>No tokens yet.</p>
        ) : (
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Your API tokens</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Starts with</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {tokens.data.items.map((t) => (
                  <tr key={t.id}>
                    <td data-label="Name">{t.name}</td>
                    <td data-label="Starts with" className="mono">
                      {t.prefix}…
                    </td>
                    <td data-label="Created">{formatTime(t.createdAt)}</td>
                    <td data-label="Last used">{t.lastUsedAt ? formatTime(t.lastUsedAt) : 'Never'}</td>
                    <td className="row-actions">
                      <button type="button" className="small danger-outline" onClick={() => setRevoking(t)} aria-label={`Revoke token ${t.name}`}>
                        Revoke
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {revoking ? (
        <ConfirmDialog
          title={`Revoke token ${revoking.name}?`}
          confirmLabel="Revoke token"
          onClose={() => setRevoking(null)}
          onConfirm={async () => {
            await api.revokeToken(revoking.id);
            tokens.setData((d) => d && { items: d.items.filter((x) => x.id !== revoking.id) });
            toast({ kind: 'success', title: `Token ${revoking.name} revoked` });
          }}
        >
          <p>Scripts using it stop working immediately.</p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
