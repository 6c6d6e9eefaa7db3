import { useState, type ButtonHTMLAttributes, type ReactNode } from 'react';
import { useApp } from '../app.context.js';

interface BusyButtonProps extends Omit<ButtonHTMLAttributes<HTMLButtonElement>, 'onClick'> {
  onClick: () => Promise<unknown>;
  /** Title of the error toast if the request fails. */
  failTitle: string;
  children: ReactNode;
}

/** A button for a request: a spinner while it runs, no double clicks, and failures become toasts. */
export function BusyButton({ onClick, failTitle, children, disabled, ...rest }: BusyButtonProps) {
  const { fail } = useApp();
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    try {
      await onClick();
    } catch (err) {
      fail(failTitle, err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <button type="button" {...rest} disabled={disabled || busy} aria-busy={busy} onClick={() => void run()}>
      {busy ? <span className="spinner" aria-hidden="true" /> : null}
      {children}
    </button>
  );
}
