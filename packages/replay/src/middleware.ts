import type { IncomingMessage, ServerResponse } from 'node:http';
import { outputOf } from './output.js';
import { APPLIANCE_HEADER } from './protocol.js';
import { headerForm, jsonForm, REPLAY_JSON_TYPE, validateOptions, type PdfReplayOptions } from './replay-answer.js';
import { pathOf } from './request-target.js';

export type NextFn = (err?: unknown) => void;

/**
 * Connect-style `(req, res, next)`, so Express, Connect and Fastify's middie mount it as is.
 * Returns true when it answered the request (do nothing more with it), false when the request
 * is the app's own; `next` is then called if given. Plain node:http passes no `next` and
 * branches on the result.
 *
 * Typed against node:http, which every one of those frameworks hands over, so no framework's
 * types are needed.
 */
export type ReplayMiddleware = (req: IncomingMessage, res: ServerResponse, next?: NextFn) => boolean;

/**
 * Replays every `*.pdf` request (and the opted-in image outputs) to the appliance app, any
 * method: the appliance answers 405 itself, which keeps that error in one place. Mount it
 * before the app's own routes. Throws a TypeError at once on options that would make a broken
 * replay header.
 */
export function pdfReplay(opts: PdfReplayOptions): ReplayMiddleware {
  validateOptions(opts);
  // Precomputed: the options are fixed for the middleware's lifetime. Copied, so that changing
  // the caller's array later cannot change what is replayed.
  const images = [...(opts.images ?? [])];
  const header = headerForm(opts);
  const json = opts.secret !== undefined ? jsonForm({ ...opts, secret: opts.secret }) : undefined;

  return function pdfReplayMiddleware(req, res, next) {
    // Loop guard: the appliance fetching the main app must never be sent back to itself.
    if (req.headers[APPLIANCE_HEADER] !== undefined || outputOf(pathOf(req.url ?? '/'), images) === null) {
      next?.();
      return false;
    }

    res.statusCode = 307;
    // A replay decision is per request; no shared cache may keep it.
    res.setHeader('Cache-Control', 'no-store');
    // A HEAD response cannot carry a body, so the JSON form (and with it the secret) is
    // impossible there; fall back to the header form and let the appliance decide.
    if (json === undefined || req.method === 'HEAD') {
      res.setHeader('Fly-Replay', header);
      res.setHeader('Content-Length', '0');
      res.end();
      return true;
    }
    res.setHeader('Content-Type', REPLAY_JSON_TYPE);
    res.setHeader('Content-Length', String(Buffer.byteLength(json)));
    res.end(json);
    return true;
  };
}
