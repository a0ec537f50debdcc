// What the middleware answers: Fly's replay instruction, in header form or (to carry the
// shared secret) in JSON form. Built and checked once, when the middleware is created.
import { DEFAULT_SECRET_HEADER } from './protocol.js';
import { IMAGE_FORMATS, type ImageFormat } from './output.js';

export interface PdfReplayOptions {
  /** The appliance's Fly app name. */
  app: string;
  /** REPLAY_SECRET shared with the appliance; switches to the JSON replay form. */
  secret?: string;
  /** Header the proxy adds with the secret (default `x-pdf-appliance-secret`). */
  secretHeader?: string;
  /** Optional Fly region (or comma list) to replay into. */
  region?: string;
  /** Optional opaque string Fly echoes back in `fly-replay-src`. */
  state?: string;
  /**
   * Image outputs to replay as well (default none: only `*.pdf`). List only formats the
   * appliance is set up to render: one that is not would send the request back here.
   */
  images?: readonly ImageFormat[];
}

export const REPLAY_JSON_TYPE = 'application/vnd.fly.replay+json';

// Header-form field values are separated by `;` and `=`, so those (and anything that is not
// a visible ASCII char) would corrupt the header; refuse them at startup rather than per request.
const HEADER_FIELD_VALUE = /^[\x21-\x7e]+$/;
const HEADER_FIELD_FORBIDDEN = /[;="\\]/;
const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function assertFieldValue(name: string, value: unknown, allowComma: boolean): void {
  if (
    typeof value !== 'string' ||
    !HEADER_FIELD_VALUE.test(value) ||
    HEADER_FIELD_FORBIDDEN.test(value) ||
    (!allowComma && value.includes(','))
  ) {
    throw new TypeError(`pdfReplay: invalid ${name} ${JSON.stringify(value)}`);
  }
}

/** Throws a TypeError naming the first option that would make a broken replay. */
export function validateOptions(opts: PdfReplayOptions): void {
  if (typeof opts?.app !== 'string' || opts.app === '') throw new TypeError('pdfReplay: `app` is required');
  assertFieldValue('app', opts.app, false);
  if (opts.region !== undefined) assertFieldValue('region', opts.region, true);
  if (opts.state !== undefined) assertFieldValue('state', opts.state, false);
  if (
    opts.secretHeader !== undefined &&
    (typeof opts.secretHeader !== 'string' || !HTTP_TOKEN.test(opts.secretHeader))
  ) {
    throw new TypeError(`pdfReplay: invalid secretHeader ${JSON.stringify(opts.secretHeader)}`);
  }
  // The proxy puts the secret into a request header, so CR/LF or other controls would be rejected there.
  if (
    opts.secret !== undefined &&
    (typeof opts.secret !== 'string' || opts.secret === '' || /[\x00-\x1f\x7f]/.test(opts.secret))
  ) {
    throw new TypeError('pdfReplay: `secret` must be a non-empty string without control characters');
  }
  // A typo such as 'jpg' or 'PNG' would otherwise silently replay nothing.
  if (opts.images !== undefined) {
    if (!Array.isArray(opts.images)) throw new TypeError('pdfReplay: `images` must be an array');
    for (const f of opts.images) {
      if (!IMAGE_FORMATS.includes(f)) {
        throw new TypeError(
          `pdfReplay: invalid image format ${JSON.stringify(f)} (expected ${IMAGE_FORMATS.join(', ')})`,
        );
      }
    }
  }
}

/** `Fly-Replay: app=…;region=…;state=…`. */
export function headerForm(opts: PdfReplayOptions): string {
  const fields = [`app=${opts.app}`];
  // Fly requires a comma-separated region list to be quoted.
  if (opts.region !== undefined) fields.push(`region=${opts.region.includes(',') ? `"${opts.region}"` : opts.region}`);
  if (opts.state !== undefined) fields.push(`state=${opts.state}`);
  return fields.join(';');
}

/** The JSON body: the only form that can add a request header (the secret) on replay. */
export function jsonForm(opts: PdfReplayOptions & { secret: string }): string {
  const body: Record<string, unknown> = { app: opts.app };
  if (opts.region !== undefined) body.region = opts.region;
  if (opts.state !== undefined) body.state = opts.state;
  body.transform = {
    set_headers: [{ name: opts.secretHeader ?? DEFAULT_SECRET_HEADER, value: opts.secret }],
  };
  return JSON.stringify(body);
}
