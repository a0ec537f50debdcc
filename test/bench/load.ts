/**
 * The load generator: a separate process, so the runner (which also hosts the fixture main
 * app) and the systems under test never share its event loop. It drives any URL that answers
 * a PDF — the appliance, the baseline's HTTP view, or the peer's /pdf API — with closed loops
 * (see loops.ts). Latency is request sent → last body byte received, over keep-alive connections.
 */
import { runLoops, type LoopJob } from './loops.js';
import { looksLikeWholePdf } from './pages.js';
import type { PeerRequest } from './peer-request.js';
import { peerBody } from './peer-request.js';
import { serve } from './rpc.js';

interface LoadJob extends LoopJob {
  url: string;
  /** Also send `Authorization: Bearer <NAME>-TOKEN` for each user (BENCH_AUTHORIZATION=1). */
  authorization?: boolean;
  /** Drive the peer: POST its JSON body to `url`, the user's cookie inside it. */
  peer?: PeerRequest;
}

/** Users of `newUserEach` runs: numbered across the process's life, so none ever comes back. */
let visitors = 0;

async function fetchPdf(job: LoadJob, user: string | undefined): Promise<{ ms: number }> {
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (job.peer) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(peerBody(job.peer, user));
  } else if (user !== undefined) {
    headers.cookie = `session=${user}`;
    if (job.authorization) headers.authorization = `Bearer ${user.toUpperCase()}-TOKEN`;
  }
  const t0 = performance.now();
  const res = await fetch(job.url, {
    method: body ? 'POST' : 'GET',
    body,
    redirect: 'manual',
    signal: AbortSignal.timeout(60_000),
    headers,
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  const ms = performance.now() - t0;
  if (res.status !== 200)
    throw new Error(`HTTP ${res.status}${res.headers.get('retry-after') ? ' (retry-after)' : ''}`);
  if (!looksLikeWholePdf(bytes)) throw new Error('response is not a whole PDF');
  return { ms };
}

serve(async (raw) => {
  if (raw.kind !== 'loop' || typeof raw.url !== 'string') throw new Error(`unknown job ${JSON.stringify(raw)}`);
  const job = raw as unknown as LoadJob;
  // Each request is the next user's, round robin across all loops.
  let next = 0;
  const seen = new Set<string>();
  const user = (): string | undefined => {
    const name = job.newUserEach
      ? `visitor-${visitors++}`
      : job.identities
        ? `bench-${next++ % job.identities}`
        : undefined;
    if (name !== undefined) seen.add(name);
    return name;
  };
  const result = await runLoops(job, () => fetchPdf(job, user()));
  return { ...result, users: seen.size };
});

process.send!({ ready: { pid: process.pid } });
