import type { Instance } from '../api/types.js';
import { CopyButton } from '../components/copy-button.js';
import { useInstanceStatus } from '../hooks/use-instance-status.js';
import { formatBytes, formatDuration, formatTime } from '../lib/format.js';

export function InstanceOverviewTab({ instance }: { instance: Instance }) {
  const statuses = useInstanceStatus(instance.state === 'running' ? [instance.id] : []);
  const s = instance.state === 'running' ? statuses[instance.id] : undefined;
  const memoryShare = s?.rssBytes ? Math.min(1, s.rssBytes / (instance.memoryMb * 1024 * 1024)) : null;
  return (
    <div className="grid-2">
      <section className="card" aria-labelledby="usage-title">
        <h2 id="usage-title">Resource use</h2>
        {instance.state !== 'running' ? (
          <p className="muted">Shown while the instance runs.</p>
        ) : (
          <dl className="facts">
            <dt>Memory</dt>
            <dd>
              {formatBytes(s?.rssBytes)} of {instance.memoryMb} MiB
              {memoryShare !== null ? <meter min={0} max={1} low={0.7} high={0.9} optimum={0.2} value={memoryShare} aria-label="Memory use against the limit" /> : null}
            </dd>
            <dt>Uptime</dt>
            <dd>{formatDuration(s?.uptimeMs)}</dd>
            <dt>Node-RED</dt>
            <dd>{s?.nodeRedVersion ?? '—'}</dd>
            <dt>Process</dt>
            <dd>{s?.pid ? `pid ${s.pid}, port ${s.port ?? '—'}` : '—'}</dd>
          </dl>
        )}
      </section>
      <section className="card" aria-labelledby="config-title">
        <h2 id="config-title">Configuration</h2>
        <dl className="facts">
          <dt>Template</dt>
          <dd>{instance.template}</dd>
          <dt>Limits</dt>
          <dd>
            {instance.memoryMb} MiB · {instance.cpu} CPU
          </dd>
          <dt>Address</dt>
          <dd className="with-copy">
            <span className="mono">{instance.url}</span> <CopyButton value={instance.url} label="instance address" />
          </dd>
          <dt>Aliases</dt>
          <dd>{instance.aliases.length ? instance.aliases.join(', ') : '—'}</dd>
          <dt>Restarts</dt>
          <dd>{instance.restartCount}</dd>
          <dt>Started</dt>
          <dd>{formatTime(instance.startedAt)}</dd>
          <dt>Created</dt>
          <dd>{formatTime(instance.createdAt)}</dd>
        </dl>
      </section>
    </div>
  );
}
