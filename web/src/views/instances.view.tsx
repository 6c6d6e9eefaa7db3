import { useState } from 'react';
import { InstanceActions } from '../components/instance-actions.js';
import { Link } from '../components/link.js';
import { Loading } from '../components/notice.js';
import { StateBadge } from '../components/state-badge.js';
import { useInstanceStatus } from '../hooks/use-instance-status.js';
import { formatBytes, formatDuration } from '../lib/format.js';
import { useProject } from '../project.context.js';
import { CreateInstanceDialog } from './create-instance.dialog.js';

export function InstancesView() {
  const { project, instances } = useProject();
  const [creating, setCreating] = useState(false);
  const running = instances.items.filter((i) => i.state === 'running').map((i) => i.id);
  const statuses = useInstanceStatus(running);

  return (
    <section aria-labelledby="instances-title">
      <div className="page-head">
        <div>
          <h1 id="instances-title">Instances</h1>
          <p className="muted">
            {project.name}
            {project.personal ? ' · personal project' : ''} · <LiveIndicator live={instances.live} />
          </p>
        </div>
        <button type="button" className="primary" onClick={() => setCreating(true)}>
          New instance
        </button>
      </div>
      {!instances.loaded ? (
        <Loading what="instances" />
      ) : instances.items.length === 0 ? (
        <div className="empty">
          <p>No instances in this project yet.</p>
          <button type="button" className="primary" onClick={() => setCreating(true)}>
            Create the first instance
          </button>
        </div>
      ) : (
        <div className="table-wrap">
          <table className="instances">
            <caption className="visually-hidden">Instances of {project.name}, updated live</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">State</th>
                <th scope="col">Memory</th>
                <th scope="col">Uptime</th>
                <th scope="col">Limits</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {instances.items.map((i) => {
                const s = i.state === 'running' ? statuses[i.id] : undefined;
                return (
                  <tr key={i.id} data-instance={i.subdomain}>
                    <td data-label="Name">
                      <Link to={{ name: 'instance', projectId: project.id, instanceId: i.id, tab: 'overview' }} className="strong">
                        {i.subdomain}
                      </Link>
                      <div className="muted small-text">{i.template} template</div>
                    </td>
                    <td data-label="State">
                      <StateBadge state={i.state} />
                      {i.state === 'error' && i.errorMessage ? <div className="error-text small-text">{i.errorMessage.split('\n')[0]}</div> : null}
                    </td>
                    <td data-label="Memory">{s ? `${formatBytes(s.rssBytes)} of ${i.memoryMb} MiB` : '—'}</td>
                    <td data-label="Uptime">{s ? formatDuration(s.uptimeMs) : '—'}</td>
                    <td data-label="Limits">
                      {i.memoryMb} MiB · {i.cpu} CPU
                    </td>
                    <td className="row-actions">
                      <InstanceActions instance={i} small />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {creating ? <CreateInstanceDialog onClose={() => setCreating(false)} /> : null}
    </section>
  );
}

export function LiveIndicator({ live }: { live: boolean }) {
  return (
    <span className={live ? 'live on' : 'live'} role="status">
      <span className="dot" aria-hidden="true" />
      {live ? 'Live' : 'Reconnecting…'}
    </span>
  );
}
