import { useId, useState, type ReactNode } from 'react';
import { errorMessage } from '../lib/api-error.js';
import { Modal } from './modal.dialog.js';
import { FormFooter } from './form-footer.js';

interface ConfirmProps {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  /** When set, the person must type this exactly before the action unlocks. */
  typeToConfirm?: string;
  onConfirm: () => Promise<void>;
  onClose: () => void;
}

/** Every destructive action goes through this: it stays open with the error if the action fails. */
export function ConfirmDialog({ title, children, confirmLabel, typeToConfirm, onConfirm, onClose }: ConfirmProps) {
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const inputId = useId();
  const ready = typeToConfirm === undefined || typed.trim() === typeToConfirm;
  const confirm = async () => {
    if (!ready || busy) return;
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
      onClose();
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };
  return (
    <Modal
      title={title}
      onClose={onClose}
      onSubmit={() => void confirm()}
      footer={<FormFooter onCancel={onClose} submitLabel={confirmLabel} tone="danger" disabled={!ready} busy={busy} />}
    >
      {children}
      {typeToConfirm !== undefined ? (
        <div className="field">
          <label htmlFor={inputId}>
            Type <strong className="mono">{typeToConfirm}</strong> to confirm
          </label>
          <input id={inputId} value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" spellCheck={false} autoFocus />
        </div>
      ) : null}
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </Modal>
  );
}
