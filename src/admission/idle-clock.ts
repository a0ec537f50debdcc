/**
 * The idle clock: owns the in-flight count and decides when the appliance has been idle long
 * enough to exit. Only real work counts as activity (PDF requests and the warm-up redirects);
 * health checks and metrics scrapes never touch it, or a 1 s health poll would keep the
 * machine (and its bill) alive forever.
 */
export class IdleClock {
  private inFlight = 0;
  private timer: NodeJS.Timeout | null = null;
  private fired = false;
  private lastActivity = Date.now();

  constructor(
    private readonly timeoutMs: number,
    private readonly onIdle: () => void,
  ) {}

  /** Starts the countdown; call once the server is listening. */
  start(): void {
    this.lastActivity = Date.now();
    this.arm();
  }

  /** A request that does no long work (a redirect) still proves someone is about to need us. */
  touch(): void {
    this.lastActivity = Date.now();
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
      this.lastActivity = Date.now();
      if (this.inFlight === 0) this.arm();
    };
  }

  get active(): number {
    return this.inFlight;
  }

  get idleForMs(): number {
    return this.inFlight > 0 ? 0 : Date.now() - this.lastActivity;
  }

  stop(): void {
    this.fired = true;
    this.disarm();
  }

  /** After a suspend the Machine was resumed: count idle time afresh from now. */
  resume(): void {
    this.fired = false;
    this.lastActivity = Date.now();
    if (this.inFlight === 0) this.arm();
  }

  private arm(): void {
    this.disarm();
    if (this.timeoutMs === 0 || this.fired) return;
    this.timer = setTimeout(() => {
      if (this.inFlight > 0) return; // begin() disarms, but be certain
      this.fired = true;
      this.onIdle();
    }, this.timeoutMs);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
