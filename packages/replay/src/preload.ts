export interface PreloadOptions {
  /** Warm-up URL: a direct appliance URL, or a main-app path that gets replayed to it. */
  url: string;
  fetchImpl?: typeof fetch;
  /** Upper bound for the whole request (default 5000 ms). */
  timeoutMs?: number;
}

/**
 * Fire-and-forget warm-up of the appliance. The appliance exits when idle and Fly only starts
 * it on the next request, so the first PDF after a quiet period pays the machine boot plus the
 * Chromium launch. Calling this when a user signs in (or opens a page with PDF links) starts
 * the machine while the user is still reading, so the click on "Download PDF" finds it warm.
 * It must never delay or break the caller, hence: not awaited, all errors swallowed, bounded.
 */
export function preload(opts: PreloadOptions): void {
  try {
    const fetchImpl = opts.fetchImpl ?? globalThis.fetch;
    const timeoutMs = opts.timeoutMs ?? 5000;
    const signal = AbortSignal.timeout(Math.max(1, timeoutMs));
    Promise.resolve()
      .then(() => fetchImpl(opts.url, { method: 'GET', signal, redirect: 'manual' }))
      // Drain the body so the socket is released instead of held until GC.
      .then((res) => res.body?.cancel())
      .catch(() => undefined);
  } catch {
    // Even synchronous misuse (bad options) must not surface to the caller.
  }
}
