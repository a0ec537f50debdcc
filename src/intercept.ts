import type { HTTPRequest, HTTPResponse, Page } from 'puppeteer-core';
import { AssetCache, type AssetResponse } from './asset-cache.js';
import { APPLIANCE_HEADER } from './config.js';
import type { Failure } from './errors.js';
import { loggableUrl, type Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { Verdict } from './ssrf.js';

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

/**
 * Every request the page makes passes here before it leaves Chromium. This is where the
 * user's credentials are scoped to the main app's origin (page.setExtraHTTPHeaders would send
 * them to every origin, and Chromium keeps overridden headers across redirects, so each hop is
 * rebuilt from scratch), where the SSRF guard decides, and where public assets come from the
 * shared cache.
 */
export function intercept(page: Page, opts: InterceptionOptions): Interception {
  const credentialNames = new Set(Object.keys(opts.headers));
  const pending = new Set<HTTPRequest>();
  let mainResponse: HTTPResponse | null = null;
  let quietWaiters: Array<() => void> = [];
  let quietTimer: NodeJS.Timeout | null = null;
  let quietMsWanted = 0;

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

  const onRequest = (req: HTTPRequest): void => {
    const url = req.url();
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
    });
  };

  const handle = async (req: HTTPRequest, url: string): Promise<void> => {
    if (url.startsWith('data:')) return req.continue();
    const target = new URL(url);
    const sameOrigin = target.origin === opts.origin;

    if (req.isNavigationRequest() && req.frame() === page.mainFrame()) {
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
        return req.abort('aborted');
      }
      if (!sameOrigin) {
        opts.stop({ kind: 'bad-gateway', reason: `main frame navigated away to ${loggableUrl(url)}` });
        return req.abort('blockedbyclient');
      }
    }

    if (!sameOrigin) {
      const verdict = await opts.guard.check(url);
      if (!verdict.allow) {
        opts.metrics.blockedRequests.inc({ reason: verdict.reason.split(' ')[0] ?? 'blocked' });
        opts.log.warn({ url: loggableUrl(url), reason: verdict.reason, type: req.resourceType() }, 'blocked request');
        return req.abort('blockedbyclient');
      }
    }

    const headers = scopedHeaders(req.headers(), sameOrigin);
    if (opts.cache && AssetCache.eligible(req.method(), req.resourceType())) {
      const { response, outcome } = await opts.cache.get(
        { url, method: req.method(), headers, credentialed: sameOrigin && ('cookie' in headers || 'authorization' in headers) },
        fetchAsset,
      );
      opts.metrics.assetCache.inc({ outcome });
      return req.respond({ status: response.status, headers: browserHeaders(response.headers), body: response.body });
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
    if (!mainResponse && req.isNavigationRequest() && req.frame() === page.mainFrame() && (res.status() < 300 || res.status() >= 400)) {
      mainResponse = res;
    }
  };

  page.on('request', onRequest);
  page.on('response', onResponse);
  page.on('requestfinished', done);
  page.on('requestfailed', done);

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
      page.off('request', onRequest);
      page.off('response', onResponse);
      page.off('requestfinished', done);
      page.off('requestfailed', done);
      if (quietTimer) clearTimeout(quietTimer);
    },
  };
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
