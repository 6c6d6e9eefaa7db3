import type { InstanceState } from '../api/types.js';

const LABELS: Record<InstanceState, string> = {
  stopped: 'Stopped',
  starting: 'Starting…',
  running: 'Running',
  stopping: 'Stopping…',
  error: 'Error',
};

export function StateBadge({ state }: { state: InstanceState }) {
  const moving = state === 'starting' || state === 'stopping';
  return (
    <span className={`badge state state-${state}`} data-state={state}>
      {moving ? <span className="spinner" aria-hidden="true" /> : <span className="dot" aria-hidden="true" />}
      {LABELS[state]}
    </span>
  );
}
