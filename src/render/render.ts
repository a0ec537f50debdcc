import type { AssetCache, Fetcher } from '../cache/asset-cache.js';
import type { BrowserSupervisor } from '../browser/supervisor.js';
import { NavigationError, type Workspace } from '../browser/workspace.js';
import { fail, RequestFailure, type Failure } from '../failure.js';
import type { Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import type { Verdict } from '../security/ssrf.js';
import { abortable } from '../abort.js';
import { prepareImage } from './capture.js';
import type { ImageDefaults } from './image-plan.js';
import type { RenderJob } from './job.js';
import type { Deliver, Output } from './output.js';
import { COLLECT_PAGE_HINTS, type RawPageHints } from './page-hints.js';
import { preparePdf } from './print.js';
import type { PdfDefaults } from './print-plan.js';
import type { Product } from './product.js';
import { pointLinksAtUser } from './public-links.js';
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
 * One render, as five steps: acquire a workspace for the user's identity, load the main app's
 * page as the user, prepare it (its own options, the waits it asks for), produce the PDF or the
 * image, and deliver it while the workspace is still held (a PDF streams out of Chromium as the
 * client reads it). The main document's status decides whether there is an output at all.
 *
 * One signal stops every step: the first of the render's deadline (`deadline`, RENDER_TIMEOUT
 * from the moment the request got its slot), the client going away (`client`), and a stop the
 * render calls itself (the request policy saw a redirect, a renderer died, the memory watch
 * acted). Each aborts with the RequestFailure that says why, so the first reason is the answer.
 */
export async function render(
  job: RenderJob,
  deps: RenderDeps,
  log: Logger,
  client: AbortSignal,
  deadline: AbortSignal,
  deliver: Deliver,
): Promise<RenderResult> {
  const stopper = new AbortController();
  const signal = AbortSignal.any([stopper.signal, deadline, client]);
  const stop = (failure: Failure): void => stopper.abort(new RequestFailure(failure));
  const step = <T>(p: Promise<T>): Promise<T> => abortable(p, signal);

  const t0 = performance.now();
  const lease = await step(deps.browser.acquire(job.identity, job.origin, signal)).catch((err: unknown) => {
    throw classify(err, signal);
  });
  const { ws } = lease;
  const policy = startRender(ws, job, deps, log, stop);
  let output: Output | null = null;
  let clean = false;
  try {
    const workspaceMs = performance.now() - t0;
    const t1 = performance.now();
    await step(load(ws, job, deps, policy, signal));
    const product = await step(prepare(ws, job, deps, log, signal));
    const navigationMs = performance.now() - t1;
    const t2 = performance.now();
    output = await produce(ws, job, deps, product, step, signal);
    const printMs = performance.now() - t2;
    // Not bounded by the deadline: the output exists; only the client going away stops it.
    const bytes = await deliver(output, product.name);
    clean = true;
    return { bytes, timings: { workspaceMs, navigationMs, printMs } };
  } catch (err) {
    // A command that failed because its renderer was just killed (over its memory budget) can
    // fail before the crash is reported: "Printing failed" ahead of the crash event. Give the
    // report its moment, so the user hears "memory", not "could not be rendered".
    if (!signal.aborted && !(err instanceof RequestFailure))
      await abortable(delay(CRASH_NOTICE_MS), signal).catch(() => undefined);
    throw classify(err, signal);
  } finally {
    await output?.dispose?.().catch(() => undefined);
    ws.end();
    // A render cut off mid-way leaves its tab in an unknown state (a page still loading, a
    // script looping): that workspace is disposed, never reused.
    lease.release(clean || isPageVerdict(failureOf(signal)));
  }
}

/** The render's request policy takes the workspace, and its failures stop the render. */
function startRender(
  ws: Workspace,
  job: RenderJob,
  deps: RenderDeps,
  log: Logger,
  stop: (f: Failure) => void,
): RequestPolicy {
  const budgetMb = Math.round(deps.config.renderMemoryBytes / 2 ** 20);
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
  ws.onMemory = (over) =>
    stop(
      over.reason === 'tree-budget' ? { kind: 'machine-memory' } : { kind: 'out-of-memory', budgetMb, certain: true },
    );
  ws.onCrash = () => {
    deps.metrics.pageCrashes.inc();
    stop({ kind: 'out-of-memory', budgetMb, certain: deps.browser.memoryKilledWithin(2000) });
  };
  ws.begin(policy);
  return policy;
}

