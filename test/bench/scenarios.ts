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
 * measured once for both. The spaced runs are done in two halves in mirrored order
 * ((a), floors, (b), then (b), floors reversed, (a)), their samples pooled, so a machine that
 * gets busier or quieter during the minutes they take weighs on every side alike.
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

export async function measureScenarios(
  sys: Systems,
  page: BenchPage,
  opts: BenchOptions,
  applianceFirst: boolean,
): Promise<Scenarios> {
  const failures: Scenarios['failures'] = {};
  const keep = (who: string, r: LoopResult): LoopResult => {
    for (const [msg, n] of Object.entries(r.failures)) (failures[who] ??= {})[msg] = (failures[who]?.[msg] ?? 0) + n;
    return r;
  };
  const half = Math.ceil(opts.spacedSamples / 2);
  // Later halves need one warm-up only: whatever a side keeps (a tab, a context, code paths) was made in the first.
  const spaced = (round: number): LoopJob => ({
    concurrency: 1,
    warmup: round === 0 ? opts.warmup : 1,
    count: half,
    gapMs: opts.gapMs,
  });
  const runs: Record<string, LoopResult[]> = {};
  const sides: Array<[string, (round: number) => Promise<LoopResult>]> = [
    ['(a) appliance', (round) => appliance(sys, page, { ...spaced(round), identities: 1 }, opts)],
    ...FLOOR_NAMES.map((name): [string, (round: number) => Promise<LoopResult>] => [
      `(a)/(b) ${name} floor`,
      (round) => onFloor(sys, name, page, spaced(round)),
    ]),
    ['(b) appliance', (round) => appliance(sys, page, { ...spaced(round), newUserEach: true }, opts)],
  ];
  const first = applianceFirst ? sides : [...sides].reverse();
  for (const [round, order] of [first, [...first].reverse()].entries()) {
    for (const [who, run] of order) (runs[who] ??= []).push(keep(who, await run(round)));
  }
  const pooled = (who: string, users: (rs: LoopResult[]) => number): SpacedSide => {
    const rs = runs[who]!;
    const alt = rs.flatMap((r) => r.altSamples);
    return {
      latency: summarize(rs.flatMap((r) => r.samples)),
      ...(alt.length ? { toPdf: summarize(alt) } : {}),
      users: users(rs),
    };
  };
  // (a) is one user in both halves; (b)'s users are never reused, so the halves add up.
  const sameUser = pooled('(a) appliance', (rs) => Math.max(...rs.map((r) => r.users ?? 0)));
  const newUser = pooled('(b) appliance', (rs) => rs.reduce((n, r) => n + (r.users ?? 0), 0));
  const spacedFloors = Object.fromEntries(
    FLOOR_NAMES.map((name) => [name, pooled(`(a)/(b) ${name} floor`, () => 0)]),
  ) as Record<FloorName, SpacedSide>;
  progress(
    `scenarios (a)/(b), ${opts.gapMs} ms apart: same user p50 ${sameUser.latency.p50} ms, new user p50 ${newUser.latency.p50} ms; floors p50 ${FLOOR_NAMES.map((n) => `${n} ${spacedFloors[n].latency.p50}`).join(', ')} ms`,
  );

  // (c) Warm-up: every user once and every loop once, so no first render is in the window.
  const rr: LoopJob = { ...ROUND_ROBIN, warmup: ROUND_ROBIN.identities, durationMs: opts.durationMs };
  const rate = (r: LoopResult): Rate => ({
    perSecond: round(r.perSecond, 2),
    ok: r.ok,
    windowMs: Math.round(r.windowMs),
    users: r.users ?? 0,
  });
  let app!: Rate;
  const floors = {} as Record<FloorName, Rate>;
  const runApp = async (): Promise<void> =>
    void (app = rate(keep('(c) appliance', await appliance(sys, page, rr, opts))));
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
  progress(
    `scenario (c), ${ROUND_ROBIN.identities} users round robin at c=${ROUND_ROBIN.concurrency}: appliance ${app.perSecond}/s (${app.users} users); floors ${FLOOR_NAMES.map((n) => `${n} ${floors[n].perSecond}/s`).join(', ')}`,
  );

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
