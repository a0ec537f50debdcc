import { readPdf, type PdfSummary } from '../support/pdf.js';
import type { FloorName } from './floors.js';
import { fetchPdf } from './http.js';
import type { LoopJob, LoopResult } from './loops.js';
import type { BenchOptions } from './options.js';
import { appliancePdfUrl, type BenchPage } from './pages.js';
import { progress } from './paths.js';
import { samplePeak } from './pss.js';
import type { Completeness, DefaultsMemory, Latency, Memory, Throughput } from './results.js';
import { call } from './rpc.js';
import { round, summarize } from './stats.js';
import type { Systems } from './systems.js';

const MB = 1024 * 1024;

/** One PDF of each kind from each side, read with pdfjs: complete, and the same document. */
export async function checkComplete(sys: Systems, page: BenchPage): Promise<Completeness> {
  const a = await readPdf(await fetchPdf(appliancePdfUrl(sys.applianceUrl, page)));
  const onFloor = async (floor: FloorName): Promise<PdfSummary> =>
    readPdf(Buffer.from(await call<string>(sys.baseline, { kind: 'pdf', page: page.name, floor }, 60_000), 'base64'));
  const b = await onFloor('naive');
  const has = (text: string[]): boolean => text.join(' ').includes(page.expectText);
  const same = (x: PdfSummary, y: PdfSummary): boolean =>
    x.text.length === y.text.length && x.text.every((t, i) => t === y.text[i]);
  const result: Completeness = {
    appliance: { pages: a.pages, hasText: has(a.text) },
    baseline: { pages: b.pages, hasText: has(b.text) },
    expectText: page.expectText,
    sameText: same(a, b),
    floors: {},
  };
  // The other floors print the same document: checked against the naive one's text.
  for (const floor of ['kept-tab', 'fresh-context'] as const) {
    const f = await onFloor(floor);
    result.floors![floor] = { pages: f.pages, hasText: has(f.text), sameText: same(f, b) };
  }
  if (page.expectPages !== undefined) result.expectPages = page.expectPages;
  const ok = result.appliance.hasText && (page.expectPages === undefined || a.pages === page.expectPages);
  const floorsOk = Object.values(result.floors!).every((f) => f.hasText && f.sameText);
  progress(
    `complete? ${page.name}: appliance ${a.pages} page(s) ${ok ? 'ok' : 'INCOMPLETE'}, baseline ${b.pages} page(s) ${result.baseline.hasText ? 'ok' : 'INCOMPLETE'}, text ${result.sameText ? 'identical' : 'differs'}; kept-tab and fresh-context floors ${floorsOk ? 'ok, same text' : 'INCOMPLETE or different'}`,
  );
  return result;
}

const jobTimeout = (job: LoopJob, opts: BenchOptions): number =>
  (job.durationMs ?? 0) + ((job.count ?? 0) + job.warmup) * 35_000 + opts.durationMs + 60_000;

function viaHttp(sys: Systems, url: string, job: LoopJob, opts: BenchOptions): Promise<LoopResult> {
  return call<LoopResult>(sys.load, { kind: 'loop', url, ...job }, jobTimeout(job, opts));
}

function inBaseline(sys: Systems, page: BenchPage, job: LoopJob, opts: BenchOptions): Promise<LoopResult> {
  return call<LoopResult>(sys.baseline, { kind: 'loop', page: page.name, ...job }, jobTimeout(job, opts));
}

/** Runs the steps in order, or reversed: the side that goes first alternates between measurements. */
async function inOrder(applianceFirst: boolean, steps: [() => Promise<void>, () => Promise<void>]): Promise<void> {
  const [a, b] = steps;
  if (applianceFirst) {
    await a();
    await b();
  } else {
    await b();
    await a();
  }
}

export async function measureLatency(
  sys: Systems,
  page: BenchPage,
  opts: BenchOptions,
  applianceFirst: boolean,
): Promise<Latency> {
  // One signed-in user, as a PDF link is clicked.
  const job: LoopJob = { concurrency: 1, warmup: opts.warmup, count: opts.samples, identities: 1 };
  let app!: LoopResult;
  let base!: LoopResult;
  await inOrder(applianceFirst, [
    async () => void (app = await viaHttp(sys, appliancePdfUrl(sys.applianceUrl, page), job, opts)),
    async () => void (base = await inBaseline(sys, page, job, opts)),
  ]);
  const out: Latency = {
    appliance: summarize(app.samples),
    baseline: summarize(base.samples),
    baselineToPdf: summarize(base.altSamples),
    failures: nonEmpty({ appliance: app.failures, baseline: base.failures }),
  };
  // The HTTP view of the baseline, for the page the latency target is about.
  if (page.name === 'invoice') {
    const http = await viaHttp(
      sys,
      `${sys.baselineInfo.renderUrl}?path=${encodeURIComponent(page.path + page.query)}`,
      job,
      opts,
    );
    out.baselineHttp = summarize(http.samples);
    if (Object.keys(http.failures).length) out.failures.baselineHttp = http.failures;
  }
  progress(
    `latency ${page.name}: appliance p50 ${out.appliance.p50} p95 ${out.appliance.p95} ms; baseline p50 ${out.baseline.p50} p95 ${out.baseline.p95} ms`,
  );
  return out;
}

