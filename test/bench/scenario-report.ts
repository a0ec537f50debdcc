import { FLOOR_NAMES, type FloorName } from './floors.js';
import type { Results, Target } from './results.js';

/** The clicks' targets, in one place: which floor each is held against, and how close. */
export const SCENARIO_GOALS = {
  sameUser: { floor: 'kept-tab', atMost: 1.0 },
  newUser: { floor: 'naive', atMost: 1.0 },
  roundRobin: { floor: 'naive', atLeast: 0.75 },
  /** The appliance's (c) throughput ÷ the peer's, same pattern. */
  peerLead: 2.5,
} as const;

type Measured = Omit<Results, 'ratios' | 'targets'>;

const r2 = (v: number): number => Math.round(v * 100) / 100;
const x = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : `${v.toFixed(2)}×`);
const key: Record<FloorName, string> = { naive: 'Naive', 'kept-tab': 'KeptTab', 'fresh-context': 'FreshContext' };

/** appliance ÷ each floor for (a), (b) (p50, lower is better) and (c) (PDFs/s, higher is better); appliance ÷ peer. */
export function scenarioRatios(res: Measured): Record<string, number> {
  const s = res.scenarios;
  const out: Record<string, number> = {};
  for (const f of FLOOR_NAMES) {
    const floor = s.spacedFloors[f];
    out[`scenario.a.vs${key[f]}`] = r2(s.sameUser.latency.p50 / floor.latency.p50);
    out[`scenario.b.vs${key[f]}`] = r2(s.newUser.latency.p50 / floor.latency.p50);
    if (floor.toPdf) out[`scenario.b.vs${key[f]}ToPdf`] = r2(s.newUser.latency.p50 / floor.toPdf.p50);
    out[`scenario.c.vs${key[f]}`] = r2(s.roundRobin.appliance.perSecond / s.roundRobin.floors[f].perSecond);
  }
  if (!('skipped' in res.peer))
    out['peer.c.applianceOverPeer'] = r2(s.roundRobin.appliance.perSecond / res.peer.perSecond);
  return out;
}

export function scenarioTargets(res: Omit<Results, 'targets'>): Target[] {
  const s = res.scenarios;
  const g = SCENARIO_GOALS;
  const a = res.ratios[`scenario.a.vs${key[g.sameUser.floor]}`];
  const b = res.ratios[`scenario.b.vs${key[g.newUser.floor]}`];
  const c = res.ratios[`scenario.c.vs${key[g.roundRobin.floor]}`];
  const out: Target[] = [
    {
      name: `(a) Same user clicking again, p50 (${s.gapMs} ms between clicks)`,
      goal: `≤ ${g.sameUser.atMost.toFixed(2)}× ${g.sameUser.floor} floor`,
      value: x(a),
      pass: a !== undefined && a <= g.sameUser.atMost,
    },
    {
      name: `(b) A new user on each click, p50 (${s.gapMs} ms between clicks)`,
      goal: `≤ ${g.newUser.atMost.toFixed(2)}× ${g.newUser.floor} floor`,
      value: x(b),
      pass: b !== undefined && b <= g.newUser.atMost,
    },
    {
      name: `(c) Throughput, ${s.roundRobin.identities} users round robin, c=${s.roundRobin.concurrency}`,
      goal: `≥ ${g.roundRobin.atLeast.toFixed(2)}× ${g.roundRobin.floor} floor`,
      value: x(c),
      pass: c !== undefined && c >= g.roundRobin.atLeast,
    },
  ];
  const lead = res.ratios['peer.c.applianceOverPeer'];
  if (lead !== undefined)
    out.push({
      name: '(c) against the peer (Browserless v2 /pdf, same pattern)',
      goal: `≥ ${g.peerLead.toFixed(2)}× its PDFs/s`,
      value: x(lead),
      pass: lead >= g.peerLead,
    });
  return out;
}

