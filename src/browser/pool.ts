import type { Identity } from '../security/credentials.js';
import type { Workspace } from './workspace.js';

/**
 * The workspaces of one Chromium, at most `size` of them (one per render slot), each kept for
 * the identity it last served. A render takes, in order of preference:
 *   1. an idle workspace of the same identity ("hot": nothing to do);
 *   2. a clean idle workspace (cookies set: "assigned");
 *   3. while below `size`, a new one ("opened": a context and a renderer to start);
 *   4. the idle workspace used longest ago, switched to the new identity ("switched").
 * A workspace that lingers idle with someone's document in it is switched to clean after
 * `lingerMs`, so one user's page does not stay resident, and the next user finds it clean.
 */
export type Acquisition = 'hot' | 'assigned' | 'opened' | 'switched';

export interface PoolOptions {
  size: number;
  /** Renders before a workspace is replaced (renderer memory creeps up over many documents). */
  maxRenders: number;
  lingerMs: number;
  open(): Promise<Workspace>;
  /** Reports a workspace retired and why (logged and counted by the owner). */
  onRetire(reason: string): void;
}

interface Entry {
  ws: Workspace;
  busy: boolean;
  lastUsed: number;
  linger: NodeJS.Timeout | null;
  /** A switch to clean started by the linger timer; a render waits for it. */
  cleaning: Promise<void> | null;
}

export class WorkspacePool {
  private readonly entries = new Set<Entry>();
  private opening = 0;
  private closed = false;
  private waiters: Array<() => void> = [];

  constructor(private readonly opts: PoolOptions) {}

  get count(): number {
    return this.entries.size;
  }

  /**
   * A workspace ready for `identity` on `origin`. The caller bounds the wait with its own
   * deadline (`signal`): acquisition counts inside RENDER_TIMEOUT.
   */
  async acquire(identity: Identity, origin: string, signal: AbortSignal): Promise<{ ws: Workspace; how: Acquisition }> {
    for (;;) {
      if (this.closed) throw new Error('workspace pool closed');
      signal.throwIfAborted();
      // A workspace can retire while idle (its renderer crashed or was killed for memory).
      for (const e of [...this.entries]) if (!e.busy && e.cleaning === null && e.ws.retired) this.drop(e);
      const idle = [...this.entries].filter((e) => !e.busy && e.cleaning === null);
      const same = idle.find((e) => e.ws.identityKey === identity.key);
      if (same) return { ws: this.take(same), how: 'hot' };
      const clean = idle.find((e) => e.ws.identityKey === null);
      if (clean) {
        const ws = this.take(clean);
        const got = await this.prepared(clean, () => ws.assign(identity, origin), 'assigned');
        if (got) return got;
        continue;
      }
      if (this.entries.size + this.opening < this.opts.size) {
        const entry = await this.open(true);
        if (!entry) throw new Error('workspace pool closed');
        return (await this.prepared(entry, () => entry.ws.assign(identity, origin), 'opened'))!;
      }
      const oldest = idle.sort((a, b) => a.lastUsed - b.lastUsed)[0];
      if (oldest) {
        const ws = this.take(oldest);
        const got = await this.prepared(oldest, () => ws.switchTo(identity, origin), 'switched');
        if (got) return got;
        continue;
      }
      // Every workspace is busy or being cleaned: wait for one to come back.
      await this.changed(signal);
    }
  }

  /**
   * Opens one clean workspace ahead of the first render, while nothing else runs: the first
   * request then finds a tab ready instead of paying a renderer start.
   */
  async prewarm(): Promise<void> {
    if (this.closed || this.entries.size + this.opening >= this.opts.size) return;
    if (await this.open(false)) this.wake();
  }

  /** A new workspace in the pool, or null when the pool closed while it opened. */
  private async open(busy: boolean): Promise<Entry | null> {
    this.opening++;
    let ws: Workspace;
    try {
      ws = await this.opts.open();
    } finally {
      this.opening--;
    }
    if (this.closed) {
      await ws.close();
      return null;
    }
    const entry: Entry = { ws, busy, lastUsed: Date.now(), linger: null, cleaning: null };
    this.entries.add(entry);
    return entry;
  }

  /** Gives a workspace back. `reusable: false` (a failed render) replaces it. */
  release(ws: Workspace, reusable: boolean): void {
    const entry = [...this.entries].find((e) => e.ws === ws);
    if (!entry) {
      void ws.close();
      return;
    }
    entry.busy = false;
    entry.lastUsed = Date.now();
    if (!reusable) ws.retire('render did not finish cleanly');
    else if (ws.renders >= this.opts.maxRenders) ws.retire(`served ${ws.renders} renders`);
    if (ws.retired || this.closed) {
      this.drop(entry);
    } else if (ws.identityKey !== null && this.opts.lingerMs > 0) {
      entry.linger = setTimeout(() => this.clean(entry), this.opts.lingerMs);
      entry.linger.unref();
    }
    this.wake();
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.entries];
    this.entries.clear();
    for (const e of all) if (e.linger) clearTimeout(e.linger);
    this.wake();
    await Promise.all(all.map((e) => e.ws.close()));
  }

  private take(entry: Entry): Workspace {
    entry.busy = true;
    if (entry.linger) clearTimeout(entry.linger);
    entry.linger = null;
    return entry.ws;
  }

  /**
   * Runs the preparation. A workspace that cannot be prepared (a switch whose old page would not
   * drain, say) is retired, and the caller tries again: a new one takes its place.
   */
  private async prepared(entry: Entry, prepare: () => Promise<void>, how: Acquisition): Promise<{ ws: Workspace; how: Acquisition } | null> {
    try {
      await prepare();
      return { ws: entry.ws, how };
    } catch (err) {
      entry.ws.retire(`could not be prepared: ${err instanceof Error ? err.message : String(err)}`);
      this.release(entry.ws, false);
      // A new workspace that cannot take the identity: trying again would only repeat it.
      if (how === 'opened') throw err;
      return null;
    }
  }

  /** Lingered long enough: switch it to clean in the background (a render waits for it). */
  private clean(entry: Entry): void {
    entry.linger = null;
    if (entry.busy || entry.ws.retired || this.closed) return;
    entry.cleaning = entry.ws
      .switchTo(null)
      .catch((err: unknown) => {
        entry.ws.retire(`could not be cleaned: ${err instanceof Error ? err.message : String(err)}`);
        this.drop(entry);
      })
      .finally(() => {
        entry.cleaning = null;
        this.wake();
      });
  }

  private drop(entry: Entry): void {
    this.entries.delete(entry);
    if (entry.linger) clearTimeout(entry.linger);
    this.opts.onRetire(entry.ws.retired ?? 'closed');
    void entry.ws.close();
  }

  private changed(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.push(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
