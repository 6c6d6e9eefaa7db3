/** An API failure as the dashboard shows it: the server's code plus a sentence a person can act on. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The manager has no such route at all: a feature this server does not offer (yet). */
  get routeMissing(): boolean {
    return this.status === 404 && this.code === 'not_found' && this.message.startsWith('No route for');
  }
}

const BY_STATUS: Record<number, string> = {
  400: 'The request was not accepted.',
  401: 'Your session has ended. Sign in again.',
  403: 'You are not allowed to do that.',
  404: 'Not found. It may have been deleted or you may have lost access.',
  409: 'That conflicts with the current state. Reload and try again.',
  413: 'That is too large.',
  429: 'Too many attempts. Wait a minute and try again.',
};

function statusSentence(status: number): string {
  if (BY_STATUS[status]) return BY_STATUS[status];
  if (status >= 500) return `The manager failed to handle the request (HTTP ${status}). Try again; if it keeps failing, check the manager's log.`;
  return `The request failed (HTTP ${status}).`;
}

interface ErrorBody {
  code: string;
  message: string;
  field?: unknown;
}

function isErrorBody(body: unknown): body is ErrorBody {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as Record<string, unknown>;
  return typeof b.code === 'string' && typeof b.message === 'string';
}

/** Schema failures name the request part ("body/memoryMb must be >= 128"); people only need the field. */
function readable(body: ErrorBody): string {
  const text = body.code === 'validation_failed' ? body.message.replace(/^(body|querystring|params)\/?/, '').trim() : body.message.trim();
  if (text === '') return '';
  return text[0]!.toUpperCase() + text.slice(1);
}

/** Turns an HTTP status and its (parsed) body into the error the dashboard shows. */
export function toApiError(status: number, body: unknown): ApiError {
  if (isErrorBody(body) && status < 500) {
    const message = readable(body) || statusSentence(status);
    return new ApiError(status, body.code, message, typeof body.field === 'string' ? body.field : null);
  }
  return new ApiError(status, isErrorBody(body) ? body.code : `http_${status}`, statusSentence(status));
}

/** The failure of fetch itself: no HTTP answer arrived. */
export function networkError(): ApiError {
  return new ApiError(0, 'network', 'Cannot reach the manager. Check that it is running and your connection works.');
}

/** One sentence for any thrown value, for toasts and inline messages. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error && err.message) return err.message;
  return 'Something went wrong.';
}
