import { createHash } from 'node:crypto';

/**
 * The one credential policy: what of the user's request the appliance carries into Chromium,
 * and which of Chromium's requests may carry it.
 *
 * - Cookies go into the render's cookie jar, bound to the main app's origin (scheme and port
 *   too: see ORIGIN_BOUND_COOKIE_FEATURES) and SameSite=Strict, HttpOnly. Chromium then sends them
 *   exactly when a browser would send a strict cookie: never with a request a cross-site frame
 *   or a cross-site redirect started, never to another origin.
 * - Identity headers (Authorization and every FORWARD_HEADERS extra) are added by the egress
 *   layer, and only to requests the main app's own frames make (see mayCarryIdentityHeaders).
 * - Context headers (language, user agent, tracing) describe the request, not the user; they
 *   go with requests to the main app's origin whoever makes them.
 */

/** Forwarded headers that are not credentials: they follow every request to the main origin. */
export const CONTEXT_HEADERS: ReadonlySet<string> = new Set(['accept-language', 'user-agent', 'x-request-id', 'traceparent', 'tracestate']);

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
export function identityFrom(origin: string, forwarded: Record<string, string>): { identity: Identity; context: Record<string, string> } {
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
  return { identity: { cookies, headers, anonymous, key: anonymous ? `anonymous:${origin}` : hash.digest('base64url') }, context };
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

/** What the egress layer knows about one request when it decides on identity headers. */
export interface RequestOrigin {
  /** The request goes to the main app's origin. */
  toMainOrigin: boolean;
  /** A navigation of the render's top-level frame. */
  mainFrameNavigation: boolean;
  /** A navigation of any other frame. */
  subframeNavigation: boolean;
  /**
   * The frame that made the request shows the main app's origin, and so does every frame above
   * it. False for cross-site frames (separate targets), for workers, and for unknown frames.
   */
  fromMainAppFrame: boolean;
  /** The `Origin` header Chromium put on the request (CORS and form posts), if any. */
  originHeader: string | undefined;
}

/**
 * Authorization and FORWARD_HEADERS extras go only where a browser would have them go on its
 * own: the render's top-level navigations on the main origin, and requests the main app's own
 * frames make to it. A frame cannot tell who asked it to navigate (a sibling cross-site frame
 * may), so frame navigations get cookies only (the jar decides) and no identity headers.
 */
export function mayCarryIdentityHeaders(r: RequestOrigin, mainOrigin: string): boolean {
  if (!r.toMainOrigin) return false;
  if (r.originHeader !== undefined && r.originHeader !== mainOrigin) return false;
  if (r.mainFrameNavigation) return true;
  if (r.subframeNavigation) return false;
  return r.fromMainAppFrame;
}
