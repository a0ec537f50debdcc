/**
 * Every way a request can end without its output, whichever stage ends it (checks at the edge,
 * admission, the browser, the render). Mapped to HTTP in one place: http/errors.ts.
 */
export type Failure =
  /** The main app redirected the page itself (e.g. to /login): pass the redirect on. */
  | { kind: 'redirect'; status: number; location: string }
  /** The main app answered the page with a 4xx we pass on (401 keeps its challenge). */
  | { kind: 'upstream-status'; status: number; wwwAuthenticate?: string }
  /** The main app answered 5xx, was unreachable, or the page left the main app's origin. */
  | { kind: 'bad-gateway'; reason: string }
  /** RENDER_TIMEOUT passed; or QUEUE_TIMEOUT, waiting for a render slot or for memory to capture an image in. */
  | { kind: 'timeout'; phase: 'render' | 'queue' | 'image-memory'; limitMs?: number }
  /** A renderer of the page died: killed over RENDER_MEMORY_MB (`certain`), or crashed, most likely out of memory. */
  | { kind: 'out-of-memory'; budgetMb: number; certain: boolean }
  /** The machine ran out of memory while this render captured its image, and the capture was why: it was stopped. */
  | { kind: 'machine-memory' }
  /**
   * The image the page asks for is over IMAGE_MAX_PIXELS or Chromium's largest side, or would
   * need more memory to capture than IMAGE_MEMORY_MB: `setting` is what the operator could raise.
   */
  | {
      kind: 'image-too-large';
      width: number;
      height: number;
      why: string;
      setting: 'IMAGE_MAX_PIXELS' | 'IMAGE_MEMORY_MB';
    }
  /** The page asked for PDF/A and Ghostscript is missing, failed, or could not make it conform. */
  | { kind: 'archival'; standard: string; problem: 'unavailable' | 'not-conformant' | 'failed'; reason: string }
  | { kind: 'overloaded' }
  | { kind: 'browser-unavailable'; reason: string }
  | { kind: 'loop' }
  | { kind: 'forbidden'; reason: string }
  | { kind: 'method-not-allowed' }
  | { kind: 'bad-request'; reason: string }
  | { kind: 'uri-too-long' }
  | { kind: 'client-gone' }
  | { kind: 'shutting-down' };

export class RequestFailure extends Error {
  constructor(
    readonly failure: Failure,
    cause?: unknown,
  ) {
    super(failure.kind, { cause });
  }
}

/** Ends a request here with `failure`. */
export function fail(failure: Failure, cause?: unknown): never {
  throw new RequestFailure(failure, cause);
}

/** A signal that aborts with `failure` after `ms` (a deadline that says what it is). */
export function failAfter(ms: number, failure: Failure): AbortSignal {
  const controller = new AbortController();
  setTimeout(() => controller.abort(new RequestFailure(failure)), ms).unref();
  return controller.signal;
}
