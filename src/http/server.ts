import { randomUUID, timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BrowserSupervisor } from '../browser/supervisor.js';
import type { Config } from '../config/config.js';
import { APPLIANCE_HEADER, IMAGE_FORMATS, pathOf } from 'pdf-appliance-replay';
import { fail, failAfter, RequestFailure } from '../failure.js';
import { prefersHtml } from './accept.js';
import { htmlPage, toHttp, type HttpAnswer } from './errors.js';
import { send } from './deliver.js';
import { chooseFilename, contentDisposition } from './filename.js';
import type { IdleClock } from '../admission/idle-clock.js';
import type { Limiter } from '../admission/limiter.js';
import { loggableUrl, type Logger } from '../observability/log.js';
import type { RenderJob } from '../render/job.js';
import type { Deliver, Output, OutputName } from '../render/output.js';
import { render, type RenderDeps, type RenderResult } from '../render/render.js';
import { requestTargetTooLong } from './request-checks.js';
import { BounceMarks, parseReplaySrc } from './replay-src.js';
import { header, parseRenderRequest, publicLocation, publicOriginFor, type IncomingRender } from './request.js';
import { buildTargetUrl, originFor, pagePathFor, type MappedTarget } from './target.js';

export const HEALTH_PATH = '/healthz';

/** A request the health route answers: matched case-insensitively, with or without a trailing slash. */
export function isHealthCheck(url: string | undefined): boolean {
  const path = (url ?? '').split('?', 1)[0]!.toLowerCase();
  return path === HEALTH_PATH || path === `${HEALTH_PATH}/`;
}

export interface ServerDeps extends RenderDeps {
  config: Config;
  browser: BrowserSupervisor;
  limiter: Limiter;
  idle: IdleClock;
  log: Logger;
  /** Set while draining for shutdown: new PDF requests get 503. */
  draining: () => boolean;
}

/**
 * The appliance's HTTP side: health, the checks every request passes, renders, and a redirect
 * to the main app for anything else. Plain node:http: importing Express took 110-150 ms of CPU
 * (body-parser, mime-db, qs and some 120 modules the appliance never used), on the path of every
 * cold start. Measured, 21 alternating runs: process start → first PDF went from 1.07-1.24× to
 * 0.94-0.99× a bare script launching the same Chromium and printing the same page.
 */
export function createApp(deps: ServerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { config, log } = deps;
  // This process's marks on its overflow bounces (replay-src.ts).
  const marks = new BounceMarks();

  // Health: never a redirect (Fly's checks don't follow them), never activity (a check every
  // second must not keep the machine alive).
  const health = (req: IncomingMessage, res: ServerResponse): void => {
    const b = deps.browser.info();
    sendJson(req, res, b.state === 'failed' ? 503 : 200, {
      status: b.state === 'failed' ? 'failing' : 'ok',
      version: config.version,
      browser: b,
      // The same two counts as the renders_in_flight and queue_depth metrics.
      running: deps.limiter.running,
      queued: deps.limiter.queued,
      idleForMs: deps.idle.idleForMs,
      draining: deps.draining(),
    });
  };

  return (req, res) => {
    const requestId = (req.headers['fly-request-id'] as string | undefined)?.slice(0, 64) ?? randomUUID();
    try {
      route(req, res, requestId);
    } catch (err) {
      // A check that refused the request, or a bug: either way an answer, never a crash.
      sendError(res, err, log.child({ requestId }), req, requestId, retryAfter(deps));
    }
  };

  function route(req: IncomingMessage, res: ServerResponse, requestId: string): void {
    if ((req.method === 'GET' || req.method === 'HEAD') && isHealthCheck(req.url)) return health(req, res);
    guardRequest(req, config);
    const requestTarget = req.url ?? '/';
    // Every image format: which of them reach the appliance is the main app's opt-in.
    const mapped = pagePathFor(requestTarget, IMAGE_FORMATS);
    if (mapped) {
      // handleRender answers its own failures; one that escapes it (its error path threw) is
      // logged, and a request still unanswered is cut rather than left hanging.
      handleRender(req, res, deps, requestId, mapped, marks).catch((err: unknown) => {
        log.error({ requestId, err: err instanceof Error ? err.stack : String(err) }, 'unexpected error');
        if (!res.writableEnded) res.destroy();
      });
      return;
    }
    const pathOnly = pathOf(requestTarget);
    // Everything else goes back to the main app. It counts as activity: a main app warms the
    // appliance up this way (e.g. on login) before the user asks for a PDF.
    deps.idle.touch();
    const origin = originFor(config, req.headers.host);
    const replaySrc = parseReplaySrc(header(req, 'fly-replay-src'));
    const home = publicOriginFor(req, config, origin, replaySrc) ?? origin;
    const url = buildTargetUrl(home, pathOnly, requestTarget.slice(pathOnly.length)) ?? `${home}/`;
    res.writeHead(302, { location: url, 'content-length': '0' }).end();
  }
}

