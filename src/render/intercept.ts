import {
  type Browser,
  type CDPSession,
  type ConsoleMessage,
  type Frame,
  type HTTPRequest,
  type HTTPResponse,
  type Page,
  type Protocol,
} from 'puppeteer-core';
import { AssetCache, type AssetResponse } from '../cache/asset-cache.js';
import { APPLIANCE_HEADER } from '../config/config.js';
import type { Failure } from '../http/errors.js';
import { loggableUrl, type Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import { denyCategory, type Verdict } from '../security/ssrf.js';

export interface InterceptionOptions {
  /** The main app's origin: the only one that gets the user's headers. */
  origin: string;
  /** The user's identity headers (already filtered) plus the appliance's own marks. */
  headers: Record<string, string>;
  guard: { check(url: string): Promise<Verdict> };
  cache: AssetCache | null;
  log: Logger;
  metrics: Metrics;
  /** Called when the main frame must not go on (redirect, left the origin). */
  stop(failure: Failure): void;
}

export interface Interception {
  /** Requests the page has started that have not finished or failed. */
  inFlight(): number;
  /** Resolves when nothing is in flight for `quietMs` (at once when nothing is in flight now and quietMs is 0). */
  quiet(quietMs: number): Promise<void>;
  /** The main document's first response, once it arrived (even when Chromium then fails the navigation, as it does for a 401). */
  mainDocument(): HTTPResponse | null;
  detach(): void;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-encoding', 'content-length', 'upgrade', 'trailer', 'te', 'proxy-connection']);

// Chromium's own wording when a WebSocket meets the unconnectable proxy of LOCKDOWN_ARGS.
const WEBSOCKET_REFUSED = /^WebSocket connection to '([^']*)' failed: .*ERR_PROXY_CONNECTION_FAILED/;

/**
 * Every request the page makes passes here before it leaves Chromium. This is where the
 * user's credentials are scoped to the main app's origin (page.setExtraHTTPHeaders would send
 * them to every origin, and Chromium keeps overridden headers across redirects, so each hop is
 * rebuilt from scratch), where the SSRF guard decides, and where public assets come from the
 * shared cache. What the page's own interception cannot see (service and shared workers,
 * windows it opens) is guarded one level up, by the browser-wide egress check below.
 */