/** The main app's page, loaded as the user; its answer decides whether there is an output. */
async function load(
  ws: Workspace,
  job: RenderJob,
  deps: RenderDeps,
  policy: RequestPolicy,
  signal: AbortSignal,
): Promise<void> {
  // An image's page lays out in the default viewport from the start; its own meta tags (read
  // after load) may still change it.
  if (job.format !== 'pdf')
    await ws.setViewport({ width: deps.config.image.width, height: deps.config.image.height }, deps.config.image.scale);
  await ws.navigate(job.url).catch((err: unknown) => {
    // A status the policy acted on (a redirect, a 404) ends the navigation early: that decides.
    if (signal.aborted) throw signal.reason;
    if (err instanceof NavigationError) fail({ kind: 'bad-gateway', reason: `navigation failed: ${err.message}` });
    throw err;
  });
  if (!policy.mainDocument) fail({ kind: 'bad-gateway', reason: 'no response for the main document' });
}

/** The page readied for its output, by its own options and waits. */
async function prepare(
  ws: Workspace,
  job: RenderJob,
  deps: RenderDeps,
  log: Logger,
  signal: AbortSignal,
): Promise<Product> {
  const hints = await ws.evaluate<RawPageHints>(COLLECT_PAGE_HINTS);
  if (job.format === 'pdf') return preparePdf(ws, hints, deps.config, log, job.url, signal);
  return prepareImage(ws, hints, job.format, deps.config, {
    maxPixels: deps.config.image.maxPixels,
    images: deps.browser.images,
    log,
    url: job.url,
    signal,
  });
}

/** The output, made; one that arrives after the render was stopped is freed, never delivered. */
async function produce(
  ws: Workspace,
  job: RenderJob,
  deps: RenderDeps,
  product: Product,
  step: <T>(p: Promise<T>) => Promise<T>,
  signal: AbortSignal,
): Promise<Output> {
  // Links in a PDF lead where the user is, not to TARGET_URL (public-links.ts).
  await step(pointLinksAtUser(ws, job));
  const producing = product.produce();
  producing.then(
    (late) => signal.aborted && void late.dispose?.().catch(() => undefined),
    () => undefined,
  );
  const output = await step(producing);
  // The page may have gone over its memory budget since the last check: if that renderer is
  // killed now, its crash (and so this render's failure) arrives within moments.
  if (deps.browser.sweepMemory())
    await step(delay(CRASH_NOTICE_MS)).catch(async (err: unknown) => {
      await output.dispose?.().catch(() => undefined);
      throw err;
    });
  return output;
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

/** The failure a stopped render stopped with, if it was stopped. */
function failureOf(signal: AbortSignal): Failure | null {
  return signal.aborted && signal.reason instanceof RequestFailure ? signal.reason.failure : null;
}

/** Turns whatever went wrong into the one failure the client should hear about. */
function classify(err: unknown, signal: AbortSignal): RequestFailure {
  const stopped = failureOf(signal);
  if (stopped) return new RequestFailure(stopped, err);
  if (err instanceof RequestFailure) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (
    /net::ERR_(CONNECTION_REFUSED|NAME_NOT_RESOLVED|CONNECTION_RESET|EMPTY_RESPONSE|ADDRESS_UNREACHABLE|CONNECTION_CLOSED|INVALID_RESPONSE|TOO_MANY_REDIRECTS|TIMED_OUT|CONNECTION_FAILED|SSL|CERT)/.test(
      msg,
    )
  ) {
    return new RequestFailure({ kind: 'bad-gateway', reason: msg.split('\n')[0]! }, err);
  }
  if (/Target closed|Session closed|Connection closed|Protocol error|detached|No target with given id/i.test(msg)) {
    return new RequestFailure({ kind: 'browser-unavailable', reason: msg.split('\n')[0]! }, err);
  }
  return new RequestFailure({ kind: 'bad-gateway', reason: msg.split('\n')[0]! }, err);
}
