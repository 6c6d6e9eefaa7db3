import { useEffect, useId, useRef, useState } from 'react';
import type { Backup, BackupSchedule, Instance, Snapshot } from '../api/types.js';
import { useApp } from '../app.context.js';
import { BusyButton } from '../components/busy-button.js';
import { ConfirmDialog } from '../components/confirm.dialog.js';
import { LoadError, Loading, Notice } from '../components/notice.js';
import { useLoad } from '../hooks/use-load.js';
import { errorMessage } from '../lib/api-error.js';
import { inFlight, percentOf } from '../lib/backup-progress.js';
import { formatBytes, formatTime, plural } from '../lib/format.js';
import { mergeRestorePoints } from '../lib/restore-points.js';
import { ApplySnapshotDialog, CaptureSnapshotDialog, DiffDialog } from './snapshot.dialogs.js';

const POLL_MS = 1_000;

export function InstanceBackupsTab({ instance }: { instance: Instance }) {
  const { api, toast } = useApp();
  const snapshots = useLoad(() => api.listSnapshots(instance.id), `snapshots:${instance.id}`);
  const backups = useLoad(() => api.listBackups(instance.id), `backups:${instance.id}`);
  const [capturing, setCapturing] = useState(false);
  const [diffing, setDiffing] = useState<Snapshot | null>(null);
  const [applying, setApplying] = useState<Snapshot | null>(null);
  const [deletingSnapshot, setDeletingSnapshot] = useState<Snapshot | null>(null);
  const [restoring, setRestoring] = useState<Backup | null>(null);
  const [deletingBackup, setDeletingBackup] = useState<Backup | null>(null);
  const previous = useRef(new Map<string, Backup>());

  // While a backup or restore runs, poll the list: it carries progress, and the end of the job becomes a toast.
  const running = (backups.data?.items ?? []).some(inFlight);
  const reloadBackups = backups.reload;
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(reloadBackups, POLL_MS);
    return () => clearInterval(timer);
  }, [running, reloadBackups]);
  useEffect(() => {
    const items = backups.data?.items ?? [];
    for (const b of items) {
      const before = previous.current.get(b.id);
      if (!before) continue;
      if (before.status === 'running' && b.status === 'complete') toast({ kind: 'success', title: 'Backup complete', message: `${formatBytes(b.sizeBytes)} archived.` });
      if (before.status === 'running' && b.status === 'failed') toast({ kind: 'error', title: 'Backup failed', message: b.errorMessage ?? undefined });
      if (before.restore?.status === 'running' && b.restore?.status === 'complete') toast({ kind: 'success', title: 'Restore complete', message: `${instance.subdomain} is back to ${formatTime(b.createdAt)}.` });
      if (before.restore?.status === 'running' && b.restore?.status === 'failed') toast({ kind: 'error', title: 'Restore failed', message: b.restore.error ?? undefined });
    }
    previous.current = new Map(items.map((b) => [b.id, b]));
  }, [backups.data, toast, instance.subdomain]);

  const upsertBackup = (b: Backup) => backups.setData((d) => d && { items: [b, ...d.items.filter((x) => x.id !== b.id)].sort((x, y) => Date.parse(y.createdAt) - Date.parse(x.createdAt)) });

  // A job that finished within its own request never shows as running, so it gets its toast here.
  const backupNow = async () => {
    const b = await api.createBackup(instance.id);
    upsertBackup(b);
    if (b.status === 'complete') toast({ kind: 'success', title: 'Backup complete', message: `${formatBytes(b.sizeBytes)} archived.` });
    if (b.status === 'failed') toast({ kind: 'error', title: 'Backup failed', message: b.errorMessage ?? undefined });
  };

  const snapshotsMissing = !snapshots.loading && snapshots.data === null && !snapshots.error;
  const backupsMissing = !backups.loading && backups.data === null && !backups.error;
  const points = mergeRestorePoints(snapshots.data?.items ?? [], backups.data?.items ?? []);
  const loading = (snapshots.loading && !snapshots.data) || (backups.loading && !backups.data);

  return (
    <div className="stack">
      <section aria-labelledby="points-title">
        <div className="section-head">
          <h2 id="points-title">Snapshots and backups</h2>
          <button type="button" className="small" onClick={() => setCapturing(true)} disabled={!snapshots.data}>
            Capture snapshot
          </button>
          <BusyButton className="small primary" onClick={backupNow} disabled={!backups.data} failTitle="Could not start the backup">
            Back up now
          </BusyButton>
        </div>
        <p className="muted">Snapshots hold the flows and credentials, for promoting to other instances. Backups hold the whole instance directory, for disaster recovery.</p>
        {snapshots.error ? <LoadError error={snapshots.error} onRetry={snapshots.reload} what="Snapshots" /> : null}
        {backups.error && !backups.data ? <LoadError error={backups.error} onRetry={backups.reload} what="Backups" /> : null}
        {snapshotsMissing ? <Notice title="Snapshots are not available on this manager yet" tone="warning" /> : null}
        {backupsMissing ? <Notice title="Backups are not available on this manager yet" tone="warning" /> : null}
        {loading ? <Loading what="snapshots and backups" /> : null}
        {!loading && points.length === 0 && !(snapshotsMissing && backupsMissing) ? <p className="empty">No snapshots or backups yet.</p> : null}
        <ol className="timeline" aria-label="Snapshots and backups, newest first">
          {points.map((p) =>
            p.kind === 'snapshot' ? (
              <li key={`s-${p.id}`} className="point" data-kind="snapshot" data-name={p.item.name}>
                <span className="point-kind snapshot">Snapshot</span>
                <div>
                  <p className="point-title">{p.item.name}</p>
                  <p className="point-meta">
                    {formatTime(p.at)} · {plural(p.item.nodeCount, 'node')}{p.item.author ? ` · by ${p.item.author.name}` : ''}
                    {p.item.sourceInstanceId && p.item.sourceInstanceId !== instance.id ? ' · from another instance' : ''}
                  </p>
                  {p.item.description ? <p className="point-meta">{p.item.description}</p> : null}
                </div>
                <div className="actions">
                  <button type="button" className="small" onClick={() => setDiffing(p.item)} aria-label={`Compare snapshot ${p.item.name} with the current flows`}>
                    Compare
                  </button>
                  <button type="button" className="small" onClick={() => setApplying(p.item)} aria-label={`Apply snapshot ${p.item.name}`}>
                    Apply…
                  </button>
                  <button type="button" className="small danger-outline" onClick={() => setDeletingSnapshot(p.item)} aria-label={`Delete snapshot ${p.item.name}`}>
                    Delete
                  </button>
                </div>
              </li>
            ) : (
              <BackupPoint key={`b-${p.id}`} backup={p.item} downloadUrl={api.backupDownloadUrl(p.id)} onRestore={() => setRestoring(p.item)} onDelete={() => setDeletingBackup(p.item)} />
            ),
          )}
        </ol>
      </section>
      {backups.data ? <ScheduleCard instance={instance} /> : null}
      {capturing ? (
        <CaptureSnapshotDialog
          instance={instance}
          onClose={() => setCapturing(false)}
          onCaptured={(s) => {
            setCapturing(false);
            snapshots.setData((d) => d && { ...d, items: [s, ...d.items], total: d.total + 1 });
          }}
        />
      ) : null}
      {diffing ? <DiffDialog snapshot={diffing} instance={instance} onClose={() => setDiffing(null)} /> : null}
      {applying ? <ApplySnapshotDialog snapshot={applying} instance={instance} onClose={() => setApplying(null)} /> : null}
      {deletingSnapshot ? (
        <ConfirmDialog
          title={`Delete snapshot ${deletingSnapshot.name}?`}
          confirmLabel="Delete snapshot"
          onClose={() => setDeletingSnapshot(null)}
          onConfirm={async () => {
            await api.deleteSnapshot(deletingSnapshot.id);
            snapshots.setData((d) => d && { ...d, items: d.items.filter((x) => x.id !== deletingSnapshot.id), total: d.total - 1 });
            toast({ kind: 'success', title: `Snapshot ${deletingSnapshot.name} deleted` });
          }}
        >
          <p>Instances keep their flows; only this saved copy goes.</p>
        </ConfirmDialog>
      ) : null}
      {restoring ? (
        <ConfirmDialog
          title="Restore this backup?"
          confirmLabel="Restore"
          typeToConfirm={instance.subdomain}
          onClose={() => setRestoring(null)}
          onConfirm={async () => {
            const b = await api.restoreBackup(restoring.id);
            upsertBackup(b);
            if (b.restore?.status === 'complete') toast({ kind: 'success', title: 'Restore complete', message: `${instance.subdomain} is back to ${formatTime(b.createdAt)}.` });
            if (b.restore?.status === 'failed') toast({ kind: 'error', title: 'Restore failed', message: b.restore.error ?? undefined });
          }}
        >
          <p>
            {instance.subdomain} stops, its whole directory is replaced by the backup from <strong>{formatTime(restoring.createdAt)}</strong>, and it starts again if it was running. Everything changed since then is lost.
          </p>
        </ConfirmDialog>
      ) : null}
      {deletingBackup ? (
        <ConfirmDialog
          title="Delete this backup?"
          confirmLabel="Delete backup"
          onClose={() => setDeletingBackup(null)}
          onConfirm={async () => {
            await api.deleteBackup(deletingBackup.id);
            backups.setData((d) => d && { items: d.items.filter((x) => x.id !== deletingBackup.id) });
            toast({ kind: 'success', title: 'Backup deleted' });
          }}
        >
          <p>The archive from {formatTime(deletingBackup.createdAt)} is deleted for good.</p>
        </ConfirmDialog>
      ) : null}
    </div>
  );
}

