import { Type } from 'typebox';
import type { App } from '../http/types.js';
import { IdParams, Uuid, errorResponses } from '../http/schemas.js';
import { streamEvents } from '../http/sse.js';
import type { InstanceService } from './instance.service.js';
import type { LaunchService } from './launch.service.js';
import type { TemplateService } from './template.service.js';

const State = Type.Union([Type.Literal('stopped'), Type.Literal('starting'), Type.Literal('running'), Type.Literal('stopping'), Type.Literal('error')]);
const Env = Type.Record(Type.String({ maxLength: 128 }), Type.String({ maxLength: 4096 }));
const InstanceSchema = Type.Object({
  id: Type.String(),
  projectId: Type.String(),
  subdomain: Type.String(),
  url: Type.String(),
  state: State,
  errorMessage: Type.Union([Type.String(), Type.Null()]),
  template: Type.String(),
  memoryMb: Type.Integer(),
  cpu: Type.Number(),
  env: Env,
  aliases: Type.Array(Type.String()),
  mqtt: Type.Object({ url: Type.String(), username: Type.String() }),
  restartCount: Type.Integer(),
  startedAt: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
const Limits = Type.Object({ min: Type.Number(), max: Type.Number(), default: Type.Number() });
const TemplateSchema = Type.Object({
  id: Type.String({ pattern: '^[a-z][a-z0-9-]{0,39}$' }),
  name: Type.String({ minLength: 1, maxLength: 100 }),
  description: Type.String({ maxLength: 1000 }),
  flows: Type.Array(Type.Record(Type.String(), Type.Unknown()), { maxItems: 5000 }),
  settings: Type.Record(Type.String(), Type.Unknown()),
  env: Env,
  memory: Limits,
  cpu: Limits,
});
/** Query flags accept `1`/`0` as well as `true`/`false`. */
const Flag = Type.Optional(Type.Union([Type.Literal('1'), Type.Literal('0'), Type.Literal('true'), Type.Literal('false')]));
const isOn = (v: string | undefined) => v === '1' || v === 'true';
const Wait = Type.Object({ wait: Flag }, { additionalProperties: false });
const Aliases = Type.Object({ items: Type.Array(Type.String()), restartNeeded: Type.Boolean() });
const LogLineSchema = Type.Object({ ts: Type.Number(), stream: Type.String(), line: Type.String() });

export interface InstanceRoutesOptions {
  instances: InstanceService;
  templates: TemplateService;
  launch: LaunchService;
}

export async function instanceRoutes(app: App, opts: InstanceRoutesOptions): Promise<void> {
  const { instances, templates, launch } = opts;

  app.get('/api/templates', { schema: { tags: ['templates'], response: { 200: Type.Object({ items: Type.Array(Type.Intersect([TemplateSchema, Type.Object({ builtin: Type.Boolean() })])) }), ...errorResponses } } }, async (req) => {
    if (!req.ctx.actor) return { items: [] };
    return { items: await templates.list() };
  });

  app.post('/api/templates', { schema: { tags: ['templates'], body: Type.Object(TemplateSchema.properties, { additionalProperties: false }), response: { 201: Type.Object({ id: Type.String() }, { additionalProperties: true }), ...errorResponses } }, config: { audit: 'template.create' } }, async (req, reply) =>
    reply.status(201).send(await templates.create(req.ctx, req.body)),
  );

  app.get('/api/projects/:id/instances', { schema: { tags: ['instances'], params: IdParams, response: { 200: Type.Object({ items: Type.Array(InstanceSchema) }), ...errorResponses } } }, async (req) => ({
    items: await instances.list(req.ctx, req.params.id),
  }));

  app.post(
    '/api/projects/:id/instances',
    {
      schema: {
        tags: ['instances'],
        params: IdParams,
        body: Type.Object(
          {
            subdomain: Type.String({ minLength: 1, maxLength: 63 }),
            template: Type.Optional(Type.String({ maxLength: 40 })),
            memoryMb: Type.Optional(Type.Integer({ minimum: 1 })),
            cpu: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
            env: Type.Optional(Env),
          },
          { additionalProperties: false },
        ),
        response: { 201: InstanceSchema, ...errorResponses },
      },
      config: { audit: 'instance.create' },
    },
    async (req, reply) => reply.status(201).send(await instances.create(req.ctx, req.params.id, req.body)),
  );

  app.get('/api/projects/:id/events', { schema: { tags: ['instances'], params: IdParams } }, async (req, reply) => {
    const projectId = req.params.id;
    const initial = await instances.list(req.ctx, projectId);
    await streamEvents(req, reply, (send) => {
      send('snapshot', { items: initial });
      const offChange = instances.onChange((i) => {
        if (i.projectId === projectId) send('instance', i);
      });
      const offDelete = instances.onDeleted((d) => {
        if (d.projectId === projectId) send('instance-deleted', d);
      });
      return () => {
        offChange();
        offDelete();
      };
    });
  });

  app.get('/api/instances/:id', { schema: { tags: ['instances'], params: IdParams, response: { 200: InstanceSchema, ...errorResponses } } }, async (req) => instances.get(req.ctx, req.params.id));

  app.patch(
    '/api/instances/:id',
    {
      schema: {
        tags: ['instances'],
        params: IdParams,
        body: Type.Object({ memoryMb: Type.Optional(Type.Integer({ minimum: 1 })), cpu: Type.Optional(Type.Number({ exclusiveMinimum: 0 })), env: Type.Optional(Env) }, { additionalProperties: false }),
        response: { 200: Type.Intersect([InstanceSchema, Type.Object({ restartNeeded: Type.Boolean() })]), ...errorResponses },
      },
      config: { audit: 'instance.update' },
    },
    async (req) => {
      const { instance, restartNeeded } = await instances.update(req.ctx, req.params.id, req.body);
      return { ...instance, restartNeeded };
    },
  );

  app.delete('/api/instances/:id', { schema: { tags: ['instances'], params: IdParams, response: { 204: Type.Null(), ...errorResponses } }, config: { audit: 'instance.delete' } }, async (req, reply) => {
    await instances.delete(req.ctx, req.params.id);
    return reply.status(204).send(null);
  });

  const lifecycle = { tags: ['instances'], params: IdParams, querystring: Wait, response: { 200: InstanceSchema, 202: InstanceSchema, ...errorResponses } };
  app.post('/api/instances/:id/start', { schema: lifecycle, config: { audit: 'instance.start' } }, async (req, reply) => {
    const i = await instances.start(req.ctx, req.params.id, { wait: isOn(req.query.wait) });
    return reply.status(i.state === 'starting' ? 202 : 200).send(i);
  });
  app.post('/api/instances/:id/stop', { schema: lifecycle, config: { audit: 'instance.stop' } }, async (req) => instances.stop(req.ctx, req.params.id));
  app.post('/api/instances/:id/restart', { schema: lifecycle, config: { audit: 'instance.restart' } }, async (req, reply) => {
    const i = await instances.restart(req.ctx, req.params.id, { wait: isOn(req.query.wait) });
    return reply.status(i.state === 'running' || i.state === 'error' ? 200 : 202).send(i);
  });

  app.get(
    '/api/instances/:id/status',
    {
      schema: {
        tags: ['instances'],
        params: IdParams,
        response: {
          200: Type.Object({
            state: State,
            pid: Type.Union([Type.Integer(), Type.Null()]),
            port: Type.Union([Type.Integer(), Type.Null()]),
            uptimeMs: Type.Union([Type.Number(), Type.Null()]),
            rssBytes: Type.Union([Type.Number(), Type.Null()]),
            restarts: Type.Integer(),
            nodeRedVersion: Type.Union([Type.String(), Type.Null()]),
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => instances.status(req.ctx, req.params.id),
  );

  app.get(
    '/api/instances/:id/logs',
    { schema: { tags: ['instances'], params: IdParams, querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })), follow: Flag }, { additionalProperties: false }), response: { 200: Type.Object({ items: Type.Array(LogLineSchema) }), ...errorResponses } } },
    async (req, reply) => {
      const lines = await instances.logs(req.ctx, req.params.id, req.query.limit ?? 1000);
      if (!isOn(req.query.follow)) return { items: lines };
      await streamEvents(req, reply, async (send) => {
        for (const l of lines) send('line', l);
        return instances.followLogs(req.ctx, req.params.id, (l) => send('line', l));
      });
    },
  );

  app.get('/api/instances/:id/aliases', { schema: { tags: ['aliases'], params: IdParams, response: { 200: Aliases, ...errorResponses } } }, async (req) => ({
    items: await instances.listAliases(req.ctx, req.params.id),
    restartNeeded: false,
  }));

  app.post(
    '/api/instances/:id/aliases',
    { schema: { tags: ['aliases'], params: IdParams, body: Type.Object({ alias: Type.String({ minLength: 1, maxLength: 63 }) }, { additionalProperties: false }), response: { 201: Aliases, ...errorResponses } }, config: { audit: 'instance.alias.add' } },
    async (req, reply) => {
      const r = await instances.addAlias(req.ctx, req.params.id, req.body.alias);
      return reply.status(201).send({ items: r.aliases, restartNeeded: r.restartNeeded });
    },
  );

  app.delete(
    '/api/instances/:id/aliases/:alias',
    { schema: { tags: ['aliases'], params: Type.Object({ id: Uuid, alias: Type.String({ minLength: 1, maxLength: 63 }) }), response: { 200: Aliases, ...errorResponses } }, config: { audit: 'instance.alias.remove' } },
    async (req) => {
      const r = await instances.removeAlias(req.ctx, req.params.id, req.params.alias);
      return { items: r.aliases, restartNeeded: r.restartNeeded };
    },
  );

  app.post('/api/instances/:id/launch', { schema: { tags: ['instances'], params: IdParams, response: { 200: Type.Object({ url: Type.String(), expiresAt: Type.String() }), ...errorResponses } }, config: { audit: 'instance.launch' } }, async (req) =>
    launch.launch(req.ctx, req.params.id),
  );

  app.post('/api/instances/:id/rotate-token', { schema: { tags: ['instances'], params: IdParams, response: { 200: InstanceSchema, ...errorResponses } }, config: { audit: 'instance.token.rotate' } }, async (req) =>
    instances.rotateMagicToken(req.ctx, req.params.id),
  );

  app.post(
    '/api/internal/instances/:id/redeem',
    { schema: { hide: true, params: IdParams, body: Type.Object({ accessToken: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }), response: { 200: Type.Object({ ok: Type.Boolean() }), ...errorResponses } }, config: { rateLimit: { max: 600, timeWindow: 60_000 } } },
    async (req) => {
      const auth = req.headers.authorization ?? '';
      await launch.redeem(req.params.id, auth.startsWith('Bearer ') ? auth.slice(7) : '', req.body.accessToken);
      return { ok: true };
    },
  );
}
