import { join } from 'node:path';

/** The repository root, from dist/test/bench/ where these modules run. */
export const ROOT = join(import.meta.dirname, '..', '..', '..');
export const BENCH_DIST = join(ROOT, 'dist/test/bench');
export const RESULTS_DIR = join(ROOT, 'test/bench/results');

const started = performance.now();

/** Progress on stderr, so stdout carries only the final table. */
export function progress(msg: string): void {
  process.stderr.write(`[bench ${String(Math.round((performance.now() - started) / 1000)).padStart(3)}s] ${msg}\n`);
}

export function elapsedSeconds(): number {
  return (performance.now() - started) / 1000;
}
