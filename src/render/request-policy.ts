import { AssetCache, type AssetResponse, type Fetcher } from '../cache/asset-cache.js';
import { APPLIANCE_HEADER } from 'pdf-appliance-replay';
import { CONTINUE, REFUSE, type Decision, type PausedRequest } from '../browser/interception.js';
import type { RequestFacts, Tenant } from '../browser/workspace.js';
import type { Failure } from '../failure.js';
import { loggableUrl, type Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import { mayCarryIdentityHeaders, OMIT_CREDENTIALS_HEADER, type Identity } from '../security/credentials.js';
import type { Verdict } from '../security/ssrf.js';

/**
 * What one render lets its page do on the network, request by request: the one outbound
 * decision. Everything the page, its frames and its workers ask for passes here (interception.ts
 * routes it) before it leaves Chromium:
 *   - local URLs (data:, blob:, about:) stay local;
 *   - the main app's origin gets the appliance's marks and the user's context headers, and
 *     identity headers when the main app's own frames ask (credentials.ts);
 *   - every other origin passes the SSRF guard (which also refuses the appliance itself) or
 *     is refused; nothing of the user's goes there;
 *   - public sub-resources come from the shared asset cache where the cache rules allow;
 *   - the top-level frame loads the page asked for, may follow the main app's own links,
 *     and never leaves the main app.
 */

export interface RequestPolicyOptions {
  mainOrigin: string;
  identity: Identity;
  /** Context headers and the appliance's marks, for every request to the main origin. */
  context: Record<string, string>;
  guard: { check(url: string): Promise<Verdict> };
  cache: AssetCache | null;
  /** How the cache fetches from Node: pinned to the guard's vetted address (asset-fetch.ts). */
  fetchAsset: Fetcher;
  log: Logger;
  metrics: Metrics;
  /** Called when the render must not go on (redirect, a status that decides, left the origin). */
  stop(failure: Failure): void;
}

/** The main document's answer, once it arrived. */
export interface MainDocument {
  status: number;
  headers: Record<string, string>;
}

/** One request's redirect chain. */
interface Chain {
  /** A hop of it went to another origin: what follows is not the main app's own request. */
  leftMain: boolean;
}

const LOCAL_URL = /^(data|blob|about):/i;
const REDIRECT = new Set([301, 302, 303, 307, 308]);
// A service worker outlives the page and can answer the page's own requests; a shared worker is
// not the page's either. Nothing a print needs uses them.
const WORKER_TARGETS = new Set(['service_worker', 'shared_worker']);
const GUARDED_TARGETS = new Set(['iframe', 'worker']);
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-encoding',
  'content-length',
  'upgrade',
  'trailer',
  'te',
  'proxy-connection',
]);

export class RequestPolicy implements Tenant {
  mainDocument: MainDocument | null = null;
  private readonly ours: Set<string>;
  /** The page's document was served sandboxed (an opaque origin): not the main app's own. */
  private opaquePage = false;
  /** Redirect chains this render started, by Network request id (the same for every hop). */
  private readonly chains = new Map<string, Chain>();

  constructor(private readonly o: RequestPolicyOptions) {
    // `cookie` too: the jar adds the cookies, and a redirect hop shows them in its headers
    // already (passing them back would send them twice). Whatever a hop shows of ours was set
    // on an earlier hop: each hop gets exactly what its own decision gives it.
    this.ours = new Set([
      'cookie',
      APPLIANCE_HEADER,
      OMIT_CREDENTIALS_HEADER,
      ...Object.keys(o.context),
      ...Object.keys(o.identity.headers),
    ]);
  }

  async onRequest(req: PausedRequest, facts: RequestFacts): Promise<Decision> {
    const { url } = req;
    if (facts.source.kind === 'target' && !GUARDED_TARGETS.has(facts.source.type)) {
      const worker = WORKER_TARGETS.has(facts.source.type);
      return this.block(
        req,
        worker
          ? `${facts.source.type.replace('_', ' ')}s are not allowed`
          : `requests from ${facts.source.type} targets are not allowed`,
        worker ? 'worker' : 'target',
        facts.source.type,
      );
    }
    if (LOCAL_URL.test(url)) return CONTINUE;
    // A redirect hop keeps the identity of the render that started its chain: a hop of a
    // chain this render never saw began in an earlier one, whose page is gone.
    const chain = this.chainOf(req);
    if (!chain) return this.block(req, 'a redirect of a request an earlier render started', 'stale');
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return this.block(req, 'unparseable URL', 'invalid');
    }
    // Credentials in a URL (XMLHttpRequest.open with a user and password) would be used at the
    // next challenge and kept in the context's auth cache, which nothing can clear.
    if (target.username !== '' || target.password !== '') return this.block(req, 'credentials in the URL', 'invalid');
    const toMain = target.origin === this.o.mainOrigin;

