import type { Backup } from '../api/types.js';

/** A backup or restore still in flight: the tab keeps polling while any exists. */
export function inFlight(b: Backup): boolean {
  return b.status === 'running' || b.restore?.status === 'running';
}

/** Percent for a progress bar, or null for an indeterminate one (total not known yet). */
export function percentOf(p: { bytes: number; totalBytes: number | null; percent: number | null }): number | null {
  if (p.percent !== null) return Math.max(0, Math.min(100, p.percent));
  if (p.totalBytes) return Math.max(0, Math.min(100, (p.bytes / p.totalBytes) * 100));
  return null;
}
