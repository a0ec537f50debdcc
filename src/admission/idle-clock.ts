/**
 * The idle clock: owns the in-flight count and decides when the appliance has been idle long
 * enough to exit. Only real work counts as activity (PDF requests and the warm-up redirects);
 * health checks and metrics scrapes never touch it, or a 1 s health poll would keep the
 * machine (and its bill) alive forever.
 */
export class IdleClock {
  private inFlight = 0;
  private timer: Timer | null = null;
  private fired = false;
  private lastActivity: number;

  constructor(
    private readonly timeoutMs: number,
    private readonly onIdle: () => void,
    private readonly time: Time = SYSTEM_TIME,
  ) {
    this.lastActivity = time.now();
  }

  /** Starts the countdown; call once the server is listening. */
  start(): void {
    this.lastActivity = this.time.now();
    this.arm();
  }

  /** A request that does no long work (a redirect) still proves someone is about to need us. */
  touch(): void {
    this.lastActivity = this.time.now();
    if (this.inFlight === 0) this.arm();
  }

  /** Marks work in flight; the returned function ends it (idempotent). */
  begin(): () => void {
    this.inFlight++;
    this.disarm();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.inFlight--;
      this.lastActivity = this.time.now();
      if (this.inFlight === 0) this.arm();
    };
  }

  get active(): number {
    return this.inFlight;
  }

  get idleForMs(): number {
    return this.inFlight > 0 ? 0 : this.time.now() - this.lastActivity;
  }

  stop(): void {
    this.fired = true;
    this.disarm();
  }

  /** After a suspend the Machine was resumed: count idle time afresh from now. */
  resume(): void {
    this.fired = false;
    this.lastActivity = this.time.now();
    if (this.inFlight === 0) this.arm();
  }

  private arm(): void {
    this.disarm();
    if (this.timeoutMs === 0 || this.fired) return;
    this.timer = this.time.setTimer(() => {
      if (this.inFlight > 0) return; // begin() disarms, but be certain
      this.fired = true;
      this.onIdle();
    }, this.timeoutMs);
  }

  private disarm(): void {
    this.timer?.cancel();
    this.timer = null;
  }
}

/** The clock the idle clock reads and sets its one timer on (the tests drive their own). */
export interface Time {
  now(): number;
  setTimer(fn: () => void, ms: number): Timer;
}

export interface Timer {
  cancel(): void;
}

const SYSTEM_TIME: Time = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    // Unref'd: a pending idle timer alone never keeps the process up.
    const t = setTimeout(fn, ms).unref();
    return { cancel: () => clearTimeout(t) };
  },
};