/** Checks that apply before any routing: request size, loop guard, shared secret. */
function guardRequest(req: IncomingMessage, config: Config): void {
  if (requestTargetTooLong(req.url ?? '/')) fail({ kind: 'uri-too-long' });
  if (req.headers[APPLIANCE_HEADER] !== undefined) fail({ kind: 'loop' });
  if (config.replaySecret !== null) {
    const given = req.headers[config.replaySecretHeader];
    if (typeof given !== 'string' || !secretMatches(given, config.replaySecret)) {
      fail({ kind: 'forbidden', reason: 'missing or wrong replay secret' });
    }
  }
}

/** Constant-time: compare digests so neither length nor content leaks through timing. */
function secretMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

async function handleRender(
  req: IncomingMessage,
  res: ServerResponse,
  deps: ServerDeps,
  requestId: string,
  mapped: MappedTarget,
  marks: BounceMarks,
): Promise<void> {
  const { config, metrics } = deps;
  const started = performance.now();
  const log = deps.log.child({ requestId });
  const endActivity = deps.idle.begin();
  const client = new AbortController();
  // A client that goes away frees its queue place or its render at once.
  res.on('close', () => {
    if (!res.writableFinished) client.abort(new RequestFailure({ kind: 'client-gone' }));
  });
  // The request line logged once in `finally`, whatever the outcome; each step adds to it.
  const fields: Record<string, unknown> = { method: req.method, path: pathOf(req.url ?? '/'), queueMs: 0 };
  let job: RenderJob | null = null;

  try {
    if (req.method !== 'GET' && req.method !== 'HEAD') fail({ kind: 'method-not-allowed' });
    if (deps.draining()) fail({ kind: 'shutting-down' });
    const incoming = parseRenderRequest(req, config, mapped);
    job = incoming.job;
    fields.target = loggableUrl(job.url);

    if (deps.limiter.full) {
      overflow(req, res, deps, requestId, incoming, marks);
      metrics.renders.inc({ outcome: 'overflow', status: String(res.statusCode) });
      Object.assign(fields, { status: res.statusCode, failure: 'overflow' });
      return;
    }

    const result = await renderInSlot(deps, job, log, client.signal, deliverTo(res, job), fields);
    metrics.navigation.observe(result.timings.navigationMs / 1000);
    metrics.print.observe(result.timings.printMs / 1000);
    metrics.outputBytes.observe({ format: job.format }, result.bytes);
    metrics.renders.inc({ outcome: job.format, status: '200' });
    const { workspaceMs, navigationMs, printMs } = result.timings;
    Object.assign(fields, { workspaceMs, navigationMs, printMs }, { bytes: result.bytes, status: 200 });
  } catch (err) {
    const answer = sendError(res, err, log, req, requestId, retryAfter(deps), fields, job);
    metrics.renders.inc({ outcome: outcomeOf(err), status: String(answer.status) });
  } finally {
    endActivity();
    const totalMs = performance.now() - started;
    metrics.render.observe(totalMs / 1000);
    log.info(roundedMs({ ...fields, ms: totalMs }), 'render request');
  }
}

/**
 * The render, once the request holds a slot. RENDER_TIMEOUT runs from that moment and bounds
 * everything after it up to the output, getting a workspace included.
 */
function renderInSlot(
  deps: ServerDeps,
  job: RenderJob,
  log: Logger,
  client: AbortSignal,
  deliver: Deliver,
  fields: Record<string, unknown>,
): Promise<RenderResult> {
  const { config, metrics } = deps;
  return deps.limiter.run(async (slot) => {
    fields.queueMs = slot.queuedMs;
    metrics.queueWait.observe(slot.queuedMs / 1000);
    const deadline = failAfter(config.renderTimeoutMs, {
      kind: 'timeout',
      phase: 'render',
      limitMs: config.renderTimeoutMs,
    });
    return render(job, deps, log, client, deadline, deliver);
  }, client);
}

/** Streams the output to the client, under the name the page or the path gives it. */
function deliverTo(res: ServerResponse, job: RenderJob): Deliver {
  return (output: Output, name: OutputName): Promise<number> => {
    const filename = chooseFilename({ ...name, pathname: decodePathSafe(job.pathname), format: job.format });
    return send(res, output, {
      'content-type': output.contentType,
      'content-disposition': contentDisposition(filename, job.download ? 'attachment' : 'inline'),
      'cache-control': 'private, no-store',
      'x-content-type-options': 'nosniff',
    });
  };
}

