import { useEffect, useRef, useState } from 'react';
import { toastLifetimeMs, type Toast } from '../lib/toasts.reducer.js';

function ToastItem({ toast, onDismiss }: { toast: Toast; onDismiss: () => void }) {
  const [running, setRunning] = useState(false);
  const dismissRef = useRef(onDismiss);
  dismissRef.current = onDismiss;
  useEffect(() => {
    const ms = toastLifetimeMs(toast);
    if (ms === null) return;
    const timer = setTimeout(() => dismissRef.current(), ms);
    return () => clearTimeout(timer);
  }, [toast]);
  const run = async () => {
    if (!toast.action) return;
    setRunning(true);
    try {
      await toast.action.run();
      onDismiss();
    } finally {
      setRunning(false);
    }
  };
  return (
    <div className={`toast toast-${toast.kind}`} role={toast.kind === 'error' ? 'alert' : 'status'} data-testid="toast">
      <div className="toast-text">
        <strong>{toast.title}</strong>
        {toast.message ? <p>{toast.message}</p> : null}
      </div>
      <div className="toast-actions">
        {toast.action ? (
          <button type="button" className="primary small" onClick={() => void run()} disabled={running} aria-busy={running}>
            {running ? <span className="spinner" aria-hidden="true" /> : null}
            {toast.action.label}
          </button>
        ) : null}
        <button type="button" className="icon-button" aria-label="Dismiss notification" onClick={onDismiss}>
          ×
        </button>
      </div>
    </div>
  );
}

export function ToastRegion({ toasts, dismiss }: { toasts: Toast[]; dismiss: (id: number) => void }) {
  return (
    <section className="toasts" aria-label="Notifications">
      {toasts.map((t) => (
        <ToastItem key={t.id} toast={t} onDismiss={() => dismiss(t.id)} />
      ))}
    </section>
  );
}
