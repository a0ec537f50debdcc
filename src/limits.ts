import pLimit, { type LimitFunction } from 'p-limit';
import { fail, RenderFailure } from './errors.js';

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
 */
export class Limiter {
  private readonly limit: LimitFunction;
  private waiting = 0;

  constructor(private readonly opts: LimiterOptions) {
    this.limit = pLimit(opts.concurrency);
  }

  get running(): number {
    return this.limit.activeCount;
  }

  get queued(): number {
    return this.waiting;
  }

  /** True when a new request would be refused. */
  get full(): boolean {
    return this.limit.activeCount >= this.opts.concurrency && this.waiting >= this.opts.queueSize;
  }

  run<T>(task: (timings: SlotTimings) => Promise<T>, signal: AbortSignal): Promise<T> {
    if (this.full) fail({ kind: 'overloaded' });
    if (signal.aborted) fail({ kind: 'client-gone' });

    const enqueuedAt = performance.now();
    this.waiting++;
    let left = false;
    const leave = (): void => {
      if (!left) {
        left = true;
        this.waiting--;
      }
    };

    return new Promise<T>((resolve, reject) => {
      const giveUp = (err: RenderFailure): void => {
        leave();
        cleanup();
        reject(err);
      };
      const onAbort = (): void => giveUp(new RenderFailure({ kind: 'client-gone' }));
      const timer = setTimeout(() => giveUp(new RenderFailure({ kind: 'timeout', phase: 'queue' })), this.opts.queueTimeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      signal.addEventListener('abort', onAbort, { once: true });

      this.limit(async () => {
        if (left) return; // gave up while waiting: free the slot at once
        leave();
        cleanup();
        try {
          resolve(await task({ queuedMs: performance.now() - enqueuedAt }));
        } catch (err) {
          reject(err);
        }
      }).catch(reject);
    });
  }
}
