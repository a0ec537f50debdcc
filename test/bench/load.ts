/**
 * The load generator: a separate process, so the runner (which also hosts the fixture main
 * app) and the systems under test never share its event loop. It drives any URL that answers
 * a PDF — the appliance, or the baseline's HTTP view — with closed loops (see loops.ts).
 * Latency is request sent → last body byte received, over keep-alive connections.
 */
import { runLoops, type LoopJob } from './loops.js';
import { looksLikeWholePdf } from './pages.js';
import { serve } from './rpc.js';

async function fetchPdf(url: string, cookie: string | undefined): Promise<{ ms: number }> {
  const t0 = performance.now();
  const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(60_000), headers: cookie ? { cookie } : {} });
  const body = new Uint8Array(await res.arrayBuffer());
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`HTTP ${res.status}${res.headers.get('retry-after') ? ' (retry-after)' : ''}`);
  if (!looksLikeWholePdf(body)) throw new Error('response is not a whole PDF');
  return { ms };
}

serve(async (job) => {
  if (job.kind !== 'loop' || typeof job.url !== 'string') throw new Error(`unknown job ${JSON.stringify(job)}`);
  const url = job.url;
  const loop = job as unknown as LoopJob;
  // Each request is the next user's, round robin across all loops.
  let next = 0;
  const cookie = (): string | undefined => (loop.identities ? `session=bench-${next++ % loop.identities}` : undefined);
  return runLoops(loop, () => fetchPdf(url, cookie()));
});

process.send!({ ready: { pid: process.pid } });
