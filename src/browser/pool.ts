import { abortable } from '../abort.js';
import type { Identity } from '../security/credentials.js';
import type { Workspace } from './workspace.js';

/**
 * The workspaces of one Chromium. A workspace (a browser context and its tab) serves one
 * identity for its whole life (workspace.ts); this pool decides which one a render gets:
 *   1. an idle workspace of the same identity, settled since its last render ("hot");
 *   2. a spare: a workspace opened ahead of need and never used ("spare");
 *   3. a new one ("opened"), making room by disposing the idle workspace used longest ago.
 * A request with no credential at all never reuses a workspace: what its page set (a guest
 * session, a share link's cookie) would reach the next anonymous requester.
 *
 * Spares are opened in the background, after a render ends, whenever fewer than `spares` are
 * ready: a new user's click then does not wait for a context and a renderer to start (measured:
 * 155 ms for a spare against 637 ms opened on demand, invoice + print p50). Live workspaces —
 * in use, settling, idle and spare — never number more than `2 × slots + spares` (limit); a
 * spare outranks the idle workspace used longest ago.
 */
export type Acquisition = 'hot' | 'spare' | 'opened';

export interface PoolOptions {
  /** Renders at once (CONCURRENCY): the admission limiter never asks for more. */
  slots: number;
  /** Workspaces kept opened ahead of need. */
  spares: number;
  /** Renders before a workspace is replaced (renderer memory creeps up over many documents). */
  maxRenders: number;
  /** An idle workspace is disposed after this long (0: only when its room is needed). */
  lingerMs: number;
  open(): Promise<Workspace>;
  /** Reports a workspace retired and why (logged and counted by the owner). */
  onRetire(reason: string): void;
  /** Reports a spare that could not be opened in the background (nobody waits to hear it). */
  onSpareFailed(err: unknown): void;
}

type State =
  /** Being opened as a spare (`claimed` once a render waits for it). */
  | 'opening'
  | 'spare'
  | 'busy'
  /** Its last render ended; readying it for its identity's next one. */
  | 'settling'
  | 'idle';

interface Entry {
  state: State;
  ws: Workspace | null;
  /** Settles once an opening entry's workspace exists (or failed to open). */
  opened: Promise<Workspace> | null;
  /** A render waits for this opening spare. */
  claimed: boolean;
  identity: Identity | null;
  origin: string | null;
  lastUsed: number;
  linger: NodeJS.Timeout | null;
}

export class WorkspacePool {
  private readonly entries = new Set<Entry>();
  private closed = false;
  private waiters: Array<() => void> = [];

  constructor(private readonly opts: PoolOptions) {}

  /** Live workspaces (opening ones included). */
  get count(): number {
    return this.entries.size;
  }

