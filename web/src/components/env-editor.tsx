import type { EnvRow } from '../lib/env-rows.js';

/** Name/value rows for environment variables; each input is labelled with its row for screen readers. */
export function EnvEditor({ rows, onChange }: { rows: EnvRow[]; onChange: (rows: EnvRow[]) => void }) {
  const set = (index: number, patch: Partial<EnvRow>) => onChange(rows.map((r, i) => (i === index ? { ...r, ...patch } : r)));
  return (
    <fieldset className="env-editor">
      <legend>Environment variables</legend>
      {rows.length === 0 ? <p className="muted">None set.</p> : null}
      {rows.map((row, index) => (
        <div className="env-row" key={index}>
          <input aria-label={`Name of variable ${index + 1}`} placeholder="NAME" value={row.key} onChange={(e) => set(index, { key: e.target.value })} spellCheck={false} autoComplete="off" className="mono" />
          <input aria-label={`Value of variable ${index + 1}`} placeholder="value" value={row.value} onChange={(e) => set(index, { value: e.target.value })} spellCheck={false} autoComplete="off" className="mono" />
          <button type="button" className="icon-button" aria-label={`Remove variable ${row.key || index + 1}`} onClick={() => onChange(rows.filter((_, i) => i !== index))}>
            ×
          </button>
        </div>
      ))}
      <button type="button" className="small" onClick={() => onChange([...rows, { key: '', value: '' }])}>
        Add variable
      </button>
    </fieldset>
  );
}
