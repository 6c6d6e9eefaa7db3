import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Turns a reply into a Server-Sent Events stream. `subscribe` gets a send function and returns the
 * unsubscribe to run when the client goes away. A comment line every 15 s keeps proxies from closing it.
 */
export async function streamEvents(request: FastifyRequest, reply: FastifyReply, subscribe: (send: (event: string, data: unknown) => void) => Promise<() => void> | (() => void)): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  res.write(': connected\n\n');
  const send = (event: string, data: unknown) => {
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const unsubscribe = await subscribe(send);
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  request.raw.on('close', () => {
    clearInterval(keepAlive);
    unsubscribe();
  });
}
