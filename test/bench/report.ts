import { burstMarkdown } from './burst.js';
import type { Results, Target } from './results.js';
import { scenarioRatios, scenarioSection, scenarioTargets } from './scenario-report.js';

/** The issue's data-fetch delay on /t/js plus its allowance for the wait. */
const JS_DELAY_MS = 150;
const JS_ALLOWANCE_MS = 100;

const r2 = (v: number): number => Math.round(v * 100) / 100;

/** appliance ÷ baseline for everything comparable. Latency: lower is better; throughput: higher. */
export function ratios(res: Omit<Results, 'ratios' | 'targets'>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [page, l] of Object.entries(res.latency)) {
    out[`latency.${page}.p50`] = r2(l.appliance.p50 / l.baseline.p50);
    out[`latency.${page}.p95`] = r2(l.appliance.p95 / l.baseline.p95);
    out[`latency.${page}.p50.vsBaselineToPdf`] = r2(l.appliance.p50 / l.baselineToPdf.p50);
    if (l.baselineHttp) {
      out[`latency.${page}.p50.vsBaselineHttp`] = r2(l.appliance.p50 / l.baselineHttp.p50);
      out[`latency.${page}.p95.vsBaselineHttp`] = r2(l.appliance.p95 / l.baselineHttp.p95);
    }
  }
  for (const [run, t] of Object.entries(res.throughput)) {
    out[`throughput.${run}`] = r2(t.appliance.perSecond / t.baseline.perSecond);
    if (t.baselineHttp) out[`throughput.${run}.vsBaselineHttp`] = r2(t.appliance.perSecond / t.baselineHttp.perSecond);
  }
  out['memory.report-c4.peak'] = r2(res.memory.applianceMB / res.memory.baselineMB);
  out['cold.npmStart'] = r2(res.cold.npmStart.medianMs / res.cold.bare.medianMs);
  out['cold.nodeDirect'] = r2(res.cold.nodeDirect.medianMs / res.cold.bare.medianMs);
  if (res.resume && res.latency.invoice)
    out['resume.vsWarmInvoice'] = r2(res.resume.medianMs / res.latency.invoice.appliance.p50);
  return { ...out, ...scenarioRatios(res) };
}

/** The issue's targets, PASS/MISS. Reported, never asserted. */
export function targets(res: Omit<Results, 'targets'>): Target[] {
  const x = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : `${v.toFixed(2)}×`);
  const out: Target[] = [];
  const inv = res.ratios['latency.invoice.p50'];
  out.push({
    name: 'Invoice p50 latency, c=1',
    goal: '≤ 1.15× baseline',
    value: x(inv),
    pass: inv !== undefined && inv <= 1.15,
  });
  for (const run of ['invoice-c4', 'report-c4']) {
    const t = res.ratios[`throughput.${run}`];
    if (t === undefined) continue;
    out.push({
      name: `Throughput, ${run.replace('-c', ', c=')}, one user`,
      goal: '≥ 0.9× baseline',
      value: x(t),
      pass: t >= 0.9,
    });
  }
  out.push(...scenarioTargets(res));
  const dm = res.defaultsMemory;
  if (dm)
    out.push({
      name: `Peak PSS, shipped defaults, ${dm.users ?? dm.clients} users at once on the ${dm.page}`,
      goal: '≤ 600 MB',
      value: `${Math.round(dm.applianceMB)} MB`,
      pass: dm.applianceMB <= 600,
    });
  const js = res.latency.js;
  const invoice = res.latency.invoice;
  if (js && invoice) {
    const over = js.appliance.p50 - invoice.appliance.p50;
    const complete = res.completeness.js?.appliance.hasText ?? false;
    out.push({
      name: 'JS page complete, no fixed wait',
      goal: `"Data loaded" printed; p50 ≤ invoice p50 + ${JS_DELAY_MS} + ${JS_ALLOWANCE_MS} ms`,
      value: `${complete ? 'complete' : 'INCOMPLETE'}; p50 ${Math.round(js.appliance.p50)} ms = invoice ${over < 0 ? '−' : '+'} ${Math.abs(Math.round(over))} ms`,
      pass: complete && over <= JS_DELAY_MS + JS_ALLOWANCE_MS,
    });
  }
  const cold = res.ratios['cold.npmStart'];
  out.push({
    name: 'Cold start (`npm start` → first PDF)',
    goal: '≤ 1.3× bare launch-and-print',
    value: x(cold),
    pass: cold !== undefined && cold <= 1.3,
  });
  // What the image runs, and what a Machine started by a burst pays on the user's clock.
  const node = res.ratios['cold.nodeDirect'];
  out.push({
    name: 'Cold start (`node dist/src/main.js` → first PDF)',
    goal: '≤ 1.2× bare launch-and-print',
    value: x(node),
    pass: node !== undefined && node <= 1.2,
  });
  const resume = res.ratios['resume.vsWarmInvoice'];
  if (resume !== undefined)
    out.push({
      name: 'Resume → first PDF (IDLE_ACTION=suspend)',
      goal: '≤ 1.0× warm invoice p50',
      value: x(resume),
      pass: resume <= 1.0,
    });
  return out;
}

