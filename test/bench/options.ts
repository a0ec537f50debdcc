import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './paths.js';

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
  /** Measured renders of each spaced scenario side ((a), (b) and their floors). */
  spacedSamples: number;
  /** Pause after each answer in the spaced scenarios, before the next click. */
  gapMs: number;
  /** Scenario users also send `Authorization: Bearer <NAME>-TOKEN` (the appliance only). */
  authorization: boolean;
  /** The peer's start/stop script, or why the peer is left out. */
  peer: { script: string } | { skipped: string };
}

/** Where the peer's script lives beside a checkout (see ../shared/peers/README.md). */
export const PEER_SCRIPT = join(ROOT, '..', 'shared', 'peers', 'browserless.sh');

export function readOptions(env: NodeJS.ProcessEnv): BenchOptions {
  const quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
  const int = (name: string, fallback: number, min: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min)
      throw new Error(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
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
    spacedSamples: int('BENCH_SPACED_SAMPLES', quick ? 5 : 20, 1),
    gapMs: int('BENCH_GAP_MS', 1000, 0),
    authorization: flag(env.BENCH_AUTHORIZATION),
    peer: peerOption(env),
  };
}

const flag = (v: string | undefined): boolean => v === '1' || v === 'true';

function peerOption(env: NodeJS.ProcessEnv): BenchOptions['peer'] {
  if (flag(env.BENCH_SKIP_PEER)) return { skipped: 'BENCH_SKIP_PEER is set' };
  const script = env.BENCH_PEER_SCRIPT || PEER_SCRIPT;
  if (!existsSync(script)) return { skipped: `no ${script} (BENCH_PEER_SCRIPT names another)` };
  return { script };
}

/** `A=1 B=x,y` → { A: '1', B: 'x,y' }: whitespace separates, values keep commas. */
export function parseEnvList(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of text.split(/\s+/).filter(Boolean)) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(item);
    if (!m)
      throw new Error(
        `BENCH_APPLIANCE_ENV: expected NAME=value items separated by spaces, got ${JSON.stringify(item)}`,
      );
    out[m[1]!] = m[2]!;
  }
  return out;
}

function outName(raw: string | undefined, quick: boolean): string {
  if (raw === undefined || raw === '') return quick ? 'quick' : 'latest';
  if (!/^[\w.-]+$/.test(raw) || raw.startsWith('.'))
    throw new Error(`BENCH_OUT must be a plain file name, got ${JSON.stringify(raw)}`);
  return raw;
}