export function intercept(page: Page, opts: InterceptionOptions): Interception {
  const credentialNames = new Set(Object.keys(opts.headers));
  const pending = new Set<HTTPRequest>();
  let mainResponse: HTTPResponse | null = null;
  let quietWaiters: Array<() => void> = [];
  let quietTimer: NodeJS.Timeout | null = null;
  let quietMsWanted = 0;
  let detached = false;
  let unregister: (() => void) | null = null;

  // Nothing may leave before the browser-wide check knows this render: the page cannot run a
  // line of script (and so cannot start a worker) before its document request is let through.
  const ready = egressFor(page.browser(), opts.metrics).then((egress) => {
    const contextId = page.browserContext().id;
    if (contextId === undefined) throw new Error('render page is not in an isolated browser context');
    const off = egress.register(contextId, { origin: opts.origin, guard: opts.guard, log: opts.log, metrics: opts.metrics });
    if (detached) off();
    else unregister = off;
  });
  ready.catch((err: unknown) => opts.log.error({ err: String(err) }, 'browser egress check unavailable; refusing requests'));

  const settle = (): void => {
    if (pending.size > 0 || quietWaiters.length === 0) return;
    if (quietTimer) clearTimeout(quietTimer);
    quietTimer = setTimeout(() => {
      quietTimer = null;
      if (pending.size > 0) return;
      const waiters = quietWaiters;
      quietWaiters = [];
      for (const w of waiters) w();
    }, quietMsWanted);
  };
  const done = (req: HTTPRequest): void => {
    if (pending.delete(req)) settle();
  };
  // A request we refused is over for us at once: Chromium does not always report the failure
  // back (a dedicated worker's refused fetch sometimes never settles), and it must not hold
  // the print until RENDER_TIMEOUT.
  const refuse = async (req: HTTPRequest, reason: 'aborted' | 'blockedbyclient'): Promise<void> => {
    try {
      await req.abort(reason);
    } finally {
      done(req);
    }
  };

  const isMainNavigation = (req: HTTPRequest): boolean => req.isNavigationRequest() && req.frame() === page.mainFrame();
  /** The page we were asked for has arrived: from now on the main frame must stay on it. */
  const documentLoaded = (): boolean => mainResponse !== null && mainResponse.status() >= 200 && mainResponse.status() < 300;
  const onOrigin = (url: string): boolean => {
    try {
      return new URL(url).origin === opts.origin;
    } catch {
      return false;
    }
  };

  const onRequest = (req: HTTPRequest): void => {
    const url = req.url();
    // A redirect hop ends the hop before it, whatever Puppeteer reports: it sometimes never
    // emits requestfinished for a redirected request, which would hold the print forever.
    for (const hop of req.redirectChain()) pending.delete(hop);
    if (!url.startsWith('data:')) {
      pending.add(req);
      if (quietTimer) {
        clearTimeout(quietTimer);
        quietTimer = null;
      }
    }
    handle(req, url).catch((err) => {
      opts.log.debug({ err: String(err), url: loggableUrl(url) }, 'interception failed');
      if (!req.isInterceptResolutionHandled()) req.abort('failed').catch(() => undefined);
      done(req);
    });
  };

  const handle = async (req: HTTPRequest, url: string): Promise<void> => {
    if (url.startsWith('data:')) return req.continue();
    await ready;
    const target = new URL(url);
    const sameOrigin = target.origin === opts.origin;

    if (isMainNavigation(req)) {
      const chain = req.redirectChain();
      if (!mainResponse && chain.length > 0) {
        // The main app redirected the page itself (typically to its login page): the user's
        // browser must follow that redirect, not receive a PDF of wherever it leads.
        const hop = chain[chain.length - 1]!.response();
        const location = hop?.headers()['location'];
        if (hop && location) {
          opts.stop({ kind: 'redirect', status: hop.status(), location: new URL(location, chain[chain.length - 1]!.url()).href });
        } else {
          opts.stop({ kind: 'bad-gateway', reason: 'main document redirect without location' });
        }
        return refuse(req, 'aborted');
      }
      if (!sameOrigin) {
        opts.stop({ kind: 'bad-gateway', reason: `main frame navigated away to ${loggableUrl(url)}` });
        return refuse(req, 'blockedbyclient');
      }
    }

    if (!sameOrigin) {
      const verdict = await opts.guard.check(url);
      if (!verdict.allow) {
        reportBlocked(opts, { url, reason: verdict.reason, category: denyCategory(verdict.reason), type: req.resourceType() });
        return refuse(req, 'blockedbyclient');
      }
    }

    const headers = scopedHeaders(req.headers(), sameOrigin);
    if (opts.cache && AssetCache.eligible(req.method(), req.resourceType())) {
      const { response, outcome } = await opts.cache.get(
        { url, method: req.method(), headers, credentialed: sameOrigin && ('cookie' in headers || 'authorization' in headers) },
        fetchAsset,
      );
      opts.metrics.assetCache.inc({ outcome });
      await req.respond({ status: response.status, headers: browserHeaders(response.headers), body: response.body });
      // We hold the whole answer, so the request is over for us. Puppeteer does not always
      // report the end of a request answered with a redirect this way (seen: a looping image
      // left one hop "in flight" for good, turning the render into a 504).
      done(req);
      return;
    }
    return req.continue({ headers });
  };

  /** Headers for one hop: the user's only on the main app's origin, nothing of theirs elsewhere. */
  const scopedHeaders = (current: Record<string, string>, sameOrigin: boolean): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(current)) {
      const name = k.toLowerCase();
      if (credentialNames.has(name) || name === APPLIANCE_HEADER) continue;
      out[name] = v;
    }
    if (sameOrigin) Object.assign(out, opts.headers);
    return out;
  };

  const onResponse = (res: HTTPResponse): void => {
    const req = res.request();
    if (!mainResponse && isMainNavigation(req) && (res.status() < 300 || res.status() >= 400)) {
      mainResponse = res;
    }
  };

  // A same-origin navigation after load is the page's business; one that fails (a redirect
  // loop, an unreachable URL) would leave Chromium's error page to be printed instead.
  const onFailed = (req: HTTPRequest): void => {
    done(req);
    if (!documentLoaded() || !isMainNavigation(req) || req === mainResponse?.request()) return;
    const error = req.failure()?.errorText ?? 'failed';
    // ERR_ABORTED: superseded by a newer navigation, which is judged on its own.
    if (error === 'net::ERR_ABORTED') return;
    opts.stop({ kind: 'bad-gateway', reason: `main frame navigation failed after load (${error})` });
  };

  // Navigations without a network request (about:blank, Chromium's error page) never reach
  // onRequest; whatever the main frame commits must still be the main app's.
  const onNavigated = (frame: Frame): void => {
    if (frame !== page.mainFrame() || !documentLoaded()) return;
    const url = frame.url();
    if (!onOrigin(url)) opts.stop({ kind: 'bad-gateway', reason: `main frame left the main app for ${describeUrl(url)}` });
  };

  // Belt and braces: LOCKDOWN_IGNORE_DEFAULT_ARGS keeps the popup blocker on, and the egress
  // check guards a popup's requests; a window that opened anyway is closed at once.
  const onPopup = (popup: Page | null): void => {
    opts.log.warn('closed a window the page opened');
    popup?.close().catch(() => undefined);
  };

  // WebSockets never pass request interception; LOCKDOWN_ARGS (lockdown.ts) makes them fail, and this is
  // the only place their attempt becomes visible, so log and count it like any block.
  const onConsole = (msg: ConsoleMessage): void => {
    const m = WEBSOCKET_REFUSED.exec(msg.text());
    if (m) reportBlocked(opts, { url: m[1]!, reason: 'websockets are not allowed', category: 'websocket', type: 'websocket' });
  };

  page.on('request', onRequest);
  page.on('response', onResponse);
  page.on('requestfinished', done);
  page.on('requestfailed', onFailed);
  page.on('framenavigated', onNavigated);
  page.on('popup', onPopup);
  page.on('console', onConsole);

  return {
    inFlight: () => pending.size,
    mainDocument: () => mainResponse,
    quiet(quietMs: number): Promise<void> {
      if (pending.size === 0 && quietMs === 0) return Promise.resolve();
      quietMsWanted = quietMs;
      return new Promise((resolve) => {
        quietWaiters.push(resolve);
        settle();
      });
    },
    detach(): void {
      detached = true;
      unregister?.();
      unregister = null;
      page.off('request', onRequest);
      page.off('response', onResponse);
      page.off('requestfinished', done);
      page.off('requestfailed', onFailed);
      page.off('framenavigated', onNavigated);
      page.off('popup', onPopup);
      page.off('console', onConsole);
      if (quietTimer) clearTimeout(quietTimer);
    },
  };
}