  /**
   * Live workspaces: `slots` in use, as many kept idle for their users' next clicks, and the
   * spares. Measured here, 8 users round robin at CONCURRENCY=4 (invoice): with room for the
   * spare only, every click got a fresh context (5.9 PDFs/s); with room for 4 idle users'
   * contexts as well, nearly every click was its user's own (13–16 PDFs/s, 3 runs).
   */
  private get limit(): number {
    return this.opts.slots * 2 + this.opts.spares;
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
      for (const e of [...this.entries]) if ((e.state === 'idle' || e.state === 'spare') && e.ws?.retired) this.drop(e);
      if (!identity.anonymous) {
        const same = this.find((e) => e.state === 'idle' && e.identity?.key === identity.key);
        if (same) return { ws: this.take(same, identity, origin), how: 'hot' };
        // Its own workspace is being settled: that takes moments and beats a fresh one.
        if (this.find((e) => e.state === 'settling' && e.identity?.key === identity.key)) {
          await this.changed(signal);
          continue;
        }
      }
      const spare = this.find((e) => e.state === 'spare');
      if (spare) return this.assigned(spare, identity, origin, 'spare');
      const opening = this.find((e) => e.state === 'opening' && !e.claimed);
      if (opening) {
        const got = await this.claim(opening, identity, origin, signal);
        if (got) return got;
        continue;
      }
      if (this.entries.size >= this.limit) {
        const oldest = this.oldestIdle();
        if (oldest) {
          this.dispose(oldest, 'made room for another identity');
          continue;
        }
        // Everything is in use or on its way: wait for something to come back.
        await this.changed(signal);
        continue;
      }
      const entry = this.newEntry('busy');
      const ws = await this.openInto(entry);
      return this.assigned(entry, identity, origin, 'opened', ws);
    }
  }

  /** Opens the spares now (at launch: the first request then finds a tab ready). */
  async prewarm(): Promise<void> {
    this.replenish();
    await Promise.all([...this.entries].map((e) => e.opened?.catch(() => undefined)));
  }

  /**
   * Gives a workspace back. A render that did not end cleanly, an anonymous one, and one past
   * its render budget are disposed; otherwise the workspace is settled for its identity.
   */
  release(ws: Workspace, reusable: boolean): void {
    const entry = this.find((e) => e.ws === ws);
    if (!entry) {
      void ws.close();
      return;
    }
    // The spare this render used is replaced now, not while it rendered: on two cores a new
    // renderer starting beside a render slows it.
    this.replenish();
    entry.lastUsed = Date.now();
    if (!reusable) ws.retire('render did not finish cleanly');
    else if (entry.identity?.anonymous !== false) ws.retire('anonymous: never reused');
    else if (ws.renders >= this.opts.maxRenders) ws.retire(`served ${ws.renders} renders`);
    if (ws.retired || this.closed) {
      this.drop(entry);
      return;
    }
    entry.state = 'settling';
    ws.settle(entry.identity!, entry.origin!).then(
      () => {
        if (this.closed || entry.state !== 'settling') return;
        entry.state = 'idle';
        if (this.opts.lingerMs > 0) {
          entry.linger = setTimeout(() => this.drop(entry, `idle for ${this.opts.lingerMs} ms`), this.opts.lingerMs);
          entry.linger.unref();
        }
        this.wake();
      },
      (err: unknown) => {
        ws.retire(`could not be settled: ${err instanceof Error ? err.message : String(err)}`);
        this.drop(entry);
      },
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.entries];
    this.entries.clear();
    for (const e of all) if (e.linger) clearTimeout(e.linger);
    this.wake();
    await Promise.all(all.map(async (e) => (e.ws ?? (await e.opened?.catch(() => null)))?.close()));
  }

  private find(pred: (e: Entry) => boolean): Entry | undefined {
    for (const e of this.entries) if (pred(e)) return e;
    return undefined;
  }

  private oldestIdle(): Entry | undefined {
    let oldest: Entry | undefined;
    for (const e of this.entries) if (e.state === 'idle' && (!oldest || e.lastUsed < oldest.lastUsed)) oldest = e;
    return oldest;
  }

  private newEntry(state: State): Entry {
    const entry: Entry = {
      state,
      ws: null,
      opened: null,
      claimed: false,
      identity: null,
      origin: null,
      lastUsed: Date.now(),
      linger: null,
    };
    this.entries.add(entry);
    return entry;
  }

  /**
   * Opens the entry's workspace. A failure (or the pool closing meanwhile) removes the entry; an
   * opening spare becomes a ready one before anyone waiting on `opened` hears of it.
   */
  private openInto(entry: Entry): Promise<Workspace> {
    const opened = (async () => {
      let ws: Workspace;
      try {
        ws = await this.opts.open();
      } catch (err) {
        this.entries.delete(entry);
        this.wake();
        throw err;
      }
      if (this.closed || !this.entries.has(entry)) {
        await ws.close();
        throw new Error('workspace pool closed');
      }
      entry.ws = ws;
      entry.opened = null;
      if (entry.state === 'opening') entry.state = 'spare';
      this.wake();
      return ws;
    })();
    entry.opened = opened;
    opened.catch(() => undefined);
    return opened;
  }

  private take(entry: Entry, identity: Identity, origin: string): Workspace {
    entry.state = 'busy';
    entry.identity = identity;
    entry.origin = origin;
    if (entry.linger) clearTimeout(entry.linger);
    entry.linger = null;
    return entry.ws!;
  }

  /** Waits for an opening spare this render claimed; on the render's deadline it stays a spare. */
  private async claim(
    entry: Entry,
    identity: Identity,
    origin: string,
    signal: AbortSignal,
  ): Promise<{ ws: Workspace; how: Acquisition } | null> {
    entry.claimed = true;
    try {
      await abortable(entry.opened!, signal);
    } catch (err) {
      if (signal.aborted) throw err;
      return null; // it failed to open (already removed): try again
    } finally {
      entry.claimed = false;
    }
    if (entry.state !== 'spare') return null;
    return this.assigned(entry, identity, origin, 'spare');
  }

  /** Hands a fresh workspace to `identity` for good (its cookies in the jar). */
  private async assigned(
    entry: Entry,
    identity: Identity,
    origin: string,
    how: Acquisition,
    ws = entry.ws!,
  ): Promise<{ ws: Workspace; how: Acquisition }> {
    this.take(entry, identity, origin);
    try {
      await ws.assign(identity, origin);
    } catch (err) {
      ws.retire(`could not be assigned: ${err instanceof Error ? err.message : String(err)}`);
      this.drop(entry);
      throw err;
    }
    return { ws, how };
  }

  /** Opens spares in the background until `spares` are ready or on their way, room allowing. */
  private replenish(): void {
    if (this.closed) return;
    let wanted = this.opts.spares;
    for (const e of this.entries) if (e.state === 'spare' || (e.state === 'opening' && !e.claimed)) wanted--;
    while (wanted-- > 0) {
      if (this.entries.size >= this.limit) {
        // A spare ready for the next new user is worth more than the oldest user's idle tab.
        const oldest = this.oldestIdle();
        if (!oldest) return;
        this.dispose(oldest, 'made room for a spare');
      }
      // A failure removes the entry; the next acquire or release tries again.
      this.openInto(this.newEntry('opening')).catch((err: unknown) => {
        if (!this.closed) this.opts.onSpareFailed(err);
      });
    }
  }

  /** Disposes the entry's workspace; its room goes to whoever waits, or to a spare. */
  private drop(entry: Entry, reason?: string): void {
    this.dispose(entry, reason);
    this.wake();
    this.replenish();
  }

  private dispose(entry: Entry, reason?: string): void {
    if (!this.entries.delete(entry)) return;
    if (entry.linger) clearTimeout(entry.linger);
    entry.linger = null;
    if (reason) entry.ws?.retire(reason);
    this.opts.onRetire(entry.ws?.retired ?? reason ?? 'closed');
    void entry.ws?.close();
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
