import { RequestFailure } from '../failure.js';

/**
 * The memory image captures may use at once (IMAGE_MEMORY_MB), shared by every render. A
 * capture costs memory outside its render's budget: Chromium's browser and GPU processes hold
 * the bitmap and its encodings, Node the encoded image (measured figures in capture.ts). Each
 * capture is charged what it may cost before anything is drawn, first come first served: one
 * that can never fit is refused by the caller (fits), one that does not fit now waits for
 * the captures before it, at most `waitMs` (QUEUE_TIMEOUT), then gets 503.
 *
 * The memory watch reads the charges: when Chromium's own processes push the machine over its
 * budget while captures run, those captures are why, and the largest is stopped (stop()).
 */
export interface ImageCharge {
  /** The browser context of the render that captures. */
  owner: string;
  bytes: number;
  /** Asks the capture to stop: the machine is out of memory and this capture is why. */
  stop(): void;
}

export interface ImageGrant {
  /** Bytes charged now. */
  readonly bytes: number;
  /** Lowers the charge to what is still held (the encoded image, after the capture). */
  shrink(bytes: number): void;
  /** Gives the rest back; once. */
  release(): void;
}

interface Waiter {
  bytes: number;
  grant(): void;
}

export class ImageMemory {
  private used = 0;
  private readonly waiters: Waiter[] = [];
  private readonly held = new Set<ImageCharge>();

  constructor(
    readonly capacityBytes: number,
    private readonly waitMs: number,
  ) {}

  get usedBytes(): number {
    return this.used;
  }

  /** Captures holding memory now, with what each was charged. */
  charges(): ImageCharge[] {
    return [...this.held];
  }

  /** Whether a capture of this cost can ever be admitted. */
  fits(bytes: number): boolean {
    return bytes <= this.capacityBytes;
  }

  /**
   * Charges `bytes` to `owner`, waiting behind earlier captures if it does not fit now. Rejects
   * with a 503-mapped failure after `waitMs`, or with the signal's reason. `onStop` is the
   * memory watch's request to stop (see ImageCharge.stop).
   */
  admit(bytes: number, owner: string, signal: AbortSignal, onStop: () => void): Promise<ImageGrant> {
    if (!this.fits(bytes))
      return Promise.reject(new Error(`a charge of ${bytes} bytes never fits in ${this.capacityBytes}`));
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.waiters.length === 0 && this.used + bytes <= this.capacityBytes)
      return Promise.resolve(this.charge(bytes, owner, onStop));
    return new Promise<ImageGrant>((resolve, reject) => {
      const leave = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
      };
      const waiter: Waiter = {
        bytes,
        grant: () => {
          // Charged before the next in line is looked at, and answered before it.
          const granted = this.charge(bytes, owner, onStop);
          leave();
          resolve(granted);
          this.pump();
        },
      };
      // A capture that stops waiting may have held back smaller ones behind it.
      const onAbort = (): void => {
        leave();
        reject(signal.reason);
        this.pump();
      };
      const timer = setTimeout(() => {
        leave();
        reject(new RequestFailure({ kind: 'timeout', phase: 'image-memory', limitMs: this.waitMs }));
        this.pump();
      }, this.waitMs);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private charge(bytes: number, owner: string, onStop: () => void): ImageGrant {
    this.used += bytes;
    const charge: ImageCharge = { owner, bytes, stop: onStop };
    this.held.add(charge);
    let released = false;
    const grant: ImageGrant = {
      get bytes() {
        return charge.bytes;
      },
      shrink: (to) => {
        if (released || to >= charge.bytes) return;
        this.used -= charge.bytes - Math.max(0, to);
        charge.bytes = Math.max(0, to);
        this.pump();
      },
      release: () => {
        if (released) return;
        released = true;
        this.used -= charge.bytes;
        this.held.delete(charge);
        this.pump();
      },
    };
    return grant;
  }

  /** Admits waiters in order while the first one fits. */
  private pump(): void {
    const first = this.waiters[0];
    if (first && this.used + first.bytes <= this.capacityBytes) first.grant();
  }
}