/** Durations (`…Ms`) in the log line as whole milliseconds. */
function roundedMs(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(fields).map(([k, v]) => [k, k.endsWith('Ms') && typeof v === 'number' ? Math.round(v) : v]),
  );
}

/**
 * Slots and queue are full. On Fly, ask the proxy to try another Machine of this app: the
 * bounce carries this process's mark (and the main app's instance, so pinning survives the
 * hop), and a request that comes back with that mark gets a plain 503 instead of bouncing
 * again. Only our own mark counts (replay-src.ts): a client cannot turn a bounce into a 503.
 */
function overflow(
  req: IncomingMessage,
  res: ServerResponse,
  deps: ServerDeps,
  requestId: string,
  incoming: IncomingRender,
  marks: BounceMarks,
): void {
  const request = `${req.method} ${req.url ?? '/'}`;
  if (deps.config.flyMachineId && marks.mayBounce(request, incoming.bounce)) {
    const state = marks.state(request, incoming.job.context['fly-prefer-instance-id'], incoming.bounce);
    deps.metrics.overflow.inc({ answer: 'replay' });
    res.writeHead(307, { 'fly-replay': `elsewhere=true;state=${state}`, 'content-length': '0' }).end();
    return;
  }
  deps.metrics.overflow.inc({ answer: '503' });
  respond(req, res, requestId, toHttp(new RequestFailure({ kind: 'overloaded' }), retryAfter(deps)));
}

/** The one Retry-After of every 503: a sixth of RENDER_TIMEOUT, at least 1 s. */
function retryAfter(deps: ServerDeps): number {
  return Math.max(1, Math.ceil(deps.config.renderTimeoutMs / 1000 / 6));
}

function sendError(
  res: ServerResponse,
  err: unknown,
  log: Logger,
  req: IncomingMessage,
  requestId: string,
  retryAfterSeconds: number,
  fields: Record<string, unknown> = {},
  job: RenderJob | null = null,
) {
  const answer = toHttp(err, retryAfterSeconds);
  // The main app's redirect (to its login page, say) must point where the user can follow it.
  if (job && answer.headers.location) answer.headers.location = publicLocation(answer.headers.location, job);
  const failure = err instanceof RequestFailure ? err.failure : null;
  const detail = {
    ...fields,
    status: answer.status,
    failure: failure?.kind,
    reason: failure && 'reason' in failure ? failure.reason : undefined,
  };
  if (!failure) log.error({ ...detail, err: err instanceof Error ? err.stack : String(err) }, 'unexpected error');
  else if (answer.status >= 500 && failure.kind !== 'client-gone') log.warn(detail, 'render failed');
  Object.assign(fields, { status: answer.status, failure: failure?.kind });
  if (res.headersSent || res.destroyed) {
    // Mid-delivery: cutting the connection is the only honest end (the client sees an
    // incomplete response, not a complete-looking file).
    res.destroy();
    return answer;
  }
  respond(req, res, requestId, answer);
  return answer;
}

function respond(req: IncomingMessage, res: ServerResponse, requestId: string, answer: HttpAnswer): void {
  const headers = { ...answer.headers, 'cache-control': 'no-store' };
  if (!answer.body) {
    res.writeHead(answer.status, { ...headers, 'content-length': '0' }).end();
    return;
  }
  // A person who clicked a link gets a page saying what happened; a program gets one line.
  if (prefersHtml(req.headers.accept))
    sendBody(req, res, answer.status, 'text/html; charset=utf-8', htmlPage(answer, requestId), headers);
  else sendBody(req, res, answer.status, 'text/plain; charset=utf-8', answer.body, headers);
}

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, body: unknown): void {
  sendBody(req, res, status, 'application/json; charset=utf-8', JSON.stringify(body));
}

/** A whole small body, with its length; HEAD gets the headers alone. */
function sendBody(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, { ...headers, 'content-type': contentType, 'content-length': String(bytes.length) });
  res.end(req.method === 'HEAD' ? undefined : bytes);
}

function outcomeOf(err: unknown): string {
  if (!(err instanceof RequestFailure)) return 'error';
  switch (err.failure.kind) {
    case 'redirect':
      return 'redirect';
    case 'upstream-status':
      return 'upstream';
    default:
      return err.failure.kind;
  }
}

function decodePathSafe(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}
