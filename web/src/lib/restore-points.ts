interface Dated {
  id: string;
  createdAt: string;
}

export type RestorePoint<S extends Dated, B extends Dated> = { kind: 'snapshot'; id: string; at: string; item: S } | { kind: 'backup'; id: string; at: string; item: B };

/** Snapshots and backups of one instance as one timeline, newest first (the Backups tab shows both together). */
export function mergeRestorePoints<S extends Dated, B extends Dated>(snapshots: readonly S[], backups: readonly B[]): RestorePoint<S, B>[] {
  const points: RestorePoint<S, B>[] = [
    ...snapshots.map((item) => ({ kind: 'snapshot' as const, id: item.id, at: item.createdAt, item })),
    ...backups.map((item) => ({ kind: 'backup' as const, id: item.id, at: item.createdAt, item })),
  ];
  return points.sort((a, b) => Date.parse(b.at) - Date.parse(a.at) || a.kind.localeCompare(b.kind) || a.id.localeCompare(b.id));
}
