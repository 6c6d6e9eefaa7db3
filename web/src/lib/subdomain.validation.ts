import { validateLabel } from '../../../src/instances/labels.js';

export interface LabelCheck {
  /** The name the server will store: it trims and lower-cases before validating. */
  label: string;
  problem: string | null;
}

/**
 * Checks a subdomain or alias with the server's own rule (same pattern, same reserved names, same
 * wording), so the form says exactly what the API would answer.
 */
export function checkLabel(input: string, field = 'Subdomain'): LabelCheck {
  const label = input.trim().toLowerCase();
  if (label === '') return { label, problem: `${field} is required` };
  try {
    validateLabel(label, field);
    return { label, problem: null };
  } catch (err) {
    return { label, problem: err instanceof Error ? err.message : String(err) };
  }
}
