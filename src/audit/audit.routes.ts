import { Type } from 'typebox';
import type { App } from '../http/types.js';
import { Uuid, errorResponses } from '../http/schemas.js';
import type { AuditService } from './audit.service.js';

const Entry = Type.Object({
  id: Type.String(),
  createdAt: Type.String(),
  actorId: Type.Union([Type.String(), Type.Null()]),
  actor: Type.Union([Type.String(), Type.Null()]),
  action: Type.String(),
  targetType: Type.Union([Type.String(), Type.Null()]),
  targetId: Type.Union([Type.String(), Type.Null()]),
  target: Type.Union([Type.String(), Type.Null()]),
  projectId: Type.Union([Type.String(), Type.Null()]),
  outcome: Type.Union([Type.Literal('success'), Type.Literal('failure')]),
  errorCode: Type.Union([Type.String(), Type.Null()]),
  details: Type.Record(Type.String(), Type.Unknown()),
  description: Type.String(),
  prose: Type.Union([Type.String(), Type.Null()]),
});

export async function auditRoutes(app: App, opts: { audit: AuditService }): Promise<void> {
  app.get(
    '/api/audit',
    {
      schema: {
        tags: ['audit'],
        querystring: Type.Object(
          {
            projectId: Type.Optional(Uuid),
            actorId: Type.Optional(Uuid),
            action: Type.Optional(Type.String({ pattern: '^[a-z.*]{1,60}$' })),
            since: Type.Optional(Type.String({ format: 'date-time' })),
            until: Type.Optional(Type.String({ format: 'date-time' })),
            cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(Entry), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...errorResponses },
      },
    },
    async (req) => opts.audit.list(req.ctx, req.query),
  );
}
