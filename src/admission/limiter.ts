import pLimit, { type LimitFunction } from 'p-limit';
import { fail, RequestFailure } from '../failure.js';

export interface LimiterOptions {
  concurrency: number;
  queueSize: number;
  queueTimeoutMs: number;
}

export interface SlotTimings {
  queuedMs: number;
}

/**
 * At most `concurrency` renders at once, at most `queueSize` waiting behind them; beyond that
 * the caller is refused at once (never unbounded tabs). A waiter gives up after
 * `queueTimeoutMs`, and a waiter whose client went away leaves the queue immediately: p-limit
 * still calls its function later, which then returns without doing anything.
 *
 * `running` and `queued` are our own counts rather than p-limit's: p-limit counts a slot as
 * active from the moment it is granted (a microtask before the task starts) and keeps
 * counting abandoned waiters it still has to skip, so its numbers are off by one at the edges.
 */
export class Limiter {
  private readonly limit: LimitFunction;
  private waiting = 0;
  private active = 0;

  constructor(private readonly opts: LimiterOptions) {
    this.limit = pLimit(opts.concurrency);
  }

  /** Tasks executing now; never more than `concurrency`. */
  get running(): number {
    return this.active;
  }

  /** Callers waiting for a slot now (abandoned waiters are not counted). */
  get queued(): number {
    return this.waiting;
  }

  /** True when a new request would be refused. */
  get full(): boolean {
    return this.waiting + this.active >= this.opts.concurrency + this.opts.queueSize;
  }

  run<T>(task: (timings: SlotTimings) => Promise<T>, signal: AbortSignal): Promise<T> {
    if (signal.aborted) fail({ kind: 'client-gone' });
    if (this.full) fail({ kind: 'overloaded' });

    const enqueuedAt = performance.now();
    this.waiting++;
    let left = false;
    const leave = (): void => {
      if (left) return;
      left = true;
      this.waiting--;
    };

    return new Promise<T>((resolve, reject) => {
      const giveUp = (err: RequestFailure): void => {
        if (left) return;
        leave();
        cleanup();
        reject(err);
      };
      const onAbort = (): void => giveUp(new RequestFailure({ kind: 'client-gone' }));
      const timer = setTimeout(
        () => giveUp(new RequestFailure({ kind: 'timeout', phase: 'queue' })),
        this.opts.queueTimeoutMs,
      );
      const cleanup = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      signal.addEventListener('abort', onAbort, { once: true });

      this.limit(async () => {
        if (left) return; // gave up while waiting: hand the slot on at once
        // Count the task as running before it leaves the queue, so `full` never dips in between.
        this.active++;
        leave();
        cleanup();
        try {
          resolve(await task({ queuedMs: performance.now() - enqueuedAt }));
        } catch (err) {
          reject(err);
        } finally {
          this.active--;
        }
      }).catch(reject);
    });
  }
}
