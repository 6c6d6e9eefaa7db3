import { Type, type TSchema } from 'typebox';
import type { App } from '../http/types.js';
import { IdParams, errorResponses } from '../http/schemas.js';
import type { BackupScheduler } from './backup.scheduler.js';
import { MAX_RETENTION, type BackupService } from './backup.service.js';

const Status = Type.Union([Type.Literal('running'), Type.Literal('complete'), Type.Literal('failed')]);
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const ProgressFields = { bytes: Type.Number(), totalBytes: Nullable(Type.Number()), percent: Nullable(Type.Number()) };
const BackupSchema = Type.Object({
  id: Type.String(),
  instanceId: Type.String(),
  projectId: Type.String(),
  kind: Type.Union([Type.Literal('manual'), Type.Literal('scheduled')]),
  status: Status,
  sizeBytes: Nullable(Type.Number()),
  sha256: Nullable(Type.String()),
  errorMessage: Nullable(Type.String()),
  createdAt: Type.String(),
  completedAt: Nullable(Type.String()),
  progress: Type.Object(ProgressFields),
  restore: Nullable(Type.Object({ ...ProgressFields, status: Status, error: Nullable(Type.String()), restoredAt: Nullable(Type.String()) })),
});
const ScheduleSchema = Type.Object({ cron: Type.String(), timezone: Type.Literal('UTC'), enabled: Type.Boolean(), retention: Type.Integer(), nextRunAt: Nullable(Type.String()) });
const Wait = Type.Object({ wait: Type.Optional(Type.Boolean()) }, { additionalProperties: false });
const responses = { ...errorResponses, 422: errorResponses[409], 500: errorResponses[409] };

export interface BackupRoutesOptions {
  backups: BackupService;
  scheduler: BackupScheduler;
}

export async function backupRoutes(app: App, opts: BackupRoutesOptions): Promise<void> {
  const { backups, scheduler } = opts;
  app.addHook('onReady', async () => scheduler.start());
  app.addHook('onClose', async () => scheduler.stop());

  app.post('/api/instances/:id/backups', { schema: { tags: ['backups'], params: IdParams, querystring: Wait, response: { 201: BackupSchema, 202: BackupSchema, ...responses } }, config: { audit: 'backup.create' } }, async (req, reply) => {
    const b = await backups.create(req.ctx, req.params.id, { wait: req.query.wait });
    return reply.status(b.status === 'running' ? 202 : 201).send(b);
  });

  app.get('/api/instances/:id/backups', { schema: { tags: ['backups'], params: IdParams, response: { 200: Type.Object({ items: Type.Array(BackupSchema) }), ...responses } } }, async (req) => backups.list(req.ctx, req.params.id));

  app.get('/api/backups/:id', { schema: { tags: ['backups'], params: IdParams, response: { 200: BackupSchema, ...responses } } }, async (req) => backups.get(req.ctx, req.params.id));

  app.get('/api/backups/:id/download', { schema: { tags: ['backups'], params: IdParams } }, async (req, reply) => {
    const file = await backups.download(req.ctx, req.params.id);
    return reply
      .header('content-type', 'application/gzip')
      .header('content-length', String(file.sizeBytes))
      .header('content-disposition', `attachment; filename="${file.fileName}"`)
      .send(file.stream);
  });

  app.delete('/api/backups/:id', { schema: { tags: ['backups'], params: IdParams, response: { 204: Type.Null(), ...responses } }, config: { audit: 'backup.delete' } }, async (req, reply) => {
    await backups.delete(req.ctx, req.params.id);
    return reply.status(204).send(null);
  });

  app.post('/api/backups/:id/restore', { schema: { tags: ['backups'], params: IdParams, querystring: Wait, response: { 200: BackupSchema, 202: BackupSchema, ...responses } }, config: { audit: 'backup.restore' } }, async (req, reply) => {
    const b = await backups.restore(req.ctx, req.params.id, { wait: req.query.wait });
    return reply.status(b.restore?.status === 'running' ? 202 : 200).send(b);
  });

  app.get('/api/instances/:id/backup-schedule', { schema: { tags: ['backups'], params: IdParams, response: { 200: ScheduleSchema, ...responses } } }, async (req) => backups.getSchedule(req.ctx, req.params.id));

  app.put(
    '/api/instances/:id/backup-schedule',
    {
      schema: {
        tags: ['backups'],
        params: IdParams,
        body: Type.Object({ cron: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })), enabled: Type.Optional(Type.Boolean()), retention: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_RETENTION })) }, { additionalProperties: false }),
        response: { 200: ScheduleSchema, ...responses },
      },
      config: { audit: 'backup.schedule' },
    },
    async (req) => backups.setSchedule(req.ctx, req.params.id, req.body),
  );
}