interface Blocked {
  url: string;
  reason: string;
  /** Metric label: a DenyCategory, or 'websocket' / 'worker' for what the guard never sees. */
  category: string;
  type: string;
  /** What kind of target asked, when it was not the page itself (service_worker, ...). */
  source?: string;
}

/** loggableUrl for http(s); just the scheme for the rest (about:blank, chrome-error://...). */
function describeUrl(url: string): string {
  return /^(https?|wss?):/i.test(url) ? loggableUrl(url) : `${url.split(':', 1)[0]}: URL`;
}

function reportBlocked(to: { log: Logger; metrics: Metrics }, b: Blocked): void {
  to.metrics.blockedRequests.inc({ reason: b.category });
  to.log.warn({ url: loggableUrl(b.url), reason: b.reason, type: b.type, source: b.source }, 'blocked request');
}

// ---------------------------------------------------------------------------------------
// Browser-wide egress check.
//
// Page-level interception only covers the page, its frames and its dedicated workers.
// Service workers, shared workers and windows the page opens are separate targets whose
// requests go straight out (verified against Chromium: a service worker's fetch() reached a
// loopback listener untouched). A second Fetch interception on the browser target sees all of
// them. Page-level interception runs first, so what it blocked never arrives here, and what
// it let through passes the same guard again (answers are cached).

/** A render the browser-wide check knows about, by its browser context. */
interface Tenant {
  origin: string;
  guard: { check(url: string): Promise<Verdict> };
  log: Logger;
  metrics: Metrics;
}

type Source = { kind: 'frame' } | { kind: 'target'; type: string; contextId: string | undefined };

// A service worker outlives the page's interception and can answer the page's own requests;
// a shared worker is not the page's either. Nothing a print needs uses them.
const WORKER_TARGETS = new Set(['service_worker', 'shared_worker']);
// Targets whose requests are guarded like the page's; any other kind is refused outright.
const GUARDED_TARGETS = new Set(['page', 'iframe', 'worker']);
const LOCAL_URL = /^(data|blob|about):/i;
const MAX_SOURCES = 2048;

class BrowserEgress {
  private readonly tenants = new Map<string, Tenant>();
  private readonly sources = new Map<string, Promise<Source>>();

  private constructor(
    readonly session: CDPSession,
    private readonly metrics: Metrics,
  ) {}

  static async install(browser: Browser, metrics: Metrics): Promise<BrowserEgress> {
    const session = await browser.target().createCDPSession();
    const egress = new BrowserEgress(session, metrics);
    session.on('Fetch.requestPaused', (e) => void egress.onPaused(e));
    await session.send('Fetch.enable', { patterns: [{ urlPattern: '*', requestStage: 'Request' }] });
    return egress;
  }

