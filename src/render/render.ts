import type { AssetCache, Fetcher } from '../cache/asset-cache.js';
import type { BrowserSupervisor } from '../browser/supervisor.js';
import { NavigationError, type Workspace } from '../browser/workspace.js';
import { fail, RequestFailure, type Failure } from '../failure.js';
import { loggableUrl, type Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import type { Verdict } from '../security/ssrf.js';
import { captureOutput } from './capture.js';
import { planImage, type ImageDefaults } from './image-plan.js';
import type { RenderJob } from './job.js';
import type { Deliver, Output, OutputName } from './output.js';
import { COLLECT_PAGE_HINTS, type RawPageHints, type Warning } from './page-hints.js';
import { printOutput } from './print.js';
import { pointLinksAtUser } from './public-links.js';
import { planPrint, type PdfDefaults } from './print-plan.js';
import { RequestPolicy } from './request-policy.js';

export interface RenderDeps {
  config: RenderSettings;
  browser: BrowserSupervisor;
  guard: { check(url: string): Promise<Verdict> };
  cache: AssetCache | null;
  fetchAsset: Fetcher;
  metrics: Metrics;
}

/** The settings a render reads (config.ts fills them from the environment). */
export interface RenderSettings {
  renderTimeoutMs: number;
  quietWindowMs: number;
  pdf: PdfDefaults;
  image: ImageDefaults;
  javascript: boolean;
  renderMemoryBytes: number;
}

export interface RenderResult {
  /** Bytes delivered. */
  bytes: number;
  /** printMs: printing (and converting) the PDF, or capturing the image. */
  timings: { workspaceMs: number; navigationMs: number; printMs: number };
}

/**
 * One render: a workspace for the user's identity, the main app's page loaded as the user,
 * waited for only as long as it needs, printed or captured, and handed to `deliver` while the
 * workspace is still held (a PDF streams out of Chromium as the client reads it). The main
 * document's status decides whether there is an output at all. Every wait up to the output —
 * for a workspace included — is bounded by the deadline (`deadline`, RENDER_TIMEOUT from the
 * moment the request got its slot); `signal` aborts when the client goes away.
 */
export async function render(job: RenderJob, deps: RenderDeps, log: Logger, signal: AbortSignal, deadline: AbortSignal, deliver: Deliver): Promise<RenderResult> {
  // The first reason to stop wins: a redirect seen by the request policy, a crash, the deadline...
  let stopReason: Failure | null = null;
  let rejectStop!: (e: RequestFailure) => void;
  const stopped = new Promise<never>((_, reject) => {
    rejectStop = reject;
  });
  stopped.catch(() => undefined);
  const stop = (failure: Failure): void => {
    if (stopReason) return;
    stopReason = failure;
    rejectStop(new RequestFailure(failure));
  };
  const onDeadline = (): void => stop({ kind: 'timeout', phase: 'render', limitMs: deps.config.renderTimeoutMs });
  const onClientGone = (): void => stop({ kind: 'client-gone' });
  deadline.addEventListener('abort', onDeadline, { once: true });
  signal.addEventListener('abort', onClientGone, { once: true });
  if (deadline.aborted) onDeadline();
  if (signal.aborted) onClientGone();
  // One signal for everything below: whichever of the two fires first.
  const bounded = AbortSignal.any([deadline, signal]);
  const race = <T>(p: Promise<T>): Promise<T> => Promise.race([p, stopped]);

  const t0 = performance.now();
  let lease: Awaited<ReturnType<BrowserSupervisor['acquire']>>;
  try {
    lease = await race(deps.browser.acquire(job.identity, job.origin, bounded));
  } catch (err) {
    deadline.removeEventListener('abort', onDeadline);
    signal.removeEventListener('abort', onClientGone);
    throw classify(err, stopReason);
  }
  const { ws } = lease;
  const policy = new RequestPolicy({
    mainOrigin: job.origin,
    identity: job.identity,
    context: job.context,
    guard: deps.guard,
    cache: deps.cache,
    fetchAsset: deps.fetchAsset,
    log,
    metrics: deps.metrics,
    stop,
  });
  // The watch acted on this render's context (its processes are being killed): say why.
  ws.onMemory = (over) => {
    stop(over.reason === 'tree-budget' ? { kind: 'machine-memory' } : { kind: 'out-of-memory', budgetMb: Math.round(deps.config.renderMemoryBytes / 2 ** 20), certain: true });
  };
  ws.onCrash = () => {
    deps.metrics.pageCrashes.inc();
    const killed = deps.browser.memoryKilledWithin(2000);
    stop({ kind: 'out-of-memory', budgetMb: Math.round(deps.config.renderMemoryBytes / 2 ** 20), certain: killed });
  };
  ws.begin(policy);
  let clean = false;
  let output: Output | null = null;
  try {
    const workspaceMs = performance.now() - t0;
    const t1 = performance.now();
    // An image's page lays out in the default viewport from the start; its own meta tags
    // (read after load) may still change it.
    if (job.format !== 'pdf') await race(ws.setViewport(viewportOf(deps.config.image), deps.config.image.scale));
    await race(ws.navigate(job.url)).catch((err: unknown) => {
      // A status the policy acted on (a redirect, a 404) ends the navigation early: that decides.
      if (stopReason) throw new RequestFailure(stopReason);
      if (err instanceof NavigationError) fail({ kind: 'bad-gateway', reason: `navigation failed: ${err.message}` });
      throw err;
    });
    if (!policy.mainDocument) fail({ kind: 'bad-gateway', reason: 'no response for the main document' });
    const hints = await race(ws.evaluate<RawPageHints>(COLLECT_PAGE_HINTS));
    const warnIgnored = (warnings: Warning[]): void => {
      for (const w of warnings) log.warn({ page: loggableUrl(job.url), option: w.option, value: w.value, reason: w.reason }, 'ignored page option');
    };
    let produce: () => Promise<Output>;
    const name: OutputName = { title: hints.title.trim() || undefined };
    if (job.format === 'pdf') {
      const plan = planPrint(hints, deps.config.pdf);
      warnIgnored(plan.warnings);
      await race(settle(ws, plan.waitFor, deps.config));
      if (plan.media === 'screen') await race(ws.emulateMedia('screen'));
      produce = () => printOutput(ws, plan, log, job.url, bounded);
      name.meta = plan.filename;
    } else {
      const plan = planImage(hints, job.format, deps.config.image);
      warnIgnored(plan.warnings);
      if (plan.viewport.width !== deps.config.image.width || plan.viewport.height !== deps.config.image.height || plan.scale !== deps.config.image.scale) {
        await race(ws.setViewport(plan.viewport, plan.scale));
      }
      await race(settle(ws, plan.waitFor, deps.config));
      produce = () => captureOutput(ws, plan, { maxPixels: deps.config.image.maxPixels, images: deps.browser.images, log, url: job.url, signal: bounded });
      name.meta = plan.filename;
    }
    const navigationMs = performance.now() - t1;

    const t2 = performance.now();
    // Web fonts must have arrived, or the output shows fallback fonts (print and capture do not wait).
    await race(ws.evaluate('document.fonts.ready.then(() => true)', true));
    // Links in a PDF lead where the user is, not to TARGET_URL (public-links.ts).
    await race(pointLinksAtUser(ws, job));
    const producing = produce();
    // An output that arrives after the render was stopped is never delivered: free what it holds.
    producing.then((late) => stopReason && void late.dispose?.().catch(() => undefined), () => undefined);
    output = await race(producing);
    // The page may have gone over its memory budget since the last check: if that renderer is
    // killed now, its crash (and so this render's failure) arrives within moments.
    if (deps.browser.sweepMemory()) await race(delay(CRASH_NOTICE_MS));
    const printMs = performance.now() - t2;
    // Not raced with the deadline: the output exists; only the client going away stops it.
    const bytes = await deliver(output, name);
    clean = true;
    return { bytes, timings: { workspaceMs, navigationMs, printMs } };
  } catch (err) {
    // A command that failed because its renderer was just killed (over its memory budget)
    // can fail before the crash is reported: "Printing failed" ahead of the crash event. Give
    // the report its moment, so the user hears "memory", not "could not be rendered".
    if (!stopReason && !(err instanceof RequestFailure)) await Promise.race([stopped.catch(() => undefined), delay(CRASH_NOTICE_MS)]);
    throw classify(err, stopReason);
  } finally {
    deadline.removeEventListener('abort', onDeadline);
    signal.removeEventListener('abort', onClientGone);
    await output?.dispose?.().catch(() => undefined);
    ws.end();
    // A render cut off mid-way leaves its tab in an unknown state (a page still loading, a
    // script looping): that workspace is replaced, never reused.
    lease.release(clean || isPageVerdict(stopReason));
  }
}

function viewportOf(image: ImageDefaults): { width: number; height: number } {
  return { width: image.width, height: image.height };
}

/** How long a killed renderer's crash takes to be reported, generously. */
const CRASH_NOTICE_MS = 300;

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Stops decided from the main app's answer: the tab itself is fine. */
function isPageVerdict(f: Failure | null): boolean {
  return f !== null && (f.kind === 'redirect' || f.kind === 'upstream-status');
}

/** Waits for what the page needs before printing — and nothing more. */
async function settle(ws: Workspace, waitFor: string | undefined, config: RenderDeps['config']): Promise<void> {
  // Nothing pending at `load`: print at once. Otherwise wait until the network has been quiet
  // for a short window, so a page that fetches its data after load prints complete.
  await ws.inFlight.quiet(config.quietWindowMs);
  if (waitFor) await ws.evaluate(waitForSelector(waitFor), true);
  if (config.javascript) {
    // A page that set `window.pdfReady = false` is waited for until it sets it to true.
    const manual = await ws.evaluate<boolean>('window.pdfReady === false');
    if (manual) {
      await ws.evaluate(POLL_PDF_READY, true);
      await ws.inFlight.quiet(config.quietWindowMs);
    }
  }
}

const POLL_PDF_READY = `new Promise((resolve) => { const check = () => (window.pdfReady === true ? resolve(true) : setTimeout(check, 50)); check(); })`;

/** An in-page wait for `selector` (already checked to parse): a mutation observer, no polling. */
function waitForSelector(selector: string): string {
  return `new Promise((resolve) => {
    const sel = ${JSON.stringify(selector)};
    if (document.querySelector(sel)) return resolve(true);
    const mo = new MutationObserver(() => { if (document.querySelector(sel)) { mo.disconnect(); resolve(true); } });
    mo.observe(document, { childList: true, subtree: true, attributes: true });
  })`;
}

/** Turns whatever went wrong into the one failure the client should hear about. */
function classify(err: unknown, stopReason: Failure | null): RequestFailure {
  if (stopReason) return new RequestFailure(stopReason, err);
  if (err instanceof RequestFailure) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (/net::ERR_(CONNECTION_REFUSED|NAME_NOT_RESOLVED|CONNECTION_RESET|EMPTY_RESPONSE|ADDRESS_UNREACHABLE|CONNECTION_CLOSED|INVALID_RESPONSE|TOO_MANY_REDIRECTS|TIMED_OUT|CONNECTION_FAILED|SSL|CERT)/.test(msg)) {
    return new RequestFailure({ kind: 'bad-gateway', reason: msg.split('\n')[0]! }, err);
  }
  if (/Target closed|Session closed|Connection closed|Protocol error|detached|No target with given id/i.test(msg)) {
    return new RequestFailure({ kind: 'browser-unavailable', reason: msg.split('\n')[0]! }, err);
  }
  return new RequestFailure({ kind: 'bad-gateway', reason: msg.split('\n')[0]! }, err);
}
