import { createHash } from 'node:crypto';

/**
 * The one credential policy: what of the user's request the appliance carries into Chromium,
 * and which of Chromium's requests may carry it.
 *
 * - Cookies go into the render's cookie jar, bound to the main app's origin (scheme and port
 *   too: see ORIGIN_BOUND_COOKIE_FEATURES) and SameSite=Strict, HttpOnly. Chromium then sends them
 *   exactly when a browser would send a strict cookie: never with a request a cross-site or
 *   sandboxed frame started, never after a redirect through another site (see
 *   COOKIE_FEATURES), never with credentials 'omit', never to another origin.
 * - Identity headers (Authorization and every FORWARD_HEADERS extra) are added by the request
 *   interception, to the page request and to the page's own sub-resources only: a browser adds no
 *   bearer token by itself anywhere (see mayCarryIdentityHeaders).
 * - Context headers (language, user agent, tracing) describe the request, not the user; they
 *   go with requests to the main app's origin whoever makes them.
 *
 * docs/security.md has the table of who gets which, checked by test/integration/credentials.spec.ts.
 */

/** Forwarded headers that are not credentials: they follow every request to the main origin. */
export const CONTEXT_HEADERS: ReadonlySet<string> = new Set([
  'accept-language',
  'user-agent',
  'x-request-id',
  'traceparent',
  'tracestate',
]);

export interface JarCookie {
  name: string;
  value: string;
}

/** Who the render is for. Built once per request from the forwarded headers. */
export interface Identity {
  /** The user's cookies, for the jar of the main origin. */
  cookies: JarCookie[];
  /** Authorization and FORWARD_HEADERS extras, lower-case names. */
  headers: Record<string, string>;
  /** No cookie and no identity header: what it renders is what anyone would see. */
  anonymous: boolean;
  /**
   * Same key, same user on the same origin: a workspace used for this key may be reused
   * without a reset. A SHA-256 over everything above and the origin; never logged.
   */
  key: string;
}

/** Splits the headers forwarded to the main app into the jar, identity headers and context headers. */
export function identityFrom(
  origin: string,
  forwarded: Record<string, string>,
): { identity: Identity; context: Record<string, string> } {
  const headers: Record<string, string> = {};
  const context: Record<string, string> = {};
  let cookies: JarCookie[] = [];
  for (const [name, value] of Object.entries(forwarded)) {
    if (name === 'cookie') cookies = parseCookieHeader(value);
    else if (CONTEXT_HEADERS.has(name)) context[name] = value;
    else headers[name] = value;
  }
  const hash = createHash('sha256').update(origin);
  for (const c of cookies) hash.update(`\0c\0${c.name}\0${c.value}`);
  for (const name of Object.keys(headers).sort()) hash.update(`\0h\0${name}\0${headers[name]}`);
  const anonymous = cookies.length === 0 && Object.keys(headers).length === 0;
  return {
    identity: { cookies, headers, anonymous, key: anonymous ? `anonymous:${origin}` : hash.digest('base64url') },
    context,
  };
}

/**
 * `a=1; b=2` → pairs. A pair without `=` is a cookie with an empty name (RFC 6265bis); empty
 * pairs are dropped. Values keep their quotes: the jar stores them as the browser sent them.
 */
export function parseCookieHeader(header: string): JarCookie[] {
  const out: JarCookie[] = [];
  for (const part of header.split(';')) {
    const pair = part.trim();
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq === -1) out.push({ name: '', value: pair });
    else out.push({ name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim() });
  }
  return out;
}

/**
 * Chromium features that bind a cookie to the scheme and port it was set for. Without them a
 * cookie for http://127.0.0.1:3000 also goes to http://127.0.0.1:4000, as cookies always have;
 * with them the user's cookies reach the main app's origin and nothing else.
 */
export const ORIGIN_BOUND_COOKIE_FEATURES = ['EnablePortBoundCookies', 'EnableSchemeBoundCookies'] as const;

/**
 * Chromium features for the jar: origin-bound cookies (above), and a SameSite cookie withheld
 * from a request whose redirect chain passed through another site (measured: without it, an
 * image of another site redirecting back to the main app got the user's strict cookie).
 */
export const COOKIE_FEATURES = [...ORIGIN_BOUND_COOKIE_FEATURES, 'CookieSameSiteConsidersRedirectChain'] as const;

/**
 * Set by the page script (browser/page-script.ts) on a fetch() to the page's own origin with
 * credentials: 'omit', which Chromium keeps to itself; the request interception strips it and adds no
 * identity. A page setting it on its own only gets fewer credentials.
 */
export const OMIT_CREDENTIALS_HEADER = 'x-pdf-appliance-credentials';

/** What the request interception knows about one request when it decides on identity headers. */
export interface RequestOrigin {
  /** The request goes to the main app's origin. */
  toMainOrigin: boolean;
  /** The appliance's own navigation to the page (the render's first request, and its hops). */
  pageRequest: boolean;
  /** Made by the page's own document, not by a frame inside it or a worker. */
  fromPage: boolean;
  /** The page's document has an opaque origin (served with a CSP `sandbox`). */
  opaquePage: boolean;
  resourceType: string;
  /** A hop of its redirect chain went to another origin. */
  leftMainOrigin: boolean;
  /** The page asked for no credentials (OMIT_CREDENTIALS_HEADER). */
  omitCredentials: boolean;
  /** The `Origin` header Chromium put on the request (CORS and form posts), if any. */
  originHeader: string | undefined;
}

/** The page's own requests that carry identity headers (beacons, pings, reports, prefetches do not). */
const PAGE_RESOURCES: ReadonlySet<string> = new Set([
  'Stylesheet',
  'Script',
  'Image',
  'Font',
  'Media',
  'TextTrack',
  'XHR',
  'Fetch',
  'EventSource',
]);

/**
 * Authorization and FORWARD_HEADERS extras: the page request, and what the page's own document
 * loads or fetches from the main app — as the user's browser would if it held them for the main
 * app (an HTTP auth cache does just that). Nothing else: not frames (a frame cannot tell who
 * asked it to navigate, and its document is not the page), not workers, not beacons or pings,
 * not a fetch with credentials 'omit', not a chain that went through another site, not a
 * request with another origin's `Origin`, not from a sandboxed page.
 */
export function mayCarryIdentityHeaders(r: RequestOrigin, mainOrigin: string): boolean {
  if (!r.toMainOrigin || r.leftMainOrigin) return false;
  if (r.originHeader !== undefined && r.originHeader !== mainOrigin) return false;
  if (r.pageRequest) return true;
  return r.fromPage && !r.opaquePage && !r.omitCredentials && PAGE_RESOURCES.has(r.resourceType);
}
