/**
 * Middleware for the *main app* (the web app whose pages get printed), exported as
 * `pdf-appliance/express`. It answers `*.pdf` requests with a Fly replay so Fly's proxy
 * re-delivers the very same request — cookies and Authorization included — to the appliance.
 *
 * Typed against node:http rather than express so consumers need no @types/express, and so it
 * also works in any connect-style stack.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import { APPLIANCE_HEADER, DEFAULT_SECRET_HEADER, isPdfPath, pathOf } from './protocol.js';

/** Requests the appliance itself makes to the main app carry `x-pdf-appliance: 1`. */
export { APPLIANCE_HEADER };

export interface PdfReplayOptions {
  /** The appliance's Fly app name. */
  app: string;
  /** REPLAY_SECRET shared with the appliance; switches to the JSON replay form. */
  secret?: string;
  /** Header the proxy adds with the secret (default `x-pdf-appliance-secret`). */
  secretHeader?: string;
  /** Optional Fly region (or quoted comma list) to replay into. */
  region?: string;
  /** Optional opaque string Fly echoes back in `fly-replay-src`. */
  state?: string;
}

export type NextFn = (err?: unknown) => void;
export type ReplayMiddleware = (req: IncomingMessage, res: ServerResponse, next: NextFn) => void;

const REPLAY_JSON_TYPE = 'application/vnd.fly.replay+json';
// Header-form field values are separated by `;` and `=`, so those (and anything that is not
// a visible ASCII char) would corrupt the header; refuse them at startup rather than per request.
const HEADER_FIELD_VALUE = /^[\x21-\x7e]+$/;
const HEADER_FIELD_FORBIDDEN = /[;="\\]/;
const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function assertFieldValue(name: string, value: string, allowComma: boolean): void {
  if (!HEADER_FIELD_VALUE.test(value) || HEADER_FIELD_FORBIDDEN.test(value) || (!allowComma && value.includes(','))) {
    throw new TypeError(`pdfReplay: invalid ${name} ${JSON.stringify(value)}`);
  }
}

function validate(opts: PdfReplayOptions): void {
  if (typeof opts?.app !== 'string' || opts.app === '') throw new TypeError('pdfReplay: `app` is required');
  assertFieldValue('app', opts.app, false);
  if (opts.region !== undefined) assertFieldValue('region', opts.region, true);
  if (opts.state !== undefined) assertFieldValue('state', opts.state, false);
  if (opts.secretHeader !== undefined && !HTTP_TOKEN.test(opts.secretHeader)) {
    throw new TypeError(`pdfReplay: invalid secretHeader ${JSON.stringify(opts.secretHeader)}`);
  }
  // The proxy puts the secret into a request header, so CR/LF or other controls would be rejected there.
  if (opts.secret !== undefined && (opts.secret === '' || /[\x00-\x1f\x7f]/.test(opts.secret))) {
    throw new TypeError('pdfReplay: `secret` must be a non-empty string without control characters');
  }
}

function headerForm(opts: PdfReplayOptions): string {
  const fields = [`app=${opts.app}`];
  // Fly requires a comma-separated region list to be quoted.
  if (opts.region !== undefined) fields.push(`region=${opts.region.includes(',') ? `"${opts.region}"` : opts.region}`);
  if (opts.state !== undefined) fields.push(`state=${opts.state}`);
  return fields.join(';');
}

function jsonForm(opts: PdfReplayOptions & { secret: string }): string {
  const body: Record<string, unknown> = { app: opts.app };
  if (opts.region !== undefined) body.region = opts.region;
  if (opts.state !== undefined) body.state = opts.state;
  body.transform = {
    set_headers: [{ name: opts.secretHeader ?? DEFAULT_SECRET_HEADER, value: opts.secret }],
  };
  return JSON.stringify(body);
}

export { isPdfPath };

/**
 * Replays every `*.pdf` request (any method: the appliance answers 405 itself, which keeps the
 * error in one place) to the appliance app. Mount it before the app's own routes.
 */
export function pdfReplay(opts: PdfReplayOptions): ReplayMiddleware {
  validate(opts);
  // Precomputed: the options are fixed for the middleware's lifetime.
  const header = headerForm(opts);
  const json = opts.secret !== undefined ? jsonForm({ ...opts, secret: opts.secret }) : undefined;

  return function pdfReplayMiddleware(req, res, next) {
    // Loop guard: the appliance fetching the main app must never be sent back to itself.
    if (req.headers[APPLIANCE_HEADER] !== undefined) return next();
    if (!isPdfPath(pathOf(req.url ?? '/'))) return next();

    res.statusCode = 307;
    // A replay decision is per request; no shared cache may keep it.
    res.setHeader('Cache-Control', 'no-store');
    // A HEAD response cannot carry a body, so the JSON form (and with it the secret) is
    // impossible there; fall back to the header form and let the appliance decide.
    if (json === undefined || req.method === 'HEAD') {
      res.setHeader('Fly-Replay', header);
      res.setHeader('Content-Length', '0');
      res.end();
      return;
    }
    // The JSON form is the only one that can add request headers on replay (the secret).
    res.setHeader('Content-Type', REPLAY_JSON_TYPE);
    res.setHeader('Content-Length', String(Buffer.byteLength(json)));
    res.end(json);
  };
}

export interface PreloadOptions {
  /** Warm-up URL: a direct appliance URL, or a main-app path that gets replayed to it. */
  url: string;
  fetchImpl?: typeof fetch;
  /** Upper bound for the whole request (default 5000 ms). */
  timeoutMs?: number;
}

/**
 * Fire-and-forget warm-up of the appliance. The appliance exits when idle and Fly only starts
 * it on the next request, so the first PDF after a quiet period pays the machine boot plus the
 * Chromium launch. Calling this when a user signs in (or opens a page with PDF links) starts
 * the machine while the user is still reading, so the click on "Download PDF" finds it warm.
 * It must never delay or break the caller, hence: not awaited, all errors swallowed, bounded.
 */
export function preload(opts: PreloadOptions): void {
  try {
    const fetchImpl = opts.fetchImpl ?? globalThis.fetch;
    const timeoutMs = opts.timeoutMs ?? 5000;
    const signal = AbortSignal.timeout(Math.max(1, timeoutMs));
    Promise.resolve()
      .then(() => fetchImpl(opts.url, { method: 'GET', signal, redirect: 'manual' }))
      // Drain the body so the socket is released instead of held until GC.
      .then((res) => res.body?.cancel())
      .catch(() => undefined);
  } catch {
    // Even synchronous misuse (bad options) must not surface to the caller.
  }
}
