/**
 * The clicks one browser context per identity has to be fast for, each measured on the
 * appliance and on the floors (floors.ts) in one run, with the same request pattern:
 *
 *  (a) the same user clicking again: one signed-in user, one request at a time, `gapMs`
 *      between an answer and the next click; p50 against the kept-tab floor;
 *  (b) a new user on each click, same spacing: a cookie never seen before on every request,
 *      so whatever the appliance prepares ahead has time to be ready; p50 against the naive
 *      floor;
 *  (c) 8 users round robin at c=4: throughput against the naive floor.
 *
 * The floors cannot tell users apart, so (a) and (b) are one pattern for them: they are
 * measured once, between the appliance's (a) and (b) runs (the order flips with `applianceFirst`).
 */
import type { FloorName } from './floors.js';
import { FLOOR_NAMES } from './floors.js';
import type { LoopJob, LoopResult } from './loops.js';
import type { BenchOptions } from './options.js';
import { appliancePdfUrl, type BenchPage } from './pages.js';
import { progress } from './paths.js';
import { call } from './rpc.js';
import { round, summarize, type Summary } from './stats.js';
import type { Systems } from './systems.js';

/** PDFs per second over a window, and how many. */
export interface Rate {
  perSecond: number;
  ok: number;
  windowMs: number;
  /** Distinct users the requests came from (0 on the floors: they ignore identity). */
  users: number;
}

export interface SpacedSide {
  /** Appliance: request → last byte. Floor: everything it does for one render (close or dispose included). */
  latency: Summary;
  /** Floor only: up to the PDF bytes in hand, before its close or dispose. */
  toPdf?: Summary;
  users: number;
}

export interface Scenarios {
  page: string;
  gapMs: number;
  /** Scenario users also sent an Authorization header. */
  authorization: boolean;
  sameUser: SpacedSide;
  newUser: SpacedSide;
  /** The floors under the spaced pattern, for (a) and (b) both. */
  spacedFloors: Record<FloorName, SpacedSide>;
  roundRobin: { concurrency: number; identities: number; appliance: Rate; floors: Record<FloorName, Rate> };
  failures: Record<string, Record<string, number>>;
}

export const ROUND_ROBIN = { concurrency: 4, identities: 8 } as const;

const jobTimeout = (job: LoopJob): number =>
  (job.durationMs ?? 0) + ((job.count ?? 0) + job.warmup) * (35_000 + (job.gapMs ?? 0)) + 60_000;

function appliance(sys: Systems, page: BenchPage, job: LoopJob, opts: BenchOptions): Promise<LoopResult> {
  const url = appliancePdfUrl(sys.applianceUrl, page);
  return call<LoopResult>(sys.load, { kind: 'loop', url, authorization: opts.authorization, ...job }, jobTimeout(job));
}

function onFloor(sys: Systems, name: FloorName, page: BenchPage, job: LoopJob): Promise<LoopResult> {
  // The floors ignore identity: the same pattern without the cookies.
  const { identities: _i, newUserEach: _n, ...pattern } = job;
  return call<LoopResult>(sys.baseline, { kind: 'loop', floor: name, page: page.name, ...pattern }, jobTimeout(job));
}

export async function measureScenarios(sys: Systems, page: BenchPage, opts: BenchOptions, applianceFirst: boolean): Promise<Scenarios> {
  const failures: Scenarios['failures'] = {};
  const keep = (who: string, r: LoopResult): LoopResult => {
    if (Object.keys(r.failures).length) failures[who] = r.failures;
    return r;
  };
  const spaced: LoopJob = { concurrency: 1, warmup: opts.warmup, count: opts.spacedSamples, gapMs: opts.gapMs };
  const side = (r: LoopResult): SpacedSide => ({ latency: summarize(r.samples), ...(r.altSamples.length ? { toPdf: summarize(r.altSamples) } : {}), users: r.users ?? 0 });

  const runA = async (): Promise<SpacedSide> => side(keep('(a) appliance', await appliance(sys, page, { ...spaced, identities: 1 }, opts)));
  const runB = async (): Promise<SpacedSide> => side(keep('(b) appliance', await appliance(sys, page, { ...spaced, newUserEach: true }, opts)));
  const first = applianceFirst ? runA : runB;
  const second = applianceFirst ? runB : runA;
  const one = await first();
  const spacedFloors = {} as Record<FloorName, SpacedSide>;
  for (const name of FLOOR_NAMES) spacedFloors[name] = side(keep(`(a)/(b) ${name} floor`, await onFloor(sys, name, page, spaced)));
  const two = await second();
  const [sameUser, newUser] = applianceFirst ? [one, two] : [two, one];
  progress(`scenarios (a)/(b), ${opts.gapMs} ms apart: same user p50 ${sameUser.latency.p50} ms, new user p50 ${newUser.latency.p50} ms; floors p50 ${FLOOR_NAMES.map((n) => `${n} ${spacedFloors[n].latency.p50}`).join(', ')} ms`);

  // (c) Warm-up: every user once and every loop once, so no first render is in the window.
  const rr: LoopJob = { ...ROUND_ROBIN, warmup: ROUND_ROBIN.identities, durationMs: opts.durationMs };
  const rate = (r: LoopResult): Rate => ({ perSecond: round(r.perSecond, 2), ok: r.ok, windowMs: Math.round(r.windowMs), users: r.users ?? 0 });
  let app!: Rate;
  const floors = {} as Record<FloorName, Rate>;
  const runApp = async (): Promise<void> => void (app = rate(keep('(c) appliance', await appliance(sys, page, rr, opts))));
  const runFloors = async (): Promise<void> => {
    for (const name of FLOOR_NAMES) floors[name] = rate(keep(`(c) ${name} floor`, await onFloor(sys, name, page, rr)));
  };
  if (applianceFirst) {
    await runApp();
    await runFloors();
  } else {
    await runFloors();
    await runApp();
  }
  progress(`scenario (c), ${ROUND_ROBIN.identities} users round robin at c=${ROUND_ROBIN.concurrency}: appliance ${app.perSecond}/s (${app.users} users); floors ${FLOOR_NAMES.map((n) => `${n} ${floors[n].perSecond}/s`).join(', ')}`);

  return {
    page: page.name,
    gapMs: opts.gapMs,
    authorization: opts.authorization,
    sameUser,
    newUser,
    spacedFloors,
    roundRobin: { ...ROUND_ROBIN, appliance: app, floors },
    failures,
  };
}