function BackupPoint({ backup: b, downloadUrl, onRestore, onDelete }: { backup: Backup; downloadUrl: string; onRestore: () => void; onDelete: () => void }) {
  const title = `${b.kind === 'scheduled' ? 'Scheduled' : 'Manual'} backup`;
  const restoreRunning = b.restore?.status === 'running';
  const progress = b.status === 'running' ? b.progress : restoreRunning && b.restore ? b.restore : null;
  const pct = progress ? percentOf(progress) : null;
  return (
    <li className="point" data-kind="backup" data-status={b.status} data-restore={b.restore?.status ?? ''}>
      <span className="point-kind backup">Backup</span>
      <div>
        <p className="point-title">{title}</p>
        <p className="point-meta">
          {formatTime(b.createdAt)}
          {b.status === 'complete' ? ` · ${formatBytes(b.sizeBytes)}` : ''}
          {b.status === 'failed' ? ` · failed: ${b.errorMessage ?? 'unknown error'}` : ''}
          {b.restore?.status === 'complete' ? ` · restored ${formatTime(b.restore.restoredAt)}` : ''}
          {b.restore?.status === 'failed' ? ` · restore failed: ${b.restore.error ?? 'unknown error'}` : ''}
        </p>
        {progress ? (
          <div className="progress-line">
            <progress max={100} value={pct ?? undefined} aria-label={b.status === 'running' ? 'Backup progress' : 'Restore progress'} />
            <span className="point-meta" role="status">
              {b.status === 'running' ? 'Backing up' : 'Restoring'}… {pct !== null ? `${Math.round(pct)}%` : formatBytes(progress.bytes)}
            </span>
          </div>
        ) : null}
      </div>
      <div className="actions">
        {b.status === 'complete' ? (
          <>
            <button type="button" className="small" onClick={onRestore} disabled={restoreRunning} aria-label={`Restore the backup from ${formatTime(b.createdAt)}`}>
              Restore…
            </button>
            <a className="button-link small" href={downloadUrl} download aria-label={`Download the backup from ${formatTime(b.createdAt)}`}>
              Download
            </a>
          </>
        ) : null}
        <button type="button" className="small danger-outline" onClick={onDelete} disabled={b.status === 'running' || restoreRunning} aria-label={`Delete the backup from ${formatTime(b.createdAt)}`}>
          Delete
        </button>
      </div>
    </li>
  );
}

