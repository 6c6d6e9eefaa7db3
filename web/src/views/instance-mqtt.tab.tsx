import { useId, useState } from 'react';
import type { Instance, MqttClientInfo } from '../api/types.js';
import { useApp } from '../app.context.js';
import { ConfirmDialog } from '../components/confirm.dialog.js';
import { CopyButton } from '../components/copy-button.js';
import { Modal } from '../components/modal.dialog.js';
import { LoadError, Loading, Notice } from '../components/notice.js';
import { useLoad } from '../hooks/use-load.js';
import { errorMessage } from '../lib/api-error.js';
import { formatTime } from '../lib/format.js';
import { useProject } from '../project.context.js';
import { FormFooter } from '../components/form-footer.js';

export function InstanceMqttTab({ instance }: { instance: Instance }) {
  const { api, toast } = useApp();
  const { project } = useProject();
  const clients = useLoad(() => api.listMqttClients(project.id), `mqtt:${project.id}`);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<(MqttClientInfo & { password: string }) | null>(null);
  const [revoking, setRevoking] = useState<MqttClientInfo | null>(null);
  const brokerUrl = clients.data?.brokerUrl ?? instance.mqtt.url;
  const devices = (clients.data?.items ?? []).filter((c) => c.instanceId === null);

  return (
    <div className="stack">
      <section className="card" aria-labelledby="mqtt-conn-title">
        <h2 id="mqtt-conn-title">Connection</h2>
        <p className="muted">
          Every project has its own topic space on the platform broker: devices and instances of {project.name} see each other's messages and nobody else's.
        </p>
        <dl className="facts">
          <dt>Broker</dt>
          <dd className="with-copy">
            <span className="mono">{brokerUrl}</span> <CopyButton value={brokerUrl} label="broker URL" />
          </dd>
          <dt>This instance's user</dt>
          <dd className="with-copy">
            <span className="mono">{instance.mqtt.username}</span> <CopyButton value={instance.mqtt.username} label="instance MQTT username" />
          </dd>
          <dt>In flows</dt>
          <dd>
            The instance connects with its own credentials, available in flows as <span className="mono">$&#123;OPENFLOW_MQTT_USERNAME&#125;</span> and <span className="mono">$&#123;OPENFLOW_MQTT_PASSWORD&#125;</span>.
          </dd>
        </dl>
      </section>
      <section className="card" aria-labelledby="mqtt-devices-title">
        <div className="section-head">
          <h2 id="mqtt-devices-title">Device credentials</h2>
          {clients.data ? (
            <button type="button" className="primary small" onClick={() => setCreating(true)}>
              New credential
            </button>
          ) : null}
        </div>
        {clients.error ? (
          <LoadError error={clients.error} onRetry={clients.reload} what="Device credentials" />
        ) : clients.loading && !clients.data ? (
          <Loading what="device credentials" />
        ) : clients.data === null ? (
          <Notice title="Device credentials are not available on this manager" tone="warning" />
        ) : devices.length === 0 ? (
          <p>No device credentials yet. Create one for each device that should talk to this project's instances.</p>
        ) : (
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Device credentials of {project.name}</caption>
              <thead>
                <tr>
                  <th scope="col">Username</th>
                  <th scope="col">Description</th>
                  <th scope="col">Created</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {devices.map((c) => (
                  <tr key={c.id} className={c.revokedAt ? 'revoked' : undefined}>
                    <td data-label="Username" className="mono">
                      {c.username}
                    </td>
                    <td data-label="Description">{c.description || '—'}</td>
                    <td data-label="Created">{formatTime(c.createdAt)}</td>
                    <td data-label="Status">{c.revokedAt ? `Revoked ${formatTime(c.revokedAt)}` : 'Active'}</td>
                    <td className="row-actions">
                      {c.revokedAt ? null : (
                        <button type="button" className="small danger-outline" onClick={() => setRevoking(c)} aria-label={`Revoke ${c.username}`}>
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {creating ? (
        <NewCredentialDialog
          projectId={project.id}
          onClose={() => setCreating(false)}
          onCreated={(c) => {
            setCreating(false);
            setCreated(c);
            clients.reload();
          }}
        />
      ) : null}
      {created ? (
        <Modal title="Device credential created" onClose={() => setCreated(null)} footer={<button type="button" className="primary" onClick={() => setCreated(null)}>Done</button>}>
          <Notice title="Copy the password now" tone="warning">
            <p>It is shown only once. If it is lost, revoke this credential and create a new one.</p>
          </Notice>
          <dl className="facts">
            <dt>Broker</dt>
            <dd className="with-copy">
              <span className="mono">{brokerUrl}</span> <CopyButton value={brokerUrl} label="broker URL" />
            </dd>
            <dt>Username</dt>
            <dd className="with-copy">
              <span className="mono" data-testid="mqtt-username">{created.username}</span> <CopyButton value={created.username} label="username" />
            </dd>
            <dt>Password</dt>
            <dd className="with-copy">
              <span className="mono secret" data-testid="mqtt-password">{created.password}</span> <CopyButton value={created.password} label="password" />
            </dd>
          </dl>
        </Modal>
      ) : null}
      {revoking ? (
        <ConfirmDialog
          title={`Revoke ${revoking.username}?`}
          confirmLabel="Revoke credential"
          onClose={() => setRevoking(null)}
          onConfirm={async () => {
            await api.revokeMqttClient(project.id, revoking.id);
            toast({ kind: 'success', title: `${revoking.username} revoked`, message: 'Devices using it were disconnected.' });
            clients.reload();
          }}
        >
          <p>Devices using this credential are disconnected now and cannot connect again.</p>
        </ConfirmDialog>
      ) : null}
    </div>
  );
}

function NewCredentialDialog({ projectId, onClose, onCreated }: { projectId: string; onClose: () => void; onCreated: (c: MqttClientInfo & { password: string }) => void }) {
  const { api } = useApp();
  const [description, setDescription] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const id = useId();
  const submit = async () => {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      onCreated(await api.createMqttClient(projectId, description.trim()));
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };
  return (
    <Modal
      title="New device credential"
      onClose={onClose}
      onSubmit={() => void submit()}
      footer={<FormFooter onCancel={onClose} submitLabel="Create credential" busy={busy} />}
    >
      <div className="field">
        <label htmlFor={id}>Description</label>
        <input id={id} value={description} onChange={(e) => setDescription(e.target.value)} maxLength={200} placeholder="e.g. Greenhouse sensor 3" autoFocus />
      </div>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </Modal>
  );
}
