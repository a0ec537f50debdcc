/**
 * Requests a tab's documents and workers have started and not finished, as Chromium reports
 * them (Network domain events of every session of the tab). The render waits on it for a quiet
 * network before printing; a workspace waits on it before its storage is reset, so that no
 * late response of one user's page writes into the next user's jar.
 */
export class InFlight {
  private readonly pending = new Set<string>();
  private waiters: Array<{ quietMs: number; resolve: () => void; timer: NodeJS.Timeout | null }> = [];

  start(key: string): void {
    this.pending.add(key);
    for (const w of this.waiters) {
      if (w.timer) clearTimeout(w.timer);
      w.timer = null;
    }
  }

  finish(key: string): void {
    if (this.pending.delete(key) && this.pending.size === 0) this.armAll();
  }

  /** Forgets everything in flight (a new document: what the old one started is not ours to wait for). */
  clear(): void {
    this.pending.clear();
    this.armAll();
  }

  /**
   * Resolves at once when nothing is in flight; otherwise once nothing has been in flight for
   * `quietMs` (a page with nothing pending at `load` prints at once; one still fetching is given
   * a quiet window, in case what arrives starts more).
   */
  quiet(quietMs: number): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push({ quietMs, resolve, timer: null });
    });
  }

  /** Whether nothing is in flight, now or within `ms` (the wait ends either way). */
  quietWithin(ms: number): Promise<boolean> {
    if (this.pending.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = { quietMs: 0, resolve: () => { clearTimeout(timer); resolve(true); }, timer: null as NodeJS.Timeout | null };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        if (w.timer) clearTimeout(w.timer);
        resolve(false);
      }, ms);
      this.waiters.push(w);
    });
  }

  /** Stops every wait (their promises stay pending; callers race them against a deadline). */
  abandon(): void {
    for (const w of this.waiters) if (w.timer) clearTimeout(w.timer);
    this.waiters = [];
  }

  private armAll(): void {
    for (const w of this.waiters) if (!w.timer) this.arm(w);
  }

  private arm(w: { quietMs: number; resolve: () => void; timer: NodeJS.Timeout | null }): void {
    w.timer = setTimeout(() => {
      if (this.pending.size > 0) {
        w.timer = null;
        return;
      }
      this.waiters = this.waiters.filter((x) => x !== w);
      w.resolve();
    }, w.quietMs);
  }
}
