import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { App } from '../http/types.js';
import { IdParams, Uuid, errorResponses } from '../http/schemas.js';
import type { SnapshotService } from './snapshot.service.js';

const Author = Type.Union([Type.Object({ id: Type.Union([Type.String(), Type.Null()]), name: Type.String() }), Type.Null()]);
const SnapshotSchema = Type.Object({
  id: Type.String(),
  projectId: Type.String(),
  sourceInstanceId: Type.Union([Type.String(), Type.Null()]),
  name: Type.String(),
  description: Type.String(),
  author: Author,
  nodeCount: Type.Integer(),
  modules: Type.Record(Type.String(), Type.String()),
  env: Type.Record(Type.String(), Type.String()),
  settings: Type.Record(Type.String(), Type.Unknown()),
  createdAt: Type.String(),
});
const SnapshotDetailSchema = Type.Intersect([SnapshotSchema, Type.Object({ flows: Type.Array(Type.Record(Type.String(), Type.Unknown())), credentialNodeIds: Type.Array(Type.String()) })]);
const SnapshotList = Type.Object({ items: Type.Array(SnapshotSchema), total: Type.Integer() });
const SnapshotInput = Type.Object({ name: Type.Optional(Type.String({ maxLength: 200 })), description: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false });
const ApplyResultSchema = Type.Object({
  snapshotId: Type.String(),
  instance: Type.Object({ id: Type.String(), projectId: Type.String(), subdomain: Type.String(), state: Type.String() }, { additionalProperties: true }),
  mode: Type.Union([Type.Literal('reloaded'), Type.Literal('restarted'), Type.Literal('written')]),
  installedModules: Type.Array(Type.String()),
});
const NodeRef = { id: Type.String(), type: Type.String(), name: Type.Union([Type.String(), Type.Null()]), flow: Type.Union([Type.String(), Type.Null()]) };
const DiffSchema = Type.Object({
  snapshotId: Type.String(),
  against: Type.String(),
  added: Type.Array(Type.Object(NodeRef)),
  removed: Type.Array(Type.Object(NodeRef)),
  changed: Type.Array(Type.Object({ ...NodeRef, properties: Type.Array(Type.String()) })),
  renamed: Type.Array(Type.Object({ id: Type.String(), type: Type.String(), from: Type.String(), to: Type.String() })),
});
const responses = { ...errorResponses, 502: errorResponses[409] };

export interface SnapshotRoutesOptions {
  snapshots: SnapshotService;
}

function bearerOf(req: FastifyRequest): string {
  const header = req.headers.authorization ?? '';
  return header.startsWith('Bearer ') ? header.slice(7).trim() : '';
}

export async function snapshotRoutes(app: App, opts: SnapshotRoutesOptions): Promise<void> {
  const { snapshots } = opts;

  app.get(
    '/api/instances/:id/snapshots',
    { schema: { tags: ['snapshots'], params: IdParams, querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })), offset: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false }), response: { 200: SnapshotList, ...responses } } },
    async (req) => snapshots.list(req.ctx, req.params.id, req.query),
  );

  app.post('/api/instances/:id/snapshots', { schema: { tags: ['snapshots'], params: IdParams, body: SnapshotInput, response: { 201: SnapshotSchema, ...responses } }, config: { audit: 'snapshot.create' } }, async (req, reply) =>
    reply.status(201).send(await snapshots.create(req.ctx, req.params.id, req.body ?? {})),
  );

  app.get('/api/snapshots/:id', { schema: { tags: ['snapshots'], params: IdParams, response: { 200: SnapshotDetailSchema, ...responses } } }, async (req) => snapshots.get(req.ctx, req.params.id));

  app.post(
    '/api/snapshots/:id/apply',
    { schema: { tags: ['snapshots'], params: IdParams, body: Type.Object({ instanceId: Uuid }, { additionalProperties: false }), response: { 200: ApplyResultSchema, ...responses } }, config: { audit: 'snapshot.apply' } },
    async (req) => snapshots.apply(req.ctx, req.params.id, req.body.instanceId),
  );

  app.get(
    '/api/snapshots/:id/diff',
    {
      schema: {
        tags: ['snapshots'],
        params: IdParams,
        querystring: Type.Object({ against: Type.Optional(Type.Union([Type.Literal('current'), Uuid])), instanceId: Type.Optional(Uuid) }, { additionalProperties: false }),
        response: { 200: DiffSchema, ...responses },
      },
    },
    async (req) => snapshots.diff(req.ctx, req.params.id, req.query.against ?? 'current', req.query.instanceId),
  );

  app.delete('/api/snapshots/:id', { schema: { tags: ['snapshots'], params: IdParams, response: { 204: Type.Null(), ...responses } }, config: { audit: 'snapshot.delete' } }, async (req, reply) => {
    await snapshots.delete(req.ctx, req.params.id);
    return reply.status(204).send(null);
  });

  // Called by the editor plugin inside the instance, authenticated by the instance's own secret.
  const internal = { rateLimit: { max: 600, timeWindow: 60_000 } };
  app.get(
    '/api/internal/instances/:id/snapshots',
    { schema: { hide: true, params: IdParams, querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50 })) }, { additionalProperties: false }), response: { 200: SnapshotList, ...responses } }, config: internal },
    async (req) => snapshots.listForInstance(await snapshots.authenticateInstance(req.params.id, bearerOf(req)), req.query.limit ?? 10),
  );

  app.post('/api/internal/instances/:id/snapshots', { schema: { hide: true, params: IdParams, body: SnapshotInput, response: { 201: SnapshotSchema, ...responses } }, config: { ...internal, audit: 'snapshot.create' } }, async (req, reply) => {
    const row = await snapshots.authenticateInstance(req.params.id, bearerOf(req));
    return reply.status(201).send(await snapshots.createForInstance(snapshots.instanceContext(row, req.ip), row, req.body ?? {}));
  });

  app.post(
    '/api/internal/instances/:id/snapshots/:snapshotId/rollback',
    { schema: { hide: true, params: Type.Object({ id: Uuid, snapshotId: Uuid }), response: { 200: ApplyResultSchema, ...responses } }, config: { ...internal, audit: 'snapshot.apply' } },
    async (req) => {
      const row = await snapshots.authenticateInstance(req.params.id, bearerOf(req));
      return snapshots.rollbackInstance(snapshots.instanceContext(row, req.ip), row, req.params.snapshotId);
    },
  );
}
