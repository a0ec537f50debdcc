import { looksLikeWholePdf } from './pages.js';

/** One PDF, checked whole; throws with the status and the start of the body otherwise. */
export async function fetchPdf(url: string, timeoutMs = 60_000): Promise<Uint8Array> {
  const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  const body = new Uint8Array(await res.arrayBuffer());
  if (res.status !== 200 || !looksLikeWholePdf(body)) {
    throw new Error(
      `${url}: HTTP ${res.status}, ${body.byteLength} bytes: ${Buffer.from(body.subarray(0, 200)).toString('utf8')}`,
    );
  }
  return body;
}

function refused(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string } })?.cause;
  return cause?.code === 'ECONNREFUSED' || cause?.code === 'ECONNRESET';
}

/**
 * Requests `url` until a whole PDF comes back, retrying only while nothing listens yet.
 * `gone` rejects when the process that should answer has died, so a crash fails fast.
 */
export async function firstPdf(url: string, gone: Promise<never>, timeoutMs = 60_000): Promise<Uint8Array> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await Promise.race([fetchPdf(url, Math.max(1, Math.ceil(deadline - performance.now()))), gone]);
    } catch (err) {
      if (!refused(err) || performance.now() > deadline) throw err;
      await Promise.race([new Promise((r) => setTimeout(r, 10)), gone]);
    }
  }
}