export async function measureThroughput(
  sys: Systems,
  page: BenchPage,
  concurrency: number,
  opts: BenchOptions,
  applianceFirst: boolean,
  extra: { http: boolean; memory?: Memory; identities?: number },
): Promise<Throughput> {
  // Warm-up: one render per loop, so every user's first render (its own workspace) is not in the window.
  const warmup = extra.identities ? Math.max(concurrency, extra.identities) : 1;
  const job: LoopJob = {
    concurrency,
    warmup,
    durationMs: opts.durationMs,
    ...(extra.identities ? { identities: extra.identities } : {}),
  };
  const mem = extra.memory;
  let app!: LoopResult;
  let base!: LoopResult;
  await inOrder(applianceFirst, [
    async () => {
      const sampler = mem ? samplePeak(sys.appliance.pid) : null;
      app = await viaHttp(sys, appliancePdfUrl(sys.applianceUrl, page), job, opts);
      if (sampler && mem) {
        const s = await sampler.stop();
        mem.applianceMB = s.peakBytes / MB;
        mem.samples.appliance = s.samples;
      }
    },
    async () => {
      const sampler = mem ? samplePeak(sys.baselineInfo.pid) : null;
      base = await inBaseline(sys, page, job, opts);
      if (sampler && mem) {
        const s = await sampler.stop();
        mem.baselineMB = s.peakBytes / MB;
        mem.samples.baseline = s.samples;
      }
    },
  ]);
  const tp = (r: LoopResult) => ({ perSecond: round(r.perSecond, 2), ok: r.ok, windowMs: Math.round(r.windowMs) });
  const out: Throughput = {
    concurrency,
    page: page.name,
    identities: extra.identities ?? 0,
    appliance: tp(app),
    baseline: tp(base),
    failures: nonEmpty({ appliance: app.failures, baseline: base.failures }),
  };
  if (extra.http) {
    const http = await viaHttp(
      sys,
      `${sys.baselineInfo.renderUrl}?path=${encodeURIComponent(page.path + page.query)}`,
      job,
      opts,
    );
    out.baselineHttp = tp(http);
    if (Object.keys(http.failures).length) out.failures.baselineHttp = http.failures;
  }
  progress(
    `throughput ${page.name} c=${concurrency}${extra.identities ? ` (${extra.identities} user${extra.identities > 1 ? 's' : ''})` : ''}: appliance ${out.appliance.perSecond}/s, baseline ${out.baseline.perSecond}/s${mem ? `; peak PSS appliance ${Math.round(mem.applianceMB)} MB, baseline ${Math.round(mem.baselineMB)} MB` : ''}`,
  );
  return out;
}

/**
 * Peak PSS of a second appliance running the shipped defaults (CONCURRENCY, QUEUE_SIZE, ...)
 * while `clients` users each keep one report render going, with the baseline under the same
 * load beside it.
 */
export async function measureDefaultsMemory(
  sys: Systems,
  page: BenchPage,
  clients: number,
  opts: BenchOptions,
  defaults: { url: string; pid: number },
): Promise<DefaultsMemory> {
  const job: LoopJob = { concurrency: clients, warmup: clients, durationMs: opts.durationMs, identities: clients };
  const appSampler = samplePeak(defaults.pid);
  const app = await viaHttp(sys, appliancePdfUrl(defaults.url, page), job, opts);
  const appPeak = await appSampler.stop();
  const baseSampler = samplePeak(sys.baselineInfo.pid);
  const base = await inBaseline(sys, page, { concurrency: clients, warmup: 1, durationMs: opts.durationMs }, opts);
  const basePeak = await baseSampler.stop();
  const out: DefaultsMemory = {
    clients,
    users: app.users ?? 0,
    page: page.name,
    applianceMB: round(appPeak.peakBytes / MB),
    baselineMB: round(basePeak.peakBytes / MB),
    appliancePerSecond: round(app.perSecond, 2),
    failures: nonEmpty({ appliance: app.failures, baseline: base.failures }),
  };
  progress(
    `memory with shipped defaults, ${out.users} distinct users at c=${clients} on ${page.name}: appliance peak PSS ${Math.round(out.applianceMB)} MB, baseline ${Math.round(out.baselineMB)} MB`,
  );
  return out;
}

function nonEmpty(m: Record<string, Record<string, number>>): Record<string, Record<string, number>> {
  return Object.fromEntries(Object.entries(m).filter(([, v]) => Object.keys(v).length > 0));
}
