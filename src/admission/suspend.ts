import type { Logger } from '../observability/log.js';

/**
 * IDLE_ACTION=suspend: when the idle clock fires, ask Fly's Machines API to suspend this
 * Machine (a memory snapshot: the next request resumes it in a few hundred milliseconds with
 * Chromium warm, instead of a cold start). The process expects never to hear the answer
 * reliably: it may be frozen before or after it arrives. What it must get right:
 *
 * - A refused or failed call (wrong token, no API, timeout) before anything woke it: fall back
 *   to exit, and say why (never the token).
 * - Resumed: the next thing it sees is the request that woke it (`activity()`), or, with no
 *   request, a jump in the heartbeat (the process did not run for a while). Then it is awake:
 *   the caller restarts the idle clock and checks what a snapshot can leave stale.
 * - Acknowledged but never frozen (a platform that said yes and did nothing): after
 *   UNFROZEN_FALLBACK_MS awake and idle, fall back to exit rather than run on unbilled-for.
 *   The emulator freezes 100 ms after it answers.
 */

/** Heartbeat period; a gap of GAP_MS between beats means the process was frozen. */
const BEAT_MS = 1000;
const GAP_MS = 2500;
const CALL_TIMEOUT_MS = 10_000;
const UNFROZEN_FALLBACK_MS = 60_000;

export type SuspendState = 'awake' | 'suspending' | 'suspended';

/** The Machines API of this Machine (IDLE_ACTION=suspend), from the settings. The token is never logged. */
export interface MachinesApi {
  url: string;
  token: string;
  app: string;
  machine: string;
}

export interface SuspenderOptions {
  api: MachinesApi;
  log: Logger;
  /** Resumed: restart the idle clock, check Chromium, drop stale connections and cache trust. */
  onResume(how: 'request' | 'clock-gap'): void;
  /** The suspend could not happen: exit the way IDLE_ACTION=exit does. */
  onFallback(reason: string): void;
}

export class Suspender {
  state: SuspendState = 'awake';
  private heartbeat: NodeJS.Timeout | null = null;
  private fallbackTimer: NodeJS.Timeout | null = null;
  private lastBeat = 0;
  /** Bumped at every wake: an answer that arrives after one belongs to a finished episode. */
  private episode = 0;

  constructor(private readonly opts: SuspenderOptions) {}

  /** Called by the idle clock. Resolves once the call was answered (or failed); the process may be frozen meanwhile. */
  async suspend(): Promise<void> {
    if (this.state !== 'awake') return;
    const episode = ++this.episode;
    this.state = 'suspending';
    this.startHeartbeat();
    const { api, log } = this.opts;
    const url = `${api.url}/v1/apps/${encodeURIComponent(api.app)}/machines/${encodeURIComponent(api.machine)}/suspend`;
    log.info({ machine: api.machine }, 'idle: asking the Machines API to suspend this Machine');
    let failure: string | null = null;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${api.token}` },
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok)
        failure = `the Machines API answered ${res.status}${res.status === 401 || res.status === 403 ? ' (check FLY_API_TOKEN)' : ''}`;
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      failure = `the Machines API could not be reached (${cause ?? (err instanceof Error ? err.name : 'error')})`;
    }
    // Woken (and maybe frozen and resumed) while the call was out: nothing left to do.
    if (episode !== this.episode) return;
    if (failure !== null) return this.fallBack(failure);
    this.state = 'suspended';
    this.fallbackTimer = setTimeout(() => {
      if (this.frozenSinceLastBeat()) return this.wake('clock-gap');
      if (this.state === 'suspended' && episode === this.episode)
        this.fallBack(`still running ${UNFROZEN_FALLBACK_MS / 1000} s after the Machines API accepted the suspend`);
    }, UNFROZEN_FALLBACK_MS);
    this.fallbackTimer.unref();
  }

  /** Any request or connection. While suspending or suspended, it is the one that woke us. */
  activity(): void {
    if (this.state !== 'awake') this.wake('request');
  }

  stop(): void {
    this.clearTimers();
  }

  private wake(how: 'request' | 'clock-gap'): void {
    if (this.state === 'awake') return;
    this.episode++;
    this.state = 'awake';
    this.clearTimers();
    this.opts.log.info({ how }, 'resumed after suspend');
    this.opts.onResume(how);
  }

  private fallBack(reason: string): void {
    this.clearTimers();
    this.state = 'awake';
    this.opts.log.warn({ reason }, 'suspend failed; exiting instead');
    this.opts.onFallback(reason);
  }

  private startHeartbeat(): void {
    this.lastBeat = performance.now();
    this.heartbeat = setInterval(() => {
      if (this.frozenSinceLastBeat()) this.wake('clock-gap');
      this.lastBeat = performance.now();
    }, BEAT_MS);
    this.heartbeat.unref();
  }

  /** True when the process did not run for a while (frozen and continued). */
  private frozenSinceLastBeat(): boolean {
    return this.heartbeat !== null && performance.now() - this.lastBeat > GAP_MS;
  }

  private clearTimers(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.fallbackTimer) clearTimeout(this.fallbackTimer);
    this.heartbeat = null;
    this.fallbackTimer = null;
  }
}
