/** The benchmark's knobs, all from the environment, validated once. */
export interface BenchOptions {
  quick: boolean;
  /** Measured renders per page for the c=1 latency runs. */
  samples: number;
  warmup: number;
  /** Window of each throughput run. */
  durationMs: number;
  /** Cold starts of `npm start` and of the bare process, each. */
  coldReps: number;
  /** Cold starts of `node dist/src/main.js` without npm: what the image runs, and a target of its own. */
  directReps: number;
  /** Passed through to every appliance process (BENCH_APPLIANCE_ENV='ASSET_CACHE_MB=0 QUIET_WINDOW=20ms'). */
  applianceEnv: Record<string, string>;
  /** results/<name>.json and .md */
  outName: string;
}

export function readOptions(env: NodeJS.ProcessEnv): BenchOptions {
  const quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
  const int = (name: string, fallback: number, min: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
    return Number(raw);
  };
  return {
    quick,
    samples: int('BENCH_SAMPLES', quick ? 5 : 30, 1),
    warmup: quick ? 1 : 3,
    durationMs: int('BENCH_DURATION_S', quick ? 3 : 15, 1) * 1000,
    coldReps: int('BENCH_COLD_REPS', quick ? 1 : 5, 1),
    directReps: int('BENCH_COLD_REPS', quick ? 1 : 5, 1),
    applianceEnv: parseEnvList(env.BENCH_APPLIANCE_ENV ?? ''),
    // A smoke run must not overwrite the figures someone is about to commit.
    outName: outName(env.BENCH_OUT, quick),
  };
}

/** `A=1 B=x,y` → { A: '1', B: 'x,y' }: whitespace separates, values keep commas. */
export function parseEnvList(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of text.split(/\s+/).filter(Boolean)) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(item);
    if (!m) throw new Error(`BENCH_APPLIANCE_ENV: expected NAME=value items separated by spaces, got ${JSON.stringify(item)}`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

function outName(raw: string | undefined, quick: boolean): string {
  if (raw === undefined || raw === '') return quick ? 'quick' : 'latest';
  if (!/^[\w.-]+$/.test(raw) || raw.startsWith('.')) throw new Error(`BENCH_OUT must be a plain file name, got ${JSON.stringify(raw)}`);
  return raw;
}
