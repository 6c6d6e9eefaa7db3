import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';

interface ErrorBody {
  code: string;
  message: string;
  [k: string]: unknown;
}

function fieldOf(err: FastifyError): string {
  const first = err.validation?.[0];
  if (!first) return err.validationContext ?? 'request';
  const missing = (first.params as { missingProperty?: string; additionalProperty?: string } | undefined) ?? {};
  const base = `${err.validationContext ?? 'body'}${first.instancePath}`;
  if (missing.missingProperty) return `${base}/${missing.missingProperty}`;
  if (missing.additionalProperty) return `${base}/${missing.additionalProperty}`;
  return base;
}

/** The single place errors become responses: one JSON shape, and 5xx details stay in the log. */
export function installErrorHandler(app: FastifyInstance, onRejectedBeforeService: (request: FastifyRequest, code: string) => Promise<void>): void {
  app.setErrorHandler(async (err: FastifyError | AppError, request, reply) => {
    let status: number;
    let body: ErrorBody;
    if (err instanceof AppError) {
      status = err.status;
      body = { code: err.code, message: err.message, ...(err.details ?? {}) };
    } else if ((err as FastifyError).validation) {
      const fe = err as FastifyError;
      const first = fe.validation![0];
      const field = fieldOf(fe);
      const reason = first?.keyword === 'additionalProperties' ? 'is not an allowed field' : first?.keyword === 'required' ? 'is required' : (first?.message ?? 'is invalid');
      status = 400;
      body = { code: 'validation_failed', message: `${field} ${reason}`, field };
    } else if ((err as FastifyError).statusCode && (err as FastifyError).statusCode! < 500) {
      const fe = err as FastifyError;
      status = fe.statusCode!;
      const codes: Record<number, string> = { 413: 'payload_too_large', 415: 'unsupported_media_type', 429: 'rate_limited', 404: 'not_found' };
      body = { code: codes[status] ?? (status === 400 ? 'bad_request' : 'request_error'), message: fe.message };
    } else {
      status = 500;
      body = { code: 'internal', message: 'Internal server error' };
    }
    if (status >= 500) request.log.error({ err }, 'request failed');
    // Services audit their own failures; requests refused by the framework (schema, size, rate) are audited here.
    if (!(err instanceof AppError)) await onRejectedBeforeService(request, body.code);
    return reply.status(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ code: 'not_found', message: `No route for ${request.method} ${request.url.split('?')[0]}` });
  });
}
