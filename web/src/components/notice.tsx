import type { ReactNode } from 'react';
import { ApiError, errorMessage } from '../lib/api-error.js';

export function Notice({ title, children, tone = 'info' }: { title: string; children?: ReactNode; tone?: 'info' | 'warning' | 'error' }) {
  return (
    <div className={`notice notice-${tone}`} role={tone === 'error' ? 'alert' : undefined}>
      <strong>{title}</strong>
      {children ? <div>{children}</div> : null}
    </div>
  );
}

/** What a screen shows when its data failed to load, with a way to try again. */
export function LoadError({ error, onRetry, what }: { error: unknown; onRetry: () => void; what: string }) {
  const missing = error instanceof ApiError && error.routeMissing;
  return (
    <Notice title={missing ? `${what} is not available on this manager` : `Could not load ${what.toLowerCase()}`} tone={missing ? 'warning' : 'error'}>
      <p>{missing ? 'This manager does not offer this feature yet. It appears here once the manager is updated.' : errorMessage(error)}</p>
      {missing ? null : (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </Notice>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status">
      <span className="spinner" aria-hidden="true" /> Loading {what}…
    </p>
  );
}
