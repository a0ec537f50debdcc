import { sampleTreePss } from '../support/pss.js';

export { sampleTreePss };

export interface PssSampler {
  /** Stops sampling; resolves with the peak and the number of samples taken. */
  stop(): Promise<{ peakBytes: number; samples: number }>;
}

/**
 * Samples the PSS of a process tree (node + every Chromium process below it) every `everyMs`
 * until stopped, keeping only the peak: a peak is what an out-of-memory kill would see.
 */
export function samplePeak(rootPid: number, everyMs = 250): PssSampler {
  let peak = 0;
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      const v = await sampleTreePss(rootPid);
      samples++;
      if (v > peak) peak = v;
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - started))));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { peakBytes: peak, samples };
    },
  };
}
