import fs from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { App } from './types.js';

/**
 * Serves the built dashboard (web/dist) on the manager's own host, with index.html for client-side
 * routes. Without a build it answers with a short page saying how to make one.
 */
export async function dashboardPlugin(app: App, opts: { distDir: string }): Promise<void> {
  const index = path.join(opts.distDir, 'index.html');
  if (!fs.existsSync(index)) {
    app.get('/', async (_req, reply) => reply.type('text/html').send('<!doctype html><title>Openflow</title><p>The dashboard is not built. Run <code>npm run build</code>.</p>'));
    return;
  }
  await app.register(fastifyStatic, { root: opts.distDir, wildcard: false, index: ['index.html'], cacheControl: false });
  app.addHook('onSend', async (req, reply, payload) => {
    if (!req.url.startsWith('/api/') && !reply.hasHeader('cache-control')) {
      reply.header('cache-control', req.url.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    }
    return payload;
  });
  app.get('/*', { schema: { hide: true } }, async (req, reply) => {
    if (req.url.startsWith('/api/') || req.url === '/api') return reply.status(404).send({ code: 'not_found', message: `No route for ${req.method} ${req.url.split('?')[0]}` });
    return reply.type('text/html').sendFile('index.html');
  });
}