  register(contextId: string, tenant: Tenant): () => void {
    this.tenants.set(contextId, tenant);
    return () => {
      if (this.tenants.get(contextId) === tenant) this.tenants.delete(contextId);
    };
  }

  private async onPaused(e: Protocol.Fetch.RequestPausedEvent): Promise<void> {
    let allow = false;
    try {
      allow = await this.decide(e);
    } catch {
      allow = false; // fail closed: an unexplained request does not leave
    }
    const sent = allow
      ? this.session.send('Fetch.continueRequest', { requestId: e.requestId })
      : this.session.send('Fetch.failRequest', { requestId: e.requestId, errorReason: 'BlockedByClient' });
    // The request may be gone already (page closed); nothing to do then.
    await sent.catch(() => undefined);
  }

  private async decide(e: Protocol.Fetch.RequestPausedEvent): Promise<boolean> {
    const url = e.request.url;
    const source = await this.sourceOf(e.frameId);
    // A frame inside a render page: the page's own interception has already decided.
    if (source.kind === 'frame') return true;
    const tenant = source.contextId !== undefined ? this.tenants.get(source.contextId) : undefined;
    const blocked = (reason: string, category: string): false => {
      const b = { url, reason, category, type: e.resourceType.toLowerCase(), source: source.type };
      if (tenant) reportBlocked(tenant, b);
      else this.metrics.blockedRequests.inc({ reason: category });
      return false;
    };
    if (WORKER_TARGETS.has(source.type)) return blocked(`${source.type.replace('_', ' ')}s are not allowed`, 'worker');
    if (!GUARDED_TARGETS.has(source.type)) return blocked(`requests from ${source.type} targets are not allowed`, 'target');
    // No render owns this context (it finished, or it never was ours): nothing may leave.
    if (!tenant) return blocked('no render owns this browser context', 'target');
    if (LOCAL_URL.test(url)) return true;
    if (new URL(url).origin === tenant.origin) return true;
    const verdict = await tenant.guard.check(url);
    return verdict.allow || blocked(verdict.reason, denyCategory(verdict.reason));
  }

  /** Which target a request belongs to. Frame ids of in-process frames are not targets. */
  private sourceOf(frameId: string): Promise<Source> {
    let source = this.sources.get(frameId);
    if (source) return source;
    source = this.session.send('Target.getTargetInfo', { targetId: frameId }).then(
      ({ targetInfo }): Source => ({ kind: 'target', type: targetInfo.type, contextId: targetInfo.browserContextId }),
      (): Source => ({ kind: 'frame' }),
    );
    // Map keeps insertion order: the first key is the oldest.
    while (this.sources.size >= MAX_SOURCES) this.sources.delete(this.sources.keys().next().value!);
    this.sources.set(frameId, source);
    return source;
  }
}

const egressByBrowser = new WeakMap<Browser, Promise<BrowserEgress>>();

/** The browser-wide check for this Chromium, installed on first use (one per browser process). */
async function egressFor(browser: Browser, metrics: Metrics): Promise<BrowserEgress> {
  const known = egressByBrowser.get(browser);
  // A session that went away (it should not while the browser lives) is replaced, never trusted.
  if (known && !(await known.then((e) => e.session.detached, () => true))) return known;
  const installing = BrowserEgress.install(browser, metrics);
  egressByBrowser.set(browser, installing);
  // A failed install is retried by the next render.
  installing.catch(() => {
    if (egressByBrowser.get(browser) === installing) egressByBrowser.delete(browser);
  });
  return installing;
}

/** Fetches an asset from Node (keep-alive pool) for the cache; redirects go back to Chromium. */
async function fetchAsset(url: string, headers: Record<string, string>, signal?: AbortSignal): Promise<AssetResponse> {
  const res = await fetch(url, { headers, redirect: 'manual', signal });
  const body = Buffer.from(await res.arrayBuffer());
  const out: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    out[k] = v;
  });
  const cookies = res.headers.getSetCookie();
  if (cookies.length > 0) out['set-cookie'] = cookies.join('\n');
  return { status: res.status, headers: out, body };
}

/** fetch() has already decoded the body, so length/encoding headers no longer describe it. */
function browserHeaders(h: Record<string, string>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) {
    if (HOP_BY_HOP.has(k)) continue;
    // Several Set-Cookie headers travel joined by newlines; CDP wants them one by one.
    out[k] = k === 'set-cookie' ? v.split('\n') : v;
  }
  return out;
}
