import { useState } from 'react';
import { useApp, useUser } from '../app.context.js';
import { ConfirmDialog } from '../components/confirm.dialog.js';
import { InstanceActions } from '../components/instance-actions.js';
import { Link } from '../components/link.js';
import { Loading, Notice } from '../components/notice.js';
import { StateBadge } from '../components/state-badge.js';
import type { InstanceTab } from '../lib/route.parser.js';
import { useProject } from '../project.context.js';
import { InstanceAliasesTab } from './instance-aliases.tab.js';
import { InstanceBackupsTab } from './instance-backups.tab.js';
import { InstanceLogsTab } from './instance-logs.tab.js';
import { InstanceMqttTab } from './instance-mqtt.tab.js';
import { InstanceOverviewTab } from './instance-overview.tab.js';
import { InstanceSettingsTab } from './instance-settings.tab.js';

const TABS: { id: InstanceTab; label: string }[] = [
  { id: 'overview', label: 'Overview' },
  { id: 'logs', label: 'Logs' },
  { id: 'settings', label: 'Settings' },
  { id: 'aliases', label: 'Aliases' },
  { id: 'backups', label: 'Backups' },
  { id: 'mqtt', label: 'MQTT' },
];

export function InstanceView({ instanceId, tab }: { instanceId: string; tab: InstanceTab }) {
  const { api, navigate, toast } = useApp();
  const user = useUser();
  const { project, instances, dispatch } = useProject();
  const [deleting, setDeleting] = useState(false);
  const instance = instances.items.find((i) => i.id === instanceId);

  if (!instances.loaded) return <Loading what="the instance" />;
  if (!instance) {
    return (
      <Notice title="Instance not found" tone="warning">
        <p>
          It may have been deleted. <Link to={{ name: 'project', projectId: project.id }}>Back to the instances of {project.name}</Link>
        </p>
      </Notice>
    );
  }
  const canDelete = project.role === 'owner' || user.isAdmin;
  const remove = async () => {
    await api.deleteInstance(instance.id);
    dispatch({ type: 'remove', id: instance.id });
    toast({ kind: 'success', title: `Instance ${instance.subdomain} deleted` });
    navigate({ name: 'project', projectId: project.id });
  };

  return (
    <section aria-labelledby="instance-title">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to={{ name: 'project', projectId: project.id }}>Instances</Link>
        <span aria-hidden="true"> / </span>
        <span aria-current="page">{instance.subdomain}</span>
      </nav>
      <div className="page-head">
        <div>
          <h1 id="instance-title" className="with-badge">
            {instance.subdomain} <StateBadge state={instance.state} />
          </h1>
          <p className="muted">
            <a href={instance.url} target="_blank" rel="noreferrer">
              {instance.url}
            </a>
          </p>
        </div>
        <div className="actions">
          <InstanceActions instance={instance} />
          {canDelete ? (
            <button type="button" className="danger-outline" onClick={() => setDeleting(true)}>
              Delete…
            </button>
          ) : null}
        </div>
      </div>
      {instance.state === 'starting' || instance.state === 'stopping' ? (
        <progress className="wide-progress" aria-label={instance.state === 'starting' ? 'Starting the instance' : 'Stopping the instance'} />
      ) : null}
      {instance.state === 'error' && instance.errorMessage ? (
        <Notice title="The instance failed" tone="error">
          <pre className="error-pre">{instance.errorMessage}</pre>
        </Notice>
      ) : null}
      <nav aria-label="Instance sections" className="tabs">
        {TABS.map((t) => (
          <Link key={t.id} to={{ name: 'instance', projectId: project.id, instanceId: instance.id, tab: t.id }} aria-current={t.id === tab ? 'page' : undefined}>
            {t.label}
          </Link>
        ))}
      </nav>
      <div className="tab-panel">
        {tab === 'overview' ? <InstanceOverviewTab instance={instance} /> : null}
        {tab === 'logs' ? <InstanceLogsTab instance={instance} /> : null}
        {tab === 'settings' ? <InstanceSettingsTab instance={instance} /> : null}
        {tab === 'aliases' ? <InstanceAliasesTab instance={instance} /> : null}
        {tab === 'backups' ? <InstanceBackupsTab instance={instance} /> : null}
        {tab === 'mqtt' ? <InstanceMqttTab instance={instance} /> : null}
      </div>
      {deleting ? (
        <ConfirmDialog title={`Delete ${instance.subdomain}?`} confirmLabel="Delete instance" typeToConfirm={instance.subdomain} onConfirm={remove} onClose={() => setDeleting(false)}>
          <p>
            This stops the instance and deletes its flows, credentials, installed nodes and backups. <strong>It cannot be undone.</strong>
          </p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
