interface FormFooterProps {
  onCancel: () => void;
  submitLabel: string;
  /** 'danger' for submits that replace or destroy something. */
  tone?: 'primary' | 'danger';
  disabled?: boolean;
  busy: boolean;
}

/** The footer of every form dialog: Cancel, then the submit button, which shows progress while busy. */
export function FormFooter({ onCancel, submitLabel, tone = 'primary', disabled = false, busy }: FormFooterProps) {
  return (
    <>
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
      <button type="submit" className={tone} disabled={disabled || busy} aria-busy={busy}>
        {busy ? <span className="spinner" aria-hidden="true" /> : null}
        {submitLabel}
      </button>
    </>
  );
}
