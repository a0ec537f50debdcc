import { RequestFailure, type Failure } from '../failure.js';

/**
 * The one mapping from failures (failure.ts) to HTTP. Bodies are short fixed sentences: the
 * detail (upstream bodies, stack traces, URLs with tokens) goes to the log, never to the client.
 */
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
  422: 'The page cannot be rendered as asked',
  501: 'Not available on this appliance',
  502: 'The page could not be rendered',
  503: 'Busy, try again shortly',
  504: 'The page took too long to render',
  508: 'Loop detected',
};

function text(status: number, headers: Record<string, string> = {}, body?: string): HttpAnswer {
  return { status, headers, body: `${body ?? REASON[status] ?? 'Error'}\n` };
}

export function toHttp(err: unknown, retryAfterSeconds: number): HttpAnswer {
  if (!(err instanceof RequestFailure)) return text(500, {}, 'Internal error');
  const f = err.failure;
  switch (f.kind) {
    case 'redirect':
      return { status: f.status, headers: { location: f.location }, body: '' };
    case 'upstream-status':
      return text(f.status, f.wwwAuthenticate ? { 'www-authenticate': f.wwwAuthenticate } : {});
    case 'bad-gateway':
      return text(502);
    case 'timeout':
      if (f.phase === 'render')
        return text(
          504,
          {},
          f.limitMs
            ? `Rendering took longer than RENDER_TIMEOUT (${f.limitMs / 1000} s). Lighten the page or raise it.`
            : undefined,
        );
      if (f.phase === 'image-memory')
        return text(
          503,
          { 'retry-after': String(retryAfterSeconds) },
          'Busy: other images are using the memory for captures (IMAGE_MEMORY_MB). Try again shortly.',
        );
      return text(503, { 'retry-after': String(retryAfterSeconds) });
    case 'machine-memory':
      return text(
        503,
        { 'retry-after': String(retryAfterSeconds) },
        'The appliance ran short of memory while capturing this image. Try again shortly.',
      );
    case 'out-of-memory':
      return text(
        502,
        {},
        f.certain
          ? `The page needs more memory than RENDER_MEMORY_MB (${f.budgetMb}). Lighten the page or raise it.`
          : `The page crashed its renderer, likely out of memory (RENDER_MEMORY_MB=${f.budgetMb}).`,
      );
    case 'image-too-large':
      return text(
        422,
        {},
        `The image would be ${f.width} × ${f.height} px, ${f.why}. Lower image-scale, capture less (image-full-page, image-selector), or raise ${f.setting}.`,
      );
    case 'archival':
      return archivalAnswer(f);
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

function archivalAnswer(f: Extract<Failure, { kind: 'archival' }>): HttpAnswer {
  switch (f.problem) {
    case 'unavailable':
      return text(
        501,
        {},
        `${f.standard} output needs Ghostscript, which this appliance does not have. Install it (Debian package ghostscript) or drop pdf-standard.`,
      );
    case 'not-conformant':
      return text(
        422,
        {},
        `The page cannot be made ${f.standard} (most often: a character no installed font has). Fix the page or drop pdf-standard.`,
      );
    case 'failed':
      return text(502, {}, `The PDF could not be converted to ${f.standard}.`);
  }
}

const USER_HINT: Record<number, string> = {
  503: 'The service is busy or restarting. Try again in a few seconds.',
  504: 'Try again; if it keeps happening, tell the people who run this site.',
  502: 'Try again; if it keeps happening, tell the people who run this site.',
  422: 'Tell the people who run this site: the page asks for something this service will not do.',
  501: 'Tell the people who run this site.',
};

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The same answer as a short page, for a person who clicked a link in a browser (a broken
 * download would tell them nothing): what happened, what they can do, and the request id
 * the operator finds in the log.
 */
export function htmlPage(answer: HttpAnswer, requestId: string): string {
  const title = REASON[answer.status] ?? 'Error';
  const detail = answer.body.trim();
  const hint = USER_HINT[answer.status];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${escapeHtml(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}small{color:#666}</style>
</head><body>
<h1>${escapeHtml(title)}</h1>
${detail && detail !== title ? `<p>${escapeHtml(detail)}</p>\n` : ''}${hint ? `<p>${escapeHtml(hint)}</p>\n` : ''}<p><small>Request ${escapeHtml(requestId)}</small></p>
</body></html>
`;
}
