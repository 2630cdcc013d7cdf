/**
 * HTTP errors: a status, a stable `code` clients branch on, and a message that names what was
 * wrong. Responses carry them as JSON (`{"error":{"code","message"}}`), never a stack trace.
 */
import type { ServerResponse } from 'node:http';

/** An error a route throws to answer with `status`. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(readonly status: number, readonly code: string, message: string, readonly headers: Readonly<Record<string, string>> = {}) {
    super(message);
  }
}

/** Common errors. */
export const notFound = (what: string): HttpError => new HttpError(404, 'ERR_NOT_FOUND', what);
export const badRequest = (code: string, message: string): HttpError => new HttpError(400, code, message);

/** Writes `error` as JSON (an unexpected error becomes a 500 with a generic message). */
export function sendError(res: ServerResponse, error: unknown): void {
  const known = error instanceof HttpError ? error : undefined;
  const status = known?.status ?? 500;
  const body = JSON.stringify({ error: { code: known?.code ?? 'ERR_INTERNAL', message: known?.message ?? 'internal error' } });
  if (res.headersSent) {
    // Mid-stream: all we can do is cut the response short.
    res.destroy();
    return;
  }
  res.statusCode = status;
  for (const [name, value] of Object.entries(known?.headers ?? {})) res.setHeader(name, value);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}
