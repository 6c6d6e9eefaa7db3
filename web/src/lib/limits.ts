export interface Bounds {
  min: number;
  max: number;
}

/** Checks a memory or CPU field as typed against the template's bounds; null when acceptable. */
export function limitProblem(raw: string, bounds: Bounds, what: string, integer: boolean): string | null {
  if (raw.trim() === '') return `${what} is required`;
  const n = Number(raw);
  if (!Number.isFinite(n)) return `${what} must be a number`;
  if (integer && !Number.isInteger(n)) return `${what} must be a whole number`;
  if (n < bounds.min || n > bounds.max) return `${what} must be between ${bounds.min} and ${bounds.max}`;
  return null;
}
