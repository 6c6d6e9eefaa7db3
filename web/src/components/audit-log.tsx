import { useEffect, useId, useState } from 'react';
import type { AuditEntry } from '../api/types.js';
import { useApp } from '../app.context.js';
import { actionChoices, auditQuery, emptyAuditFilter, type AuditFilterInput } from '../lib/audit-filter.js';
import { formatTime } from '../lib/format.js';
import { LoadError, Loading } from './notice.js';

interface AuditLogProps {
  /** null: everything the person may read (all projects for an administrator). */
  projectId: string | null;
  actors: { id: string; name: string }[];
}

export function AuditLog({ projectId, actors }: AuditLogProps) {
  const { api } = useApp();
  const [filter, setFilter] = useState<AuditFilterInput>(emptyAuditFilter);
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [state, setState] = useState<{ loading: boolean; error: unknown }>({ loading: true, error: null });
  const [attempt, setAttempt] = useState(0);
  const ids = { action: useId(), actor: useId(), since: useId(), until: useId() };
  const { areas, actions } = actionChoices();

  useEffect(() => {
    let current = true;
    setState({ loading: true, error: null });
    api.audit(auditQuery(filter, projectId)).then(
      (page) => {
        if (!current) return;
        setEntries(page.items);
        setCursor(page.nextCursor);
        setState({ loading: false, error: null });
      },
      (error: unknown) => current && setState({ loading: false, error }),
    );
    return () => {
      current = false;
    };
  }, [api, filter, projectId, attempt]);

  const more = async () => {
    if (!cursor) return;
    setState({ loading: true, error: null });
    try {
      const page = await api.audit(auditQuery(filter, projectId, cursor));
      setEntries((e) => [...e, ...page.items]);
      setCursor(page.nextCursor);
      setState({ loading: false, error: null });
    } catch (error) {
      setState({ loading: false, error });
    }
  };

  const set = (patch: Partial<AuditFilterInput>) => setFilter((f) => ({ ...f, ...patch }));
  const filtered = JSON.stringify(filter) !== JSON.stringify(emptyAuditFilter);

  return (
    <div className="stack">
      <form className="card filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter the audit log">
        <div className="field">
          <label htmlFor={ids.action}>Action</label>
          <select id={ids.action} value={filter.action} onChange={(e) => set({ action: e.target.value })}>
            <option value="">All actions</option>
            <optgroup label="Areas">
              {areas.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </optgroup>
            <optgroup label="Actions">
              {actions.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </optgroup>
          </select>
        </div>
        {actors.length ? (
          <div className="field">
            <label htmlFor={ids.actor}>By</label>
            <select id={ids.actor} value={filter.actorId} onChange={(e) => set({ actorId: e.target.value })}>
              <option value="">Anyone</option>
              {actors.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name}
                </option>
              ))}
            </select>
          </div>
        ) : null}
        <div className="field">
          <label htmlFor={ids.since}>From</label>
          <input id={ids.since} type="date" value={filter.since} onChange={(e) => set({ since: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor={ids.until}>To</label>
          <input id={ids.until} type="date" value={filter.until} onChange={(e) => set({ until: e.target.value })} />
        </div>
        <button type="button" onClick={() => setFilter(emptyAuditFilter)} disabled={!filtered}>
          Clear filters
        </button>
      </form>
      {state.error ? <LoadError error={state.error} onRetry={() => setAttempt((a) => a + 1)} what="The audit log" /> : null}
      {entries.length === 0 && !state.loading && !state.error ? <p className="empty">{filtered ? 'No entries match these filters.' : 'Nothing recorded yet.'}</p> : null}
      <ol className="audit-list" aria-label="Audit entries, newest first">
        {entries.map((e) => (
          <li key={e.id} className={`audit-entry ${e.outcome}`}>
            <div className="audit-main">
              <p className="audit-description">{e.description}</p>
              {e.prose ? <p className="audit-prose">{e.prose}</p> : null}
              <p className="audit-meta">
                <time dateTime={e.createdAt}>{formatTime(e.createdAt)}</time>
                <code className="chip">{e.action}</code>
                {e.outcome === 'failure' ? <code className="chip chip-error">{e.errorCode ?? 'failed'}</code> : null}
                {e.actor ? <span>by {e.actor}</span> : <span>by the platform</span>}
              </p>
            </div>
            <span className={`badge outcome-${e.outcome}`}>{e.outcome === 'success' ? 'Succeeded' : 'Failed'}</span>
          </li>
        ))}
      </ol>
      {state.loading ? <Loading what="audit entries" /> : null}
      {cursor && !state.loading ? (
        <button type="button" onClick={() => void more()}>
          Load older entries
        </button>
      ) : null}
    </div>
  );
}
