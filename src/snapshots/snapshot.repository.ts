import { one, type Db } from '../db/db.js';
import type { FlowNode } from './flow-diff.js';

export interface SnapshotRow {
  id: string;
  project_id: string;
  source_instance_id: string | null;
  name: string;
  description: string;
  author_id: string | null;
  author_label: string | null;
  author_name: string | null;
  flows: FlowNode[];
  credentials_enc: string | null;
  env: Record<string, string>;
  settings: Record<string, unknown>;
  modules: Record<string, string>;
  node_count: number;
  created_at: Date;
}

export type SnapshotSummaryRow = Omit<SnapshotRow, 'flows' | 'credentials_enc'>;

export interface NewSnapshot {
  id: string;
  projectId: string;
  sourceInstanceId: string;
  name: string;
  description: string;
  authorId: string | null;
  authorLabel: string | null;
  flows: FlowNode[];
  credentialsEnc: string | null;
  env: Record<string, string>;
  settings: Record<string, unknown>;
  modules: Record<string, string>;
  nodeCount: number;
}

const SUMMARY = `s.id, s.project_id, s.source_instance_id, s.name, s.description, s.author_id, s.author_label, u.name AS author_name,
  s.env, s.settings, s.modules, s.node_count, s.created_at`;
const FROM = 'FROM snapshots s LEFT JOIN users u ON u.id = s.author_id';

export class SnapshotRepository {
  constructor(private readonly db: Db) {}

  async insert(s: NewSnapshot): Promise<void> {
    await this.db.query(
      `INSERT INTO snapshots (id, project_id, source_instance_id, name, description, author_id, author_label, flows, credentials_enc, env, settings, modules, node_count)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`,
      [s.id, s.projectId, s.sourceInstanceId, s.name, s.description, s.authorId, s.authorLabel, JSON.stringify(s.flows), s.credentialsEnc, JSON.stringify(s.env), JSON.stringify(s.settings), JSON.stringify(s.modules), s.nodeCount],
    );
  }

  get(id: string): Promise<SnapshotRow | null> {
    return one<SnapshotRow>(this.db, `SELECT ${SUMMARY}, s.flows, s.credentials_enc ${FROM} WHERE s.id = $1`, [id]);
  }

  getSummary(id: string): Promise<SnapshotSummaryRow | null> {
    return one<SnapshotSummaryRow>(this.db, `SELECT ${SUMMARY} ${FROM} WHERE s.id = $1`, [id]);
  }

  listBySource(instanceId: string, limit: number, offset: number): Promise<SnapshotSummaryRow[]> {
    return this.db.query<SnapshotSummaryRow>(`SELECT ${SUMMARY} ${FROM} WHERE s.source_instance_id = $1 ORDER BY s.created_at DESC, s.id DESC LIMIT $2 OFFSET $3`, [instanceId, limit, offset]);
  }

  async countBySource(instanceId: string): Promise<number> {
    const row = await one<{ n: string }>(this.db, 'SELECT count(*) AS n FROM snapshots WHERE source_instance_id = $1', [instanceId]);
    return Number(row?.n ?? 0);
  }

  async delete(id: string): Promise<boolean> {
    const rows = await this.db.query('DELETE FROM snapshots WHERE id = $1 RETURNING id', [id]);
    return rows.length > 0;
  }
}
