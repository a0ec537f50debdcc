/**
 * Every way a request can end without a PDF, and the one mapping from those to HTTP.
 * Bodies are short fixed sentences: the detail (upstream bodies, stack traces, URLs with
 * tokens) goes to the log, never to the client.
 */
export type Failure =
  /** The main app redirected the page itself (e.g. to /login): pass the redirect on. */
  | { kind: 'redirect'; status: number; location: string }
  /** The main app answered the page with a 4xx we pass on (401 keeps its challenge). */
  | { kind: 'upstream-status'; status: number; wwwAuthenticate?: string }
  /** The main app answered 5xx, was unreachable, or the page left the main app's origin. */
  | { kind: 'bad-gateway'; reason: string }
  | { kind: 'timeout'; phase: 'render' | 'queue'; limitMs?: number }
  /** A renderer of the page died: killed over RENDER_MEMORY_MB (`certain`), or crashed, most likely out of memory. */
  | { kind: 'out-of-memory'; budgetMb: number; certain: boolean }
  | { kind: 'overloaded' }
  | { kind: 'browser-unavailable'; reason: string }
  | { kind: 'loop' }
  | { kind: 'forbidden'; reason: string }
  | { kind: 'method-not-allowed' }
  | { kind: 'bad-request'; reason: string }
  | { kind: 'uri-too-long' }
  | { kind: 'client-gone' }
  | { kind: 'shutting-down' };

export class RenderFailure extends Error {
  constructor(readonly failure: Failure, cause?: unknown) {
    super(failure.kind, { cause });
  }
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const REASON: Record<number, string> = {
  400: 'Bad request',
  401: 'Authentication required',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  410: 'Gone',
  414: 'URI too long',
  502: 'The page could not be rendered',
  503: 'Busy, try again shortly',
  504: 'The page took too long to render',
  508: 'Loop detected',
};

function text(status: number, headers: Record<string, string> = {}, body?: string): HttpAnswer {
  return { status, headers, body: `${body ?? REASON[status] ?? 'Error'}\n` };
}

export function toHttp(err: unknown, retryAfterSeconds = 5): HttpAnswer {
  if (!(err instanceof RenderFailure)) return text(500, {}, 'Internal error');
  const f = err.failure;
  switch (f.kind) {
    case 'redirect':
      return { status: f.status, headers: { location: f.location }, body: '' };
    case 'upstream-status':
      return text(f.status, f.wwwAuthenticate ? { 'www-authenticate': f.wwwAuthenticate } : {});
    case 'bad-gateway':
      return text(502);
    case 'timeout':
      return f.phase === 'render'
        ? text(504, {}, f.limitMs ? `Rendering took longer than RENDER_TIMEOUT (${f.limitMs / 1000} s). Lighten the page or raise it.` : undefined)
        : text(503, { 'retry-after': String(retryAfterSeconds) });
    case 'out-of-memory':
      return text(
        502,
        {},
        f.certain
          ? `The page needs more memory than RENDER_MEMORY_MB (${f.budgetMb}). Lighten the page or raise it.`
          : `The page crashed its renderer, likely out of memory (RENDER_MEMORY_MB=${f.budgetMb}).`,
      );
    case 'overloaded':
    case 'browser-unavailable':
    case 'shutting-down':
      return text(503, { 'retry-after': String(retryAfterSeconds) });
    case 'loop':
      return text(508);
    case 'forbidden':
      return text(403);
    case 'method-not-allowed':
      return text(405, { allow: 'GET, HEAD' });
    case 'bad-request':
      return text(400);
    case 'uri-too-long':
      return text(414);
    case 'client-gone':
      // Nobody reads this; nginx's convention for "client closed request".
      return text(499, {}, 'Client closed request');
  }
}

export function fail(failure: Failure, cause?: unknown): never {
  throw new RenderFailure(failure, cause);
}
