import type { AuditService } from '../audit/audit.service.js';
import type { Db } from '../db/db.js';
import { AppError, badRequest, conflict, forbidden } from '../errors.js';
import { requireActor, type RequestContext } from '../identity/actor.js';
import { BUILTIN_TEMPLATES, type TemplateDefinition } from './templates.builtin.js';

export interface Template extends TemplateDefinition {
  builtin: boolean;
}

interface TemplateRow {
  id: string;
  name: string;
  description: string;
  flows: Record<string, unknown>[];
  settings: Record<string, unknown>;
  env: Record<string, string>;
  memory_min_mb: number;
  memory_max_mb: number;
  memory_default_mb: number;
  cpu_min: number;
  cpu_max: number;
  cpu_default: number;
}

function fromRow(r: TemplateRow): Template {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    flows: r.flows,
    settings: r.settings,
    env: r.env,
    memory: { min: r.memory_min_mb, max: r.memory_max_mb, default: r.memory_default_mb },
    cpu: { min: r.cpu_min, max: r.cpu_max, default: r.cpu_default },
    builtin: false,
  };
}

/** Built-in templates live in code; administrators register more, stored in the database. */
export class TemplateService {
  constructor(
    private readonly db: Db,
    private readonly audit: AuditService,
  ) {}

  async list(): Promise<Template[]> {
    const rows = await this.db.query<TemplateRow>('SELECT * FROM templates ORDER BY id');
    return [...BUILTIN_TEMPLATES.map((t) => ({ ...t, builtin: true })), ...rows.map(fromRow)];
  }

  async get(id: string): Promise<Template> {
    const builtin = BUILTIN_TEMPLATES.find((t) => t.id === id);
    if (builtin) return { ...builtin, builtin: true };
    const rows = await this.db.query<TemplateRow>('SELECT * FROM templates WHERE id = $1', [id]);
    if (!rows[0]) throw new AppError(400, 'unknown_template', `Template "${id}" does not exist`, { field: 'template' });
    return fromRow(rows[0]);
  }

  async create(ctx: RequestContext, t: TemplateDefinition): Promise<Template> {
    const actor = requireActor(ctx);
    return this.audit.run(ctx, 'template.create', { type: 'template', id: t.id, label: t.name }, async () => {
      if (!actor.isAdmin) throw forbidden('Only platform administrators can register templates');
      for (const [k, r] of [['memory', t.memory], ['cpu', t.cpu]] as const) {
        if (!(r.min <= r.default && r.default <= r.max)) throw badRequest('invalid_template', `${k} bounds must satisfy min <= default <= max`);
      }
      if (BUILTIN_TEMPLATES.some((b) => b.id === t.id)) throw conflict('template_exists', `Template "${t.id}" already exists`);
      const inserted = await this.db.query(
        `INSERT INTO templates (id, name, description, flows, settings, env, memory_min_mb, memory_max_mb, memory_default_mb, cpu_min, cpu_max, cpu_default)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) ON CONFLICT (id) DO NOTHING RETURNING id`,
        [t.id, t.name, t.description, JSON.stringify(t.flows), JSON.stringify(t.settings), JSON.stringify(t.env), t.memory.min, t.memory.max, t.memory.default, t.cpu.min, t.cpu.max, t.cpu.default],
      );
      if (!inserted.length) throw conflict('template_exists', `Template "${t.id}" already exists`);
      return this.get(t.id);
    });
  }
}