    if (facts.mainFrameNavigation && this.mainDocument) {
      // The top-level frame shows the page asked for, and only that: a later navigation of it
      // (a script, a meta refresh, a link or form aimed at _top, from the page or from a frame
      // that may be a third party's: nothing says which) would replace the page being printed.
      // Aborted, it leaves the document as it is, with no error page.
      this.report(url, 'the top-level frame may not navigate away from the page', 'navigation', 'document');
      return { action: 'fail', reason: 'Aborted' };
    }
    if (!toMain) {
      chain.leftMain = true;
      const verdict = await this.o.guard.check(url);
      if (!verdict.allow) return this.block(req, verdict.reason, verdict.category);
      // A hop after one to the main app shows what that hop was given: none of it goes on.
      const own = withoutOurs(req.headers, this.ours);
      const carried = Object.keys(own).length !== Object.keys(req.headers).length;
      return (
        (await this.fromCache(req, own, true, false)) ?? (carried ? { action: 'continue', headers: own } : CONTINUE)
      );
    }

    const headers = withoutOurs(req.headers, this.ours);
    Object.assign(headers, this.o.context);
    headers[APPLIANCE_HEADER] = '1';
    const pageRequest = facts.mainFrameNavigation && !this.mainDocument;
    // Who made it is asked (which may wait for Chromium's report) only when it can matter.
    const mayMatter =
      !pageRequest && !this.o.identity.anonymous && !facts.mainFrameNavigation && !facts.subframeNavigation;
    const identity = mayCarryIdentityHeaders(
      {
        toMainOrigin: true,
        pageRequest,
        fromPage: mayMatter && (await facts.fromPage()),
        opaquePage: this.opaquePage,
        resourceType: req.resourceType,
        leftMainOrigin: chain.leftMain,
        omitCredentials: headerValue(req.headers, OMIT_CREDENTIALS_HEADER) !== undefined,
        originHeader: headerValue(req.headers, 'origin'),
      },
      this.o.mainOrigin,
    );
    if (identity) Object.assign(headers, this.o.identity.headers);
    // The cache fetches from Node, outside the jar: it can act for the user only where the
    // user's identity goes anyway, and carries the user's cookies itself then.
    // The page itself: its answer (status, Location) is looked at before Chromium shows it.
    if (pageRequest) return { action: 'continue', headers, interceptResponse: true };
    const cached =
      identity || this.o.identity.anonymous
        ? await this.fromCache(req, this.withCookies(headers), this.o.identity.anonymous, true)
        : null;
    return cached ?? { action: 'continue', headers };
  }

  async onDocumentResponse(req: PausedRequest, facts: RequestFacts): Promise<Decision> {
    if (!facts.mainFrameNavigation || this.mainDocument || req.status === undefined) return CONTINUE;
    const status = req.status;
    const headers: Record<string, string> = {};
    for (const h of req.responseHeaders ?? []) headers[h.name.toLowerCase()] = h.value;
    if (REDIRECT.has(status) && headers['location']) {
      // The main app redirected the page itself (typically to its login page): the user's
      // browser must follow that redirect, not receive a PDF of wherever it leads.
      let location: string;
      try {
        location = new URL(headers['location'], req.url).href;
      } catch {
        this.o.stop({ kind: 'bad-gateway', reason: 'main document redirect to an invalid location' });
        return { action: 'fail', reason: 'Aborted' };
      }
      this.o.stop({ kind: 'redirect', status, location });
      return { action: 'fail', reason: 'Aborted' };
    }
    this.mainDocument = { status, headers };
    this.opaquePage = sandboxed(headers['content-security-policy']);
    if (status >= 200 && status < 300) return CONTINUE;
    // The status decides and the page is not needed: do not load it.
    if (status === 401) this.o.stop({ kind: 'upstream-status', status, wwwAuthenticate: headers['www-authenticate'] });
    else if (status >= 400 && status < 500) this.o.stop({ kind: 'upstream-status', status });
    else this.o.stop({ kind: 'bad-gateway', reason: `main app answered ${status}` });
    return { action: 'fail', reason: 'Aborted' };
  }

  private chainOf(req: PausedRequest): Chain | null {
    const known = req.networkId === undefined ? undefined : this.chains.get(req.networkId);
    if (known) return known;
    if (req.redirectedRequestId !== undefined) return null;
    const chain: Chain = { leftMain: false };
    if (req.networkId !== undefined) this.chains.set(req.networkId, chain);
    return chain;
  }

  private withCookies(headers: Record<string, string>): Record<string, string> {
    const { cookies } = this.o.identity;
    if (cookies.length === 0) return headers;
    return { ...headers, cookie: cookies.map((c) => (c.name === '' ? c.value : `${c.name}=${c.value}`)).join('; ') };
  }

  /**
   * Once the page arrived, whatever the top-level frame shows must still be the main app:
   * navigations without a request (about:blank, Chromium's error page after a failed
   * navigation, such as a redirect loop) never reach onRequest.
   */
  mainFrameCommitted(url: string): void {
    if (!this.mainDocument || this.mainDocument.status >= 300) return;
    let origin = 'null';
    try {
      origin = new URL(url).origin;
    } catch {
      // not a URL: not the main app
    }
    if (origin !== this.o.mainOrigin)
      this.o.stop({ kind: 'bad-gateway', reason: `main frame left the main app for ${describeUrl(url)}` });
  }

  /** A WebSocket never reaches a request check (the launch lockdown fails it): report the attempt. */
  webSocketRefused(url: string): void {
    this.report(url, 'websockets are not allowed', 'websocket', 'websocket');
  }

  private block(req: PausedRequest, reason: string, category: string, source?: string): Decision {
    this.report(req.url, reason, category, req.resourceType.toLowerCase(), source);
    return REFUSE;
  }

  /** `source`: what kind of target asked, when it was not the page itself (service_worker, ...). */
  private report(url: string, reason: string, category: string, type: string, source?: string): void {
    this.o.metrics.blockedRequests.inc({ reason: category });
    this.o.log.warn({ url: loggableUrl(url), reason, type, source }, 'blocked request');
  }

  /**
   * The shared asset cache behaves as a shared cache: a request carrying the user's identity
   * is served, and stores, only responses the origin declared public (asset-cache.ts).
   */
  private async fromCache(
    req: PausedRequest,
    headers: Record<string, string>,
    anonymous: boolean,
    mainOrigin: boolean,
  ): Promise<Decision | null> {
    const cache = this.o.cache;
    if (!cache || !AssetCache.eligible(req.method, req.resourceType)) return null;
    const { response, outcome } = await cache.get(
      { url: req.url, method: req.method, headers, credentialed: !anonymous },
      this.o.fetchAsset,
    );
    this.o.metrics.assetCache.inc({ outcome });
    // Another site's redirect is Chromium's to follow: answered from here, the hop that follows
    // would not know it came through another site (measured: the user's strict cookie went
    // with an image redirected back to the main app). The main app's own are answered.
    if (!mainOrigin && response.status >= 300 && response.status < 400) return null;
    return fulfill(response);
  }
}

