import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, run } from './child.js';
import { firstPdf } from './http.js';
import { freePort } from '../../fixtures/listen.js';
import type { ChromeSpec } from './launch.js';
import type { BenchOptions } from './options.js';
import { appliancePdfUrl, PAGES, pageUrl } from './pages.js';
import { progress, ROOT } from './paths.js';
import type { Cold } from './results.js';
import { median, round } from './stats.js';

export interface ColdRun {
  ms: number;
  /** `npm start` found dist/ stale (someone edited src/) and compiled: this run is not comparable. */
  rebuilt?: boolean;
}

const invoice = PAGES.invoice;

/**
 * Spawn → first whole PDF of the invoice received. `how` is `npm` (the issue's measure:
 * `npm start` literally, its stale-build check included) or `node` (dist/src/main.js directly, to show
 * what npm itself costs).
 */
export async function applianceColdStart(how: 'npm' | 'node', applianceEnv: Record<string, string>): Promise<ColdRun> {
  const port = await freePort();
  const entry = join(ROOT, 'dist/src/main.js');
  // If a source changed since the build, `npm start` would compile inside the measured window.
  // Bring dist/ up to date first, unmeasured; the measured start then only checks.
  if (how === 'npm') {
    try {
      execFileSync(process.execPath, [join(ROOT, 'scripts/build-if-stale.mjs')], { cwd: ROOT, stdio: 'pipe' });
    } catch (err) {
      // tsc still emits on type errors (someone mid-edit); the run is flagged below if not.
      process.stderr.write(
        `[bench] pre-start build reported errors: ${String((err as { stdout?: Buffer }).stdout ?? err).slice(0, 300)}\n`,
      );
    }
  }
  const before = statSync(entry).mtimeMs;
  const env = cleanEnv({ ...applianceEnv, PORT: String(port) });
  const t0 = performance.now();
  const proc =
    how === 'npm' ? run('npm', ['start'], { cwd: ROOT, env }) : run(process.execPath, [entry], { cwd: ROOT, env });
  try {
    await firstPdf(appliancePdfUrl(`http://127.0.0.1:${port}`, invoice), proc.gone, 90_000);
    const ms = performance.now() - t0;
    const rebuilt = statSync(entry).mtimeMs !== before;
    return rebuilt ? { ms, rebuilt } : { ms };
  } finally {
    await proc.stop();
  }
}

/** Spawn → the bare process says it holds the PDF. */
export async function bareColdStart(spec: ChromeSpec, mainOrigin: string): Promise<ColdRun> {
  const script = join(ROOT, 'dist/test/bench/bare-print.js');
  const t0 = performance.now();
  const proc = run(process.execPath, [script, JSON.stringify(spec), pageUrl(mainOrigin, invoice)], {
    cwd: ROOT,
    env: cleanEnv({}),
  });
  try {
    await proc.line(/^PDF \d+$/);
    return { ms: performance.now() - t0 };
  } finally {
    // It closes Chromium and exits on its own; stop() only waits for that (or forces it).
    await Promise.race([proc.gone.catch(() => undefined), new Promise((r) => setTimeout(r, 10_000))]);
    await proc.stop();
  }
}

/** All cold starts, alternating which side goes first; medians leave out runs that compiled. */
export async function coldStarts(
  opts: BenchOptions,
  applianceEnv: Record<string, string>,
  spec: ChromeSpec,
  mainUrl: string,
): Promise<Cold> {
  progress('cold start: one unmeasured bare run to warm the page cache');
  await bareColdStart(spec, mainUrl);
  const npm: ColdRun[] = [];
  const bare: ColdRun[] = [];
  const direct: ColdRun[] = [];
  for (let i = 0; i < opts.coldReps; i++) {
    const pair = [
      async () => npm.push(await applianceColdStart('npm', applianceEnv)),
      async () => bare.push(await bareColdStart(spec, mainUrl)),
    ];
    if (i % 2 === 1) pair.reverse();
    for (const step of pair) await step();
    if (i < opts.directReps) direct.push(await applianceColdStart('node', applianceEnv));
    progress(
      `cold start ${i + 1}/${opts.coldReps}: npm start ${Math.round(npm.at(-1)!.ms)} ms, bare ${Math.round(bare.at(-1)!.ms)} ms${direct[i] ? `, node main.js ${Math.round(direct[i]!.ms)} ms` : ''}`,
    );
  }
  // A run where `npm start` had to compile is not a cold start of the appliance: leave it out
  // of the median when there are others, but keep it in the record.
  const med = (rs: ColdRun[]): number => {
    const clean = rs.filter((r) => !r.rebuilt);
    return round(median((clean.length ? clean : rs).map((r) => r.ms)));
  };
  const strip = (rs: ColdRun[]) => rs.map((r) => ({ ...r, ms: round(r.ms) }));
  return {
    npmStart: { runs: strip(npm), medianMs: med(npm) },
    bare: { runs: strip(bare), medianMs: med(bare) },
    nodeDirect: { runs: strip(direct), medianMs: med(direct) },
  };
}
