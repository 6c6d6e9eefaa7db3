import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { AppError } from '../errors.js';

export const invalidHost = () => new AppError(400, 'invalid_host', 'The Host header does not name a valid instance address.');

export const instanceNotFound = (label: string) =>
  new AppError(404, 'instance_not_found', `No instance is reachable at "${label}".`);

export const instanceUnavailable = (label: string, state: string) =>
  new AppError(503, 'instance_unavailable', `Instance "${label}" is ${state}, not running.`, { state });

export const upstreamUnreachable = (label: string) =>
  new AppError(502, 'upstream_unreachable', `Instance "${label}" did not answer.`);

export const upstreamTimeout = (label: string) =>
  new AppError(504, 'upstream_timeout', `Instance "${label}" took too long to answer.`);

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Browsers ask for HTML first; scripts and fetch callers that name JSON get JSON. */
function wantsJson(accept: string | undefined): boolean {
  if (accept === undefined || !accept.includes('json')) return false;
  const html = accept.indexOf('text/html');
  return html === -1 || accept.indexOf('json') < html;
}

interface Rendered {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

function render(error: AppError, accept: string | undefined): Rendered {
  const headers: Record<string, string> = { 'Cache-Control': 'no-store' };
  if (error.status === 503) headers['Retry-After'] = '2';
  let body: string;
  if (wantsJson(accept)) {
    headers['Content-Type'] = 'application/json; charset=utf-8';
    body = JSON.stringify({ code: error.code, message: error.message, ...error.details });
  } else {
    headers['Content-Type'] = 'text/html; charset=utf-8';
    const title = `${error.status} ${STATUS_CODES[error.status] ?? ''}`.trim();
    body =
      `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head>` +
      `<body style="font-family:sans-serif;margin:3em"><h1>${title}</h1><p>${escapeHtml(error.message)}</p>` +
      `<p><small>${escapeHtml(error.code)}</small></p></body></html>`;
  }
  headers['Content-Length'] = String(Buffer.byteLength(body));
  return { status: error.status, headers, body };
}

export function sendError(req: IncomingMessage, res: ServerResponse, error: AppError): void {
  const { status, headers, body } = render(error, req.headers.accept);
  res.writeHead(status, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** An upgrade has no ServerResponse: the answer is written as raw HTTP and the socket closed after it. */
export function sendErrorOnSocket(req: IncomingMessage, socket: Duplex, error: AppError): void {
  const { status, headers, body } = render(error, req.headers.accept);
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  endSocket(socket, `${head}\r\n${body}`);
}

export function endSocket(socket: Duplex, data?: string): void {
  if (socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(data, () => socket.destroy());
}