export function markdown(res: Results): string {
  const ms = (v: number): string => `${Math.round(v)}`;
  const x = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : `${v.toFixed(2)}×`);
  const m = res.meta;
  const L: string[] = [];
  L.push(
    `## Benchmark: appliance vs raw Chromium floors${m.quick ? ' (BENCH_QUICK smoke run — too few samples to trust)' : ''}`,
  );
  L.push('');
  L.push(
    `${m.date} · ${m.cpus} CPUs · load average ${m.loadavgStart} at start, ${m.loadavgEnd} at end · Node ${m.node} · ${m.chromium} · ${Math.round(m.seconds)} s`,
  );
  const knobs = Object.entries(m.applianceEnv)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  L.push(
    `Appliance: CONCURRENCY=${m.settings.applianceConcurrency}${knobs ? `, BENCH_APPLIANCE_ENV='${knobs}'` : ', defaults otherwise'}. ` +
      `${m.settings.samples} samples per page after ${m.settings.warmup} warm-ups; throughput windows ${m.settings.throughputSeconds} s; ` +
      `cold starts: median of ${m.settings.coldReps} (\`node dist/src/main.js\`: ${m.settings.directReps}).`,
  );
  L.push('');

  L.push(...scenarioSection(res));

  L.push('### Latency, concurrency 1, back to back (ms)');
  L.push('');
  L.push('| page | appliance p50 | appliance p95 | baseline p50 | baseline p95 | p50 ratio | p95 ratio |');
  L.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  const label: Record<string, string> = {
    invoice: 'invoice (CSS + image)',
    report: 'report (30 pages)',
    js: 'JS page (data after 150 ms)',
  };
  for (const [page, l] of Object.entries(res.latency)) {
    L.push(
      `| ${label[page] ?? page} | ${ms(l.appliance.p50)} | ${ms(l.appliance.p95)} | ${ms(l.baseline.p50)} | ${ms(l.baseline.p95)} | ${x(res.ratios[`latency.${page}.p50`])} | ${x(res.ratios[`latency.${page}.p95`])} |`,
    );
  }
  L.push('');

  L.push('### Throughput (PDFs/s)');
  L.push('');
  L.push('| run | appliance | baseline | ratio |');
  L.push('| --- | ---: | ---: | ---: |');
  const users = (n: number): string => (n === 0 ? 'anonymous' : n === 1 ? 'one user' : `${n} users round robin`);
  for (const [run, t] of Object.entries(res.throughput)) {
    L.push(
      `| ${t.page}, c=${t.concurrency}, ${users(t.identities ?? 0)} | ${t.appliance.perSecond.toFixed(2)} | ${t.baseline.perSecond.toFixed(2)} | ${x(res.ratios[`throughput.${run}`])} |`,
    );
  }
  L.push('');

  const mem = res.memory;
  L.push('### Memory: PSS of node + all Chromium processes (MB)');
  L.push('');
  L.push('| | appliance | baseline | ratio |');
  L.push('| --- | ---: | ---: | ---: |');
  L.push(
    `| peak, report at c=4 | ${Math.round(mem.applianceMB)} | ${Math.round(mem.baselineMB)} | ${x(res.ratios['memory.report-c4.peak'])} |`,
  );
  L.push(
    `| idle, before the runs | ${Math.round(mem.applianceIdleMB)} | ${Math.round(mem.baselineIdleMB)} | ${x(mem.applianceIdleMB / mem.baselineIdleMB)} |`,
  );
  if (res.defaultsMemory) {
    const dm = res.defaultsMemory;
    L.push(
      `| peak, shipped defaults, ${dm.clients} users on the ${dm.page} (${dm.appliancePerSecond.toFixed(2)} PDFs/s) | ${Math.round(dm.applianceMB)} | ${Math.round(dm.baselineMB)} | ${x(dm.applianceMB / dm.baselineMB)} |`,
    );
  }
  L.push('');

  const c = res.cold;
  L.push('### Cold start: spawn → first invoice PDF delivered (median ms)');
  L.push('');
  L.push('| process | median | runs | ratio to bare |');
  L.push('| --- | ---: | --- | ---: |');
  const runs = (rs: Array<{ ms: number; rebuilt?: boolean }>): string =>
    rs.map((r) => `${Math.round(r.ms)}${r.rebuilt ? ' (rebuilt!)' : ''}`).join(', ');
  L.push(
    `| \`npm start\` | ${ms(c.npmStart.medianMs)} | ${runs(c.npmStart.runs)} | ${x(res.ratios['cold.npmStart'])} |`,
  );
  L.push(
    `| \`node dist/src/main.js\` | ${ms(c.nodeDirect.medianMs)} | ${runs(c.nodeDirect.runs)} | ${x(res.ratios['cold.nodeDirect'])} |`,
  );
  L.push(`| bare launch-and-print | ${ms(c.bare.medianMs)} | ${runs(c.bare.runs)} | 1.00× |`);
  L.push('');
  if (res.resume) {
    L.push('### Resume after an idle suspend: process tree continued → first invoice PDF delivered (median ms)');
    L.push('');
    L.push('| | median | runs | ratio to warm invoice p50 |');
    L.push('| --- | ---: | --- | ---: |');
    L.push(
      `| resume → PDF | ${ms(res.resume.medianMs)} | ${res.resume.runs.map((r) => Math.round(r)).join(', ')} | ${x(res.ratios['resume.vsWarmInvoice'])} |`,
    );
    L.push(`| warm invoice p50 (latency run) | ${ms(res.latency.invoice?.appliance.p50 ?? NaN)} | | 1.00× |`);
    L.push('');
  }

  if (res.burst) L.push(...burstMarkdown(res.burst));

  L.push('### Targets');
  L.push('');
  L.push('| target | goal | measured | |');
  L.push('| --- | --- | --- | --- |');
  for (const t of res.targets) L.push(`| ${t.name} | ${t.goal} | ${t.value} | ${t.pass ? 'PASS' : 'MISS'} |`);
  L.push('');

  L.push('### Other views');
  L.push('');
  for (const [page, l] of Object.entries(res.latency)) {
    L.push(
      `- ${page}: baseline to PDF bytes (before its close) p50 ${ms(l.baselineToPdf.p50)} ms → appliance ${x(res.ratios[`latency.${page}.p50.vsBaselineToPdf`])}.`,
    );
    if (l.baselineHttp) {
      L.push(
        `- ${page}: baseline behind HTTP (same load generator) p50 ${ms(l.baselineHttp.p50)} / p95 ${ms(l.baselineHttp.p95)} ms → appliance ${x(res.ratios[`latency.${page}.p50.vsBaselineHttp`])} / ${x(res.ratios[`latency.${page}.p95.vsBaselineHttp`])}.`,
      );
    }
  }
  for (const [run, t] of Object.entries(res.throughput)) {
    if (t.baselineHttp)
      L.push(
        `- ${run}: baseline behind HTTP ${t.baselineHttp.perSecond.toFixed(2)} PDFs/s → appliance ${x(res.ratios[`throughput.${run}.vsBaselineHttp`])}.`,
      );
  }
  for (const [page, k] of Object.entries(res.completeness)) {
    const floors = Object.entries(k.floors ?? {}).map(
      ([f, v]) => `${f} ${v.pages}${v.hasText ? '' : ' INCOMPLETE'}${v.sameText ? '' : ' (text DIFFERS)'}`,
    );
    L.push(
      `- ${page} PDF: appliance ${k.appliance.pages} page(s)${k.appliance.hasText ? '' : `, MISSING "${k.expectText}"`}, baseline ${k.baseline.pages}${k.baseline.hasText ? '' : `, MISSING "${k.expectText}"`}; text ${k.sameText ? 'identical' : 'DIFFERS'}${floors.length ? `; other floors: ${floors.join(', ')}` : ''}.`,
    );
  }
  const failures = [
    ...Object.entries(res.latency).flatMap(([p, l]) => failureLines(`latency ${p}`, l.failures)),
    ...Object.entries(res.throughput).flatMap(([r, t]) => failureLines(`throughput ${r}`, t.failures)),
    ...(res.defaultsMemory ? failureLines('shipped defaults', res.defaultsMemory.failures) : []),
    ...failureLines('scenario', res.scenarios.failures),
  ];
  L.push(failures.length ? `- Failed requests: ${failures.join('; ')}.` : '- No failed requests.');
  L.push('');
  L.push(
    'Baseline: the same Chromium, flags and print options, driven in-process by puppeteer in the default browser context ' +
      '(new page → goto(load) → pdf → close, timed around all of it; c parallel loops for concurrency c); on the JS page it is told ' +
      'exactly when the data is in. The other floors run in the same process and Chromium: kept-tab (one tab per loop, navigated ' +
      'from render to render, never closed) and fresh-context (a new browser context and tab per render, disposed after, timed ' +
      'around all of it); they ignore identity and get the same request pattern as the appliance. The appliance is measured over ' +
      'HTTP by a separate load-generator process (request → last byte). Ratios are appliance ÷ floor ("baseline" is the naive ' +
      'floor). "Baseline behind HTTP" puts the same loop behind a tiny HTTP server driven by the same load ' +
      'generator: it pays the HTTP hop the appliance pays (so its ratios flatter the appliance) but answers before closing the page. ' +
      'Figures are measured by `npm run bench`, never typed in; targets are reported, not asserted.',
  );
  L.push('');
  return L.join('\n');
}

function failureLines(what: string, f: Record<string, Record<string, number>>): string[] {
  return Object.entries(f).flatMap(([who, m]) => Object.entries(m).map(([msg, n]) => `${what} ${who}: ${n}× ${msg}`));
}