function ScheduleCard({ instance }: { instance: Instance }) {
  const { api } = useApp();
  const schedule = useLoad(() => api.getBackupSchedule(instance.id), `schedule:${instance.id}`);
  if (schedule.error) return <LoadError error={schedule.error} onRetry={schedule.reload} what="The backup schedule" />;
  if (schedule.loading && !schedule.data) return <Loading what="the backup schedule" />;
  if (!schedule.data) return null;
  return <ScheduleForm key={JSON.stringify(schedule.data)} instance={instance} schedule={schedule.data} onSaved={(s) => schedule.setData(() => s)} />;
}

function ScheduleForm({ instance, schedule, onSaved }: { instance: Instance; schedule: BackupSchedule; onSaved: (s: BackupSchedule) => void }) {
  const { api, toast } = useApp();
  const [enabled, setEnabled] = useState(schedule.enabled);
  const [cron, setCron] = useState(schedule.cron);
  const [retention, setRetention] = useState(String(schedule.retention));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ids = { enabled: useId(), cron: useId(), cronHint: useId(), retention: useId() };
  const retentionNumber = Number(retention);
  const retentionOk = Number.isInteger(retentionNumber) && retentionNumber >= 1;
  const changed = enabled !== schedule.enabled || cron.trim() !== schedule.cron || retentionNumber !== schedule.retention;
  const save = async () => {
    if (!changed || !retentionOk || busy) return;
    setBusy(true);
    setError(null);
    try {
      const saved = await api.setBackupSchedule(instance.id, { enabled, cron: cron.trim(), retention: retentionNumber });
      toast({ kind: 'success', title: 'Backup schedule saved', message: saved.enabled && saved.nextRunAt ? `Next backup ${formatTime(saved.nextRunAt)}.` : 'Scheduled backups are off.' });
      onSaved(saved);
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };
  return (
    <form
      className="card"
      aria-labelledby="schedule-title"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <h2 id="schedule-title">Backup schedule</h2>
      <label className="checkbox" htmlFor={ids.enabled}>
        <input id={ids.enabled} type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />
        Back up {instance.subdomain} automatically
      </label>
      <div className="field-row">
        <div className="field">
          <label htmlFor={ids.cron}>When (cron, UTC)</label>
          <input id={ids.cron} className="mono" value={cron} onChange={(e) => setCron(e.target.value)} aria-describedby={ids.cronHint} spellCheck={false} disabled={!enabled} />
          <p id={ids.cronHint} className="hint">
            minute hour day month weekday, e.g. <span className="mono">0 3 * * *</span> for 03:00 every day.
            {schedule.enabled && schedule.nextRunAt ? ` Next: ${formatTime(schedule.nextRunAt)}.` : ''}
          </p>
        </div>
        <div className="field">
          <label htmlFor={ids.retention}>Keep the newest</label>
          <input id={ids.retention} type="number" min={1} step={1} value={retention} onChange={(e) => setRetention(e.target.value)} aria-invalid={!retentionOk} />
          <p className="hint">scheduled backups; manual ones are kept until deleted.</p>
        </div>
      </div>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      <button type="submit" className="primary" disabled={!changed || !retentionOk || busy} aria-busy={busy}>
        Save schedule
      </button>
    </form>
  );
}