export function scenarioSection(res: Results): string[] {
  const s = res.scenarios;
  const ms = (v: number | undefined): string => (v === undefined ? '' : `${Math.round(v)}`);
  const fl = s.spacedFloors;
  const rr = s.roundRobin;
  const goal = (t: Target | undefined): string =>
    t ? `${t.goal} | ${t.value} | ${t.pass ? 'PASS' : 'MISS'}` : ' | | ';
  const [ta, tb, tc, tp] = scenarioTargets(res);
  const who = s.authorization
    ? '`Cookie: session=<name>` and `Authorization: Bearer <NAME>-TOKEN`'
    : '`Cookie: session=<name>`';
  const L: string[] = [];
  L.push(`### The clicks: appliance against the floors (${s.page}, same run, same request pattern)`);
  L.push('');
  L.push('| scenario | appliance | naive floor | kept-tab floor | fresh-context floor | target | ratio | |');
  L.push('| --- | ---: | ---: | ---: | ---: | --- | ---: | --- |');
  L.push(
    `| (a) same user clicking again, c=1: p50 ms | ${ms(s.sameUser.latency.p50)} | ${ms(fl.naive.latency.p50)} | ${ms(fl['kept-tab'].latency.p50)} | ${ms(fl['fresh-context'].latency.p50)} | ${goal(ta)} |`,
  );
  L.push(
    `| (b) a new user on each click, c=1: p50 ms | ${ms(s.newUser.latency.p50)} | ${ms(fl.naive.latency.p50)} | ${ms(fl['kept-tab'].latency.p50)} | ${ms(fl['fresh-context'].latency.p50)} | ${goal(tb)} |`,
  );
  L.push(
    `| (a) / (b) p95 ms | ${ms(s.sameUser.latency.p95)} / ${ms(s.newUser.latency.p95)} | ${ms(fl.naive.latency.p95)} | ${ms(fl['kept-tab'].latency.p95)} | ${ms(fl['fresh-context'].latency.p95)} | | | |`,
  );
  L.push(
    `| (c) ${rr.identities} users round robin, c=${rr.concurrency}: PDFs/s | ${rr.appliance.perSecond.toFixed(2)} | ${rr.floors.naive.perSecond.toFixed(2)} | ${rr.floors['kept-tab'].perSecond.toFixed(2)} | ${rr.floors['fresh-context'].perSecond.toFixed(2)} | ${goal(tc)} |`,
  );
  if ('skipped' in res.peer) {
    L.push(`| peer (Browserless v2), same pattern as (c) | left out: ${res.peer.skipped} | | | | | | |`);
  } else {
    const p = res.peer;
    L.push(
      `| (c) against the peer, ${p.name} ${p.version} \`/pdf\` at ${p.perSecond.toFixed(2)} PDFs/s | ${rr.appliance.perSecond.toFixed(2)} | | | | ${goal(tp)} |`,
    );
  }
  L.push('');
  const ratio = (k: string): string => x(res.ratios[k]);
  L.push(
    `- Every ratio, appliance ÷ floor: (a) ${FLOOR_NAMES.map((f) => `${f} ${ratio(`scenario.a.vs${key[f]}`)}`).join(', ')}; ` +
      `(b) ${FLOOR_NAMES.map((f) => `${f} ${ratio(`scenario.b.vs${key[f]}`)}`).join(', ')}; ` +
      `(c) ${FLOOR_NAMES.map((f) => `${f} ${ratio(`scenario.c.vs${key[f]}`)}`).join(', ')}.`,
  );
  L.push(
    `- Floors up to the PDF bytes in hand (before their close or dispose), p50: naive ${ms(fl.naive.toPdf?.p50)} ms, fresh-context ${ms(fl['fresh-context'].toPdf?.p50)} ms → (b) ${ratio('scenario.b.vsNaiveToPdf')} / ${ratio('scenario.b.vsFreshContextToPdf')}.`,
  );
  L.push(
    `- Users sent: (a) ${s.sameUser.users}, (b) ${s.newUser.users} (each request a new one, warm-ups included), (c) ${rr.appliance.users}; identity by ${who}. ` +
      `${s.sameUser.latency.n} / ${s.newUser.latency.n} measured clicks for (a) / (b), each ${s.gapMs} ms after the previous answer; (c) over ${Math.round(rr.appliance.windowMs / 1000)} s windows.`,
  );
  if (!('skipped' in res.peer)) {
    const p = res.peer;
    L.push(
      `- Peer: ${p.name} ${p.version} from npm, CONCURRENT=${p.concurrency}, a browser per request (\`${p.chrome}\`), cookie in its request body; ${p.ok} PDFs from ${p.users} users in ${Math.round(p.windowMs / 1000)} s, peak PSS of its tree ${Math.round(p.peakMB)} MB; ` +
        `its PDF (pdfjs): ${p.complete.pages} page(s)${p.complete.hasText ? '' : ' INCOMPLETE'}, text ${p.complete.sameText ? "identical to the naive floor's" : "DIFFERS from the naive floor's"}` +
        `${
          Object.keys(p.failures).length
            ? `; failed: ${Object.entries(p.failures)
                .map(([m, n]) => `${n}× ${m}`)
                .join('; ')}`
            : ''
        }.`,
    );
  }
  L.push('');
  return L;
}
