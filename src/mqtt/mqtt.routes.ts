import { Type } from 'typebox';
import type { App } from '../http/types.js';
import { IdParams, Uuid, errorResponses } from '../http/schemas.js';
import type { MqttAuthService } from './mqtt-auth.service.js';

const ClientSchema = Type.Object({
  id: Type.String(),
  username: Type.String(),
  description: Type.String(),
  instanceId: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
});

export async function mqttRoutes(app: App, opts: { mqtt: MqttAuthService; brokerUrl: string }): Promise<void> {
  const { mqtt } = opts;

  app.get('/api/projects/:id/mqtt-clients', { schema: { tags: ['mqtt'], params: IdParams, response: { 200: Type.Object({ items: Type.Array(ClientSchema), brokerUrl: Type.String() }), ...errorResponses } } }, async (req) => ({
    items: await mqtt.list(req.ctx, req.params.id),
    brokerUrl: opts.brokerUrl,
  }));

  app.post(
    '/api/projects/:id/mqtt-clients',
    { schema: { tags: ['mqtt'], params: IdParams, body: Type.Object({ description: Type.String({ maxLength: 200 }) }, { additionalProperties: false }), response: { 201: Type.Intersect([ClientSchema, Type.Object({ password: Type.String() })]), ...errorResponses } }, config: { audit: 'mqtt.client.create' } },
    async (req, reply) => reply.status(201).send(await mqtt.create(req.ctx, req.params.id, req.body.description)),
  );

  app.delete('/api/projects/:id/mqtt-clients/:clientId', { schema: { tags: ['mqtt'], params: Type.Object({ id: Uuid, clientId: Uuid }), response: { 204: Type.Null(), ...errorResponses } }, config: { audit: 'mqtt.client.revoke' } }, async (req, reply) => {
    await mqtt.revoke(req.ctx, req.params.id, req.params.clientId);
    return reply.status(204).send(null);
  });

  // EMQX's HTTP authenticator: every failure, malformed or oversized body included, is a deny, never a 5xx.
  await app.register(async (emqx) => {
    emqx.removeAllContentTypeParsers();
    emqx.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_req, body, done) => {
      try {
        done(null, JSON.parse(body as string));
      } catch {
        done(null, null);
      }
    });
    emqx.setErrorHandler(async (err, req, reply) => {
      req.log.warn({ err: (err as Error).message }, 'mqtt auth request refused');
      return reply.status(200).send({ result: 'deny' });
    });
    emqx.post('/mqtt/auth', { schema: { tags: ['mqtt'], summary: 'EMQX 5 HTTP authentication' } }, async (req) => mqtt.emqx(req.body));
  });
}
