/**
 * `npm run bench`: the appliance against the raw-Chromium floors (and the peer), in one run.
 * Order: cold starts first (nothing else of ours running), then the warm systems side by side,
 * each measurement done for both back to back with the order alternating, so drift from
 * whatever else runs on the machine hits both sides alike.
 */
import { cpus, loadavg } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMainApp } from '../../fixtures/main-app/index.js';
import { bursts } from './burst.js';
import { coldStarts } from './coldstart.js';
import { resumes } from './resume.js';
import { checkComplete, measureDefaultsMemory, measureLatency, measureThroughput } from './measure.js';
import { readOptions } from './options.js';
import { PAGES } from './pages.js';
import { elapsedSeconds, progress, RESULTS_DIR } from './paths.js';
import { killAll, killAllNow, sweepMarked } from './procs.js';
import { sampleTreePss } from './pss.js';
import { measurePeer } from './peer.js';
import { markdown, ratios, targets } from './report.js';
import type { Completeness, Latency, Memory, Results, Throughput } from './results.js';
import { chromeSpec } from './spec.js';
import { measureScenarios, ROUND_ROBIN } from './scenarios.js';
import { round } from './stats.js';
import { startAppliance, startSystems, stopSystems } from './systems.js';

const APPLIANCE_CONCURRENCY = 4;
/** Users at once for the memory figure with the shipped defaults. */
const DEFAULTS_CLIENTS = 8;
const MB = 1024 * 1024;

async function main(): Promise<void> {
  const opts = readOptions(process.env);
  const loadavgStart = loadavg()
    .map((v) => v.toFixed(2))
    .join(' ');
  progress(`${opts.quick ? 'quick smoke run' : 'full run'}; appliance env knobs: ${JSON.stringify(opts.applianceEnv)}`);

  const mainApp = await startMainApp({});
  // The first fetch() loads undici; pay that now, not inside the first cold start.
  await fetch(`${mainApp.url}/t/invoice`).then((r) => r.arrayBuffer());

  const applianceEnv: Record<string, string> = {
    TARGET_URL: mainApp.url,
    LISTEN_ADDRESS: '127.0.0.1',
    METRICS_PORT: '0',
    IDLE_TIMEOUT: '0',
    LOG_LEVEL: 'warn',
    CONCURRENCY: String(APPLIANCE_CONCURRENCY),
    ...opts.applianceEnv,
  };
  const spec = chromeSpec(applianceEnv);

  const cold = await coldStarts(opts, applianceEnv, spec, mainApp.url);
  const resume = await resumes(applianceEnv, opts.coldReps);
  const burst = await bursts({ LOG_LEVEL: 'warn', ...opts.applianceEnv });
  const sys = await startSystems(mainApp, applianceEnv, spec);
  const memory: Memory = {
    applianceMB: 0,
    baselineMB: 0,
    applianceIdleMB: round((await sampleTreePss(sys.appliance.pid)) / MB),
    baselineIdleMB: round((await sampleTreePss(sys.baselineInfo.pid)) / MB),
    samples: { appliance: 0, baseline: 0 },
  };

  const completeness: Record<string, Completeness> = {};
  for (const page of Object.values(PAGES)) completeness[page.name] = await checkComplete(sys, page);

  let applianceFirst = false;
  const alternate = (): boolean => (applianceFirst = !applianceFirst);
  const latency: Record<string, Latency> = {};
  for (const page of Object.values(PAGES)) latency[page.name] = await measureLatency(sys, page, opts, alternate());

  const throughput: Record<string, Throughput> = {};
  throughput['invoice-c1'] = await measureThroughput(sys, PAGES.invoice, 1, opts, alternate(), {
    http: false,
    identities: 1,
  });
  throughput['invoice-c4'] = await measureThroughput(sys, PAGES.invoice, 4, opts, alternate(), {
    http: true,
    identities: 1,
  });
  throughput['report-c4'] = await measureThroughput(sys, PAGES.report, 4, opts, alternate(), {
    http: false,
    memory,
    identities: 1,
  });
  // The clicks (a), (b), (c) against the floors ((c) is the 8-user round robin), then the peer beside (c).
  const scenarios = await measureScenarios(sys, PAGES.invoice, opts, alternate());
  const peer = await measurePeer(sys, spec, PAGES.invoice, ROUND_ROBIN, opts);

  // The shipped defaults (CONCURRENCY and all), on their own: the benchmark's appliance is stopped first.
  await sys.appliance.stop();
  const { CONCURRENCY: _c, ...shippedEnv } = applianceEnv;
  const defaults = await startAppliance({ ...shippedEnv, ...opts.applianceEnv });
  const defaultsMemory = await measureDefaultsMemory(sys, PAGES.report, DEFAULTS_CLIENTS, opts, {
    url: defaults.url,
    pid: defaults.running.pid,
  });
  await defaults.running.stop();

  await stopSystems(sys);
  await mainApp.close();

  const measured = {
    meta: {
      date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      quick: opts.quick,
      node: process.version,
      chromium: sys.baselineInfo.version,
      cpus: cpus().length,
      loadavgStart,
      loadavgEnd: loadavg()
        .map((v) => v.toFixed(2))
        .join(' '),
      seconds: round(elapsedSeconds(), 0),
      applianceEnv: opts.applianceEnv,
      settings: {
        samples: opts.samples,
        warmup: opts.warmup,
        throughputSeconds: opts.durationMs / 1000,
        coldReps: opts.coldReps,
        directReps: opts.directReps,
        applianceConcurrency: Number(applianceEnv.CONCURRENCY),
        spacedSamples: opts.spacedSamples,
      },
    },
    completeness,
    latency,
    throughput,
    memory: { ...memory, applianceMB: round(memory.applianceMB), baselineMB: round(memory.baselineMB) },
    defaultsMemory,
    cold,
    resume,
    scenarios,
    peer,
    burst,
  };
  const withRatios = { ...measured, ratios: ratios(measured) };
  const results: Results = { ...withRatios, targets: targets(withRatios) };
  const md = markdown(results);

  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `${opts.outName}.json`), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(RESULTS_DIR, `${opts.outName}.md`), md);
  process.stdout.write(`\n${md}\n`);
  progress(`wrote test/bench/results/${opts.outName}.json and .md`);
}

// Whatever happens, nothing we started outlives us.
process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    progress(`${sig}: stopping everything`);
    void killAll().finally(() => {
      sweepMarked();
      process.exit(130);
    });
  });
}

let code = 0;
try {
  await main();
} catch (err) {
  progress(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  code = 1;
}
await killAll();
const left = sweepMarked();
if (left > 0) progress(`killed ${left} leftover process(es) of this run`);
process.exit(code);
