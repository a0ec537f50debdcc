import { APPLIANCE_HEADER, type Config } from '../config/config.js';
import { isPdfPath, pathOf } from '../protocol.js';
import type { ReplaySrc } from './replay-src.js';

/** What the appliance will load for one request, and with which headers. */
export interface Target {
  /** Absolute URL on the main app's origin. */
  url: string;
  origin: string;
  /** The path as requested (still percent-encoded), used to name the file. */
  pathname: string;
  /** Sent only on requests to `origin`. Lower-case names. */
  headers: Record<string, string>;
}

/**
 * Maps the request target of a `.pdf` request to the main app's page:
 * `/a/b.pdf` → `/a/b`, `/a/index.pdf` → `/a/`, query kept, percent-encoding untouched.
 * Returns null when the path does not name a PDF.
 */
export function pagePathFor(requestTarget: string): { path: string; query: string } | null {
  // An absolute-form request target (`GET http://other/x.pdf`) keeps only its path: the host
  // of the page is never the client's to choose.
  let raw = requestTarget;
  if (!raw.startsWith('/')) {
    const m = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*(.*)$/i.exec(raw);
    if (!m) return null;
    raw = m[1] || '/';
  }
  const path = pathOf(raw);
  const query = raw.slice(path.length).split('#')[0]!;
  if (!isPdfPath(path)) return null;
  let page = path.slice(0, -'.pdf'.length);
  if (page.endsWith('/index')) page = page.slice(0, -'index'.length);
  else if (page === '' || page.endsWith('/')) return null; // `/.pdf`, `/a/.pdf`: no page named
  return { path: page, query };
}

/** The origin to load from: TARGET_URL's, or one of TARGET_HOSTS when the request names it. */
export function originFor(config: Pick<Config, 'targetOrigin' | 'targetHosts'>, hostHeader: string | undefined): string {
  const host = hostHeader?.toLowerCase();
  if (host && config.targetHosts.includes(host)) {
    return `${new URL(config.targetOrigin).protocol}//${host}`;
  }
  return config.targetOrigin;
}

/**
 * Joins origin and path by concatenation, never by URL resolution: resolving `//evil/x`
 * against the origin would change the host. Whatever the path holds (`//host`, `\`, `@`,
 * `..%2f`), the result is then checked to still be on the origin.
 */
export function buildTargetUrl(origin: string, path: string, query: string): string | null {
  const safePath = path.startsWith('/') ? path : `/${path}`;
  let url: URL;
  try {
    url = new URL(`${origin}${safePath}${query}`);
  } catch {
    return null;
  }
  return url.origin === origin ? url.href : null;
}

export function forwardedHeaders(
  config: Pick<Config, 'forwardHeaders'>,
  incoming: Record<string, string | string[] | undefined>,
  replaySrc: ReplaySrc,
  pinnedInstance?: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of config.forwardHeaders) {
    const v = incoming[name];
    if (v === undefined) continue;
    out[name] = Array.isArray(v) ? v.join(name === 'cookie' ? '; ' : ', ') : v;
  }
  out[APPLIANCE_HEADER] = '1';
  // Ask Fly's proxy for the Machine that replayed the request, so a multi-region main app
  // renders from the region (and data) the user was served by.
  const instance = pinnedInstance ?? replaySrc.instance;
  if (instance) out['fly-prefer-instance-id'] = instance;
  return out;
}