/** loggableUrl for http(s); just the scheme for the rest (about:blank, chrome-error://...). */
function describeUrl(url: string): string {
  return /^(https?|wss?):/i.test(url) ? loggableUrl(url) : `${url.split(':', 1)[0]}: URL`;
}

function fulfill(r: AssetResponse): Decision {
  return { action: 'fulfill', status: r.status, headers: browserHeaders(r.headers), body: r.body };
}

/** The request's headers less those the appliance adds or decides on. */
function withoutOurs(h: Record<string, string>, ours: ReadonlySet<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (!ours.has(k.toLowerCase())) out[k] = v;
  return out;
}

/** A CSP `sandbox` directive without allow-same-origin gives the document an opaque origin. */
function sandboxed(csp: string | undefined): boolean {
  if (!csp) return false;
  // Several policies may arrive joined by commas; each directive is `name value…`.
  return csp.split(/[,;]/).some((d) => {
    const [name, ...tokens] = d.trim().toLowerCase().split(/\s+/);
    return name === 'sandbox' && !tokens.includes('allow-same-origin');
  });
}

function headerValue(headers: Record<string, string>, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

/** The fetcher has already decoded the body, so length/encoding headers no longer describe it. */
function browserHeaders(h: Record<string, string>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) {
    if (HOP_BY_HOP.has(k)) continue;
    // Several Set-Cookie headers travel joined by newlines; CDP wants them one by one.
    out[k] = k === 'set-cookie' ? v.split('\n') : v;
  }
  return out;
}
