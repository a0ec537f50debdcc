import type { Page } from 'puppeteer-core';
import type { AssetCache } from '../cache/asset-cache.js';
import type { BrowserSupervisor } from '../browser/supervisor.js';
import type { Config } from '../config/config.js';
import { fail, RenderFailure, type Failure } from '../http/errors.js';
import { intercept } from './intercept.js';
import { loggableUrl, type Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import { collectPageHints, planPrint, type PrintPlan } from './print-plan.js';
import { applyMetadata } from '../output/pdf-metadata.js';
import type { Verdict } from '../security/ssrf.js';
import type { Target } from '../http/target.js';

export interface RenderDeps {
  config: Pick<Config, 'renderTimeoutMs' | 'quietWindowMs' | 'pdf' | 'javascript'>;
  browser: BrowserSupervisor;
  guard: { check(url: string): Promise<Verdict> };
  cache: AssetCache | null;
  metrics: Metrics;
}

export interface RenderResult {
  pdf: Uint8Array;
  plan: PrintPlan;
  timings: { navigationMs: number; printMs: number };
}

/**
 * One render: a fresh isolated browser context, the main app's page loaded as the user,
 * waited for only as long as it needs, printed. The main document's status decides whether
 * there is a PDF at all. Everything is bounded by RENDER_TIMEOUT; `signal` aborts when the
 * client goes away.
 */
export async function render(target: Target, deps: RenderDeps, log: Logger, signal: AbortSignal): Promise<RenderResult> {
  const { config } = deps;
  const ws = await deps.browser.workspace();
  // Started only now: a timer started before the await could fire while workspace() waits
  // (a slow launch), before the listener below exists, and the render would then have no
  // limit at all. Getting a browser has its own bound (the launch timeout).
  const deadline = AbortSignal.timeout(config.renderTimeoutMs);
  const { page } = ws;

  // The first reason to stop wins: a redirect seen by interception, a crash, the deadline...
  let stopReason: Failure | null = null;
  let rejectStop!: (e: RenderFailure) => void;
  const stopped = new Promise<never>((_, reject) => {
    rejectStop = reject;
  });
  stopped.catch(() => undefined);
  const stop = (failure: Failure): void => {
    if (stopReason) return;
    stopReason = failure;
    rejectStop(new RenderFailure(failure));
  };
  const onDeadline = (): void => stop({ kind: 'timeout', phase: 'render' });
  const onClientGone = (): void => stop({ kind: 'client-gone' });
  deadline.addEventListener('abort', onDeadline, { once: true });
  signal.addEventListener('abort', onClientGone, { once: true });
  if (signal.aborted) onClientGone();
  const onCrash = (): void => {
    deps.metrics.pageCrashes.inc();
    stop({ kind: 'bad-gateway', reason: 'renderer crashed (out of memory?)' });
  };
  page.on('error', onCrash);
  const onClose = (): void => stop({ kind: 'browser-unavailable', reason: 'page closed under the render' });
  page.on('close', onClose);

  const net = intercept(page, {
    origin: target.origin,
    headers: target.headers,
    guard: deps.guard,
    cache: deps.cache,
    log,
    metrics: deps.metrics,
    stop,
  });

  try {
    const t0 = performance.now();
    // Chromium fails the navigation for some answers (a 401 it cannot authenticate) after the
    // response arrived: the recorded response decides, not the navigation error.
    const response = await Promise.race([navigate(page, target.url), stopped]).catch((err: unknown) => {
      if (net.mainDocument() && !stopReason) return net.mainDocument();
      throw err;
    });
    checkMainResponse(net.mainDocument() ?? response);
    const hints = await Promise.race([page.evaluate(collectPageHints), stopped]);
    const plan = planPrint(hints, config.pdf);
    for (const w of plan.warnings) {
      log.warn({ page: loggableUrl(target.url), option: w.option, value: w.value, reason: w.reason }, 'ignored page print option');
    }
    await Promise.race([settle(page, net, plan, config), stopped]);
    const navigationMs = performance.now() - t0;

    const t1 = performance.now();
    if (plan.media === 'screen') await Promise.race([page.emulateMediaType('screen'), stopped]);
    const raw = await Promise.race([printPdf(page, plan, log, target.url), stopped]);
    // Chromium already writes the Title; only the other fields need a rewrite of the file.
    const { author, subject, keywords } = plan.metadata;
    const pdf = await applyMetadata(raw, { author, subject, keywords });
    const printMs = performance.now() - t1;
    return { pdf, plan, timings: { navigationMs, printMs } };
  } catch (err) {
    throw classify(err, stopReason, page);
  } finally {
    deadline.removeEventListener('abort', onDeadline);
    signal.removeEventListener('abort', onClientGone);
    page.off('error', onCrash);
    page.off('close', onClose);
    net.detach();
    ws.release();
  }
}

function navigate(page: Page, url: string) {
  // `load` rather than networkidle: networkidle costs a fixed 500 ms even on a page with
  // nothing pending. The quiet-window wait after `load` covers late fetches precisely.
  // No timeout here: RENDER_TIMEOUT bounds the whole render.
  return page.goto(url, { waitUntil: 'load', timeout: 0 });
}

function checkMainResponse(response: import('puppeteer-core').HTTPResponse | null): void {
  if (!response) fail({ kind: 'bad-gateway', reason: 'no response for the main document' });
  const status = response.status();
  if (status >= 200 && status < 300) return;
  if (status === 401) {
    fail({ kind: 'upstream-status', status, wwwAuthenticate: response.headers()['www-authenticate'] });
  }
  if (status >= 400 && status < 500) fail({ kind: 'upstream-status', status });
  fail({ kind: 'bad-gateway', reason: `main app answered ${status}` });
}

async function printPdf(page: Page, plan: PrintPlan, log: Logger, url: string): Promise<Uint8Array> {
  try {
    return await page.pdf(plan.pdf);
  } catch (err) {
    // A page range past the end is the page author's mistake, not the user's: print it all.
    if (plan.pdf.pageRanges && /Page range exceeds page count/i.test(String(err))) {
      log.warn({ page: loggableUrl(url), option: 'pdf-page-ranges', value: plan.pdf.pageRanges, reason: 'exceeds page count' }, 'ignored page print option');
      return page.pdf({ ...plan.pdf, pageRanges: '' });
    }
    throw err;
  }
}

/** Waits for what the page needs before printing — and nothing more. */
async function settle(page: Page, net: ReturnType<typeof intercept>, plan: PrintPlan, config: RenderDeps['config']): Promise<void> {
  // Nothing pending at `load`: print at once. Otherwise wait until the network has been quiet
  // for a short window, so a page that fetches its data after load prints complete.
  if (net.inFlight() > 0) await net.quiet(config.quietWindowMs);
  if (plan.waitFor) await page.waitForSelector(plan.waitFor, { timeout: 0 });
  if (config.javascript) {
    // A page that set `window.pdfReady = false` is waited for until it sets it to true.
    const manual = await page.evaluate(() => (window as unknown as { pdfReady?: unknown }).pdfReady === false);
    if (manual) {
      await page.waitForFunction(() => (window as unknown as { pdfReady?: unknown }).pdfReady === true, { timeout: 0, polling: 50 });
      if (net.inFlight() > 0) await net.quiet(config.quietWindowMs);
    }
  }
}

/** Turns whatever went wrong into the one failure the client should hear about. */
function classify(err: unknown, stopReason: Failure | null, page: Page): RenderFailure {
  if (stopReason) return new RenderFailure(stopReason, err);
  if (err instanceof RenderFailure) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (/net::ERR_(CONNECTION_REFUSED|NAME_NOT_RESOLVED|CONNECTION_RESET|EMPTY_RESPONSE|ADDRESS_UNREACHABLE|CONNECTION_CLOSED|INVALID_RESPONSE|TOO_MANY_REDIRECTS|TIMED_OUT|CONNECTION_FAILED|SSL|CERT)/.test(msg)) {
    return new RenderFailure({ kind: 'bad-gateway', reason: msg.split('\n')[0]! }, err);
  }
  if (page.isClosed() || /Target closed|Session closed|Connection closed|Protocol error|detached/i.test(msg)) {
    return new RenderFailure({ kind: 'browser-unavailable', reason: msg.split('\n')[0]! }, err);
  }
  return new RenderFailure({ kind: 'bad-gateway', reason: msg.split('\n')[0]! }, err);
}
