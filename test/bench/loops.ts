/**
 * The one scheduling used for every measurement, in-process or over HTTP: `concurrency`
 * closed loops, each starting its next render when its last one ended (or `gapMs` after it,
 * for a user who clicks again later). Either a fixed number of samples (latency) or a time
 * window (throughput): loops stop starting work at the deadline and the window ends with the
 * last completion, so throughput = completed / window.
 */
export interface LoopJob {
  concurrency: number;
  /** Unmeasured renders first, spread over the loops (so each loop's first render is one of them). */
  warmup: number;
  /** Exactly this many measured renders… */
  count?: number;
  /** …or as many as fit in this window. */
  durationMs?: number;
  /**
   * Over HTTP: how many signed-in users the requests come from, round robin (`session=bench-N`
   * cookies). 1: one user's burst. Absent: anonymous.
   */
  identities?: number;
  /** Over HTTP: every request (warm-ups too) from a user never seen before; wins over `identities`. */
  newUserEach?: boolean;
  /**
   * Pause after each answer before that loop sends its next request: the time a user takes
   * to click again, in which work an appliance does ahead can get ready. 0 or absent: none.
   */
  gapMs?: number;
}

export interface Sample {
  /** What the ratio uses. */
  ms: number;
  /** A second clock when the work has one (the baseline's time to PDF bytes, before close). */
  altMs?: number;
}

export interface LoopResult {
  samples: number[];
  altSamples: number[];
  ok: number;
  failures: Record<string, number>;
  windowMs: number;
  perSecond: number;
  /** Over HTTP: how many distinct users sent the requests (warm-ups included; 0: anonymous). */
  users?: number;
}

/** `work` gets its loop's number (0 … concurrency − 1), for sides that keep something per loop. */
export async function runLoops(job: LoopJob, work: (loop: number) => Promise<Sample>): Promise<LoopResult> {
  const failures: Record<string, number> = {};
  const fail =
    (prefix: string) =>
    (err: unknown): void => {
      const key = prefix + (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 120);
      failures[key] = (failures[key] ?? 0) + 1;
    };
  const gap = job.gapMs ?? 0;
  const pause = (): Promise<void> | undefined => (gap > 0 ? new Promise((r) => setTimeout(r, gap)) : undefined);
  let warm = 0;
  await Promise.all(
    Array.from({ length: Math.min(job.concurrency, Math.max(1, job.warmup)) }, async (_, i) => {
      while (warm < job.warmup) {
        warm++;
        await work(i).catch(fail('warm-up: '));
        await pause();
      }
    }),
  );

  const samples: number[] = [];
  const altSamples: number[] = [];
  let started = 0;
  const t0 = performance.now();
  const deadline = job.durationMs !== undefined ? t0 + job.durationMs : Infinity;
  const limit = job.count ?? Infinity;
  let lastEnd = t0;
  const loop = async (_: unknown, i: number): Promise<void> => {
    while (started < limit && performance.now() < deadline) {
      started++;
      try {
        const s = await work(i);
        samples.push(s.ms);
        if (s.altMs !== undefined) altSamples.push(s.altMs);
      } catch (err) {
        fail('')(err);
      }
      lastEnd = performance.now();
      if (started < limit && lastEnd < deadline) await pause();
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, loop));
  const windowMs = lastEnd - t0;
  return {
    samples,
    altSamples,
    ok: samples.length,
    failures,
    windowMs,
    perSecond: windowMs > 0 ? (samples.length * 1000) / windowMs : 0,
  };
}
