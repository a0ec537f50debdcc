import type { Protocol } from 'devtools-protocol';

/**
 * Requests a tab's documents and workers have started and not finished, as Chromium reports them
 * (Network domain events of every session of the tab). Two questions are asked of it:
 *
 * - What the print waits for (`quiet`): a request that can still change what is printed.
 *   Documents, stylesheets, scripts, images, fonts and media count until they finish. A fetch or
 *   XHR counts until its answer starts: its body is the page's to read, and a body nobody reads
 *   is never reported finished (measured: a page with one unread fetch waited until
 *   RENDER_TIMEOUT). One still waiting for its answer counts for at most `dataWaitMs` (a long
 *   poll, a request that never ends). Event streams, beacons, pings, prefetches and reports are
 *   never waited for: nothing printed depends on them.
 * - What is still outstanding at all (`quietWithin`): everything, until Chromium reports it
 *   finished or failed. A workspace whose last page left something outstanding is not reused.
 */
export type RequestKind = 'awaited' | 'data' | 'ignored';

const DATA_TYPES: ReadonlySet<string> = new Set(['XHR', 'Fetch']);
const IGNORED_TYPES: ReadonlySet<string> = new Set([
  'EventSource',
  'WebSocket',
  'Ping',
  'CSPViolationReport',
  'Prefetch',
  'Preflight',
  'SignedExchange',
  'FedCM',
]);

/** How the print treats a request of this Network resource type. */
export function kindOf(type: Protocol.Network.ResourceType | undefined): RequestKind {
  if (type !== undefined && DATA_TYPES.has(type)) return 'data';
  if (type !== undefined && IGNORED_TYPES.has(type)) return 'ignored';
  return 'awaited';
}

interface Waiter {
  quietMs: number;
  resolve: () => void;
  timer: NodeJS.Timeout | null;
}

export class InFlight {
  /** Every request not yet finished. */
  private readonly outstanding = new Set<string>();
  /** The ones the print waits for now. */
  private readonly awaited = new Set<string>();
  /** Data requests still waiting for their answer: demoted after `dataWaitMs`. */
  private readonly dataTimers = new Map<string, NodeJS.Timeout>();
  private waiters: Waiter[] = [];
  private drainWaiters: Array<() => void> = [];

  constructor(private readonly dataWaitMs: number) {}

  start(key: string, kind: RequestKind): void {
    this.outstanding.add(key);
    if (kind === 'ignored') return;
    this.awaited.add(key);
    for (const w of this.waiters) {
      if (w.timer) clearTimeout(w.timer);
      w.timer = null;
    }
    if (kind === 'data') {
      const t = setTimeout(() => this.answered(key), this.dataWaitMs);
      t.unref();
      this.dataTimers.set(key, t);
    }
  }

  /** A data request's answer started (or it waited long enough): the print no longer waits for it. */
  answered(key: string): void {
    const t = this.dataTimers.get(key);
    if (!t) return;
    clearTimeout(t);
    this.dataTimers.delete(key);
    this.unawait(key);
  }

  finish(key: string): void {
    const t = this.dataTimers.get(key);
    if (t) clearTimeout(t);
    this.dataTimers.delete(key);
    if (this.outstanding.delete(key) && this.outstanding.size === 0) {
      const w = this.drainWaiters;
      this.drainWaiters = [];
      for (const f of w) f();
    }
    this.unawait(key);
  }

  /** Forgets everything in flight (a new document: what the old one started is not ours to wait for). */
  clear(): void {
    for (const t of this.dataTimers.values()) clearTimeout(t);
    this.dataTimers.clear();
    this.outstanding.clear();
    this.awaited.clear();
    this.armAll();
  }

  /**
   * Resolves at once when nothing the print waits for is in flight; otherwise once nothing has
   * been for `quietMs` (a page with nothing pending at `load` prints at once; one still fetching
   * is given a quiet window, in case what arrives starts more).
   */
  quiet(quietMs: number): Promise<void> {
    if (this.awaited.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push({ quietMs, resolve, timer: null });
    });
  }

  /** Whether nothing at all is outstanding, now or within `ms`. */
  quietWithin(ms: number): Promise<boolean> {
    if (this.outstanding.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.drainWaiters = this.drainWaiters.filter((f) => f !== done);
        resolve(false);
      }, ms);
      this.drainWaiters.push(done);
    });
  }

  /** Stops every print wait (their promises stay pending; callers race them against a deadline). */
  abandon(): void {
    for (const w of this.waiters) if (w.timer) clearTimeout(w.timer);
    this.waiters = [];
  }

  private unawait(key: string): void {
    if (this.awaited.delete(key) && this.awaited.size === 0) this.armAll();
  }

  private armAll(): void {
    for (const w of this.waiters) if (!w.timer) this.arm(w);
  }

  private arm(w: Waiter): void {
    w.timer = setTimeout(() => {
      if (this.awaited.size > 0) {
        w.timer = null;
        return;
      }
      this.waiters = this.waiters.filter((x) => x !== w);
      w.resolve();
    }, w.quietMs);
  }
}
