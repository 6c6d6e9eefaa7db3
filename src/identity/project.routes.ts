import { Type } from 'typebox';
import type { App } from '../http/types.js';
import { Email, IdParams, Name, Uuid, errorResponses } from '../http/schemas.js';
import type { ProjectService } from './project.service.js';

const Role = Type.Union([Type.Literal('owner'), Type.Literal('member')]);
const ProjectSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  personal: Type.Boolean(),
  role: Type.Union([Role, Type.Null()]),
  memberCount: Type.Integer(),
  instanceCount: Type.Integer(),
  createdAt: Type.String(),
});
const MemberSchema = Type.Object({ userId: Type.String(), email: Type.String(), name: Type.String(), role: Role, addedAt: Type.String() });
const MemberParams = Type.Object({ id: Uuid, userId: Uuid });

export async function projectRoutes(app: App, opts: { projects: ProjectService }): Promise<void> {
  const { projects } = opts;

  app.get(
    '/api/projects',
    {
      schema: {
        tags: ['projects'],
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })), offset: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(ProjectSchema), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer() }), ...errorResponses },
      },
    },
    async (req) => projects.list(req.ctx, req.query),
  );

  app.post(
    '/api/projects',
    { schema: { tags: ['projects'], body: Type.Object({ name: Name }, { additionalProperties: false }), response: { 201: ProjectSchema, ...errorResponses } }, config: { audit: 'project.create' } },
    async (req, reply) => reply.status(201).send(await projects.create(req.ctx, req.body.name)),
  );

  app.get('/api/projects/:id', { schema: { tags: ['projects'], params: IdParams, response: { 200: ProjectSchema, ...errorResponses } } }, async (req) => projects.get(req.ctx, req.params.id));

  app.patch(
    '/api/projects/:id',
    { schema: { tags: ['projects'], params: IdParams, body: Type.Object({ name: Name }, { additionalProperties: false }), response: { 200: ProjectSchema, ...errorResponses } }, config: { audit: 'project.update' } },
    async (req) => projects.rename(req.ctx, req.params.id, req.body.name),
  );

  app.delete('/api/projects/:id', { schema: { tags: ['projects'], params: IdParams, response: { 204: Type.Null(), ...errorResponses } }, config: { audit: 'project.delete' } }, async (req, reply) => {
    await projects.delete(req.ctx, req.params.id);
    return reply.status(204).send(null);
  });

  app.get('/api/projects/:id/members', { schema: { tags: ['projects'], params: IdParams, response: { 200: Type.Object({ items: Type.Array(MemberSchema) }), ...errorResponses } } }, async (req) => ({
    items: await projects.members(req.ctx, req.params.id),
  }));

  app.post(
    '/api/projects/:id/members',
    { schema: { tags: ['projects'], params: IdParams, body: Type.Object({ email: Email, role: Type.Optional(Role) }, { additionalProperties: false }), response: { 201: MemberSchema, ...errorResponses } }, config: { audit: 'project.member.add' } },
    async (req, reply) => reply.status(201).send(await projects.addMember(req.ctx, req.params.id, req.body)),
  );

  app.patch(
    '/api/projects/:id/members/:userId',
    { schema: { tags: ['projects'], params: MemberParams, body: Type.Object({ role: Role }, { additionalProperties: false }), response: { 200: MemberSchema, ...errorResponses } }, config: { audit: 'project.member.role' } },
    async (req) => projects.setRole(req.ctx, req.params.id, req.params.userId, req.body.role),
  );

  app.delete('/api/projects/:id/members/:userId', { schema: { tags: ['projects'], params: MemberParams, response: { 204: Type.Null(), ...errorResponses } }, config: { audit: 'project.member.remove' } }, async (req, reply) => {
    await projects.removeMember(req.ctx, req.params.id, req.params.userId);
    return reply.status(204).send(null);
  });

  app.post(
    '/api/projects/:id/transfer',
    { schema: { tags: ['projects'], params: IdParams, body: Type.Object({ userId: Uuid }, { additionalProperties: false }), response: { 200: Type.Object({ items: Type.Array(MemberSchema) }), ...errorResponses } }, config: { audit: 'project.transfer' } },
    async (req) => ({ items: await projects.transfer(req.ctx, req.params.id, req.body.userId) }),
  );
}
