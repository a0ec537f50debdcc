import { spawn } from 'node:child_process';
import type { ImageCharge } from '../admission/image-memory.js';
import type { Logger } from '../observability/log.js';
import { memoryOf, ProcessTable } from './procfs.js';

/**
 * Keeps Chromium's memory inside the budget. The JS heap cap covers only part of what a page
 * can allocate (measured, one render each, no limits: 3 GB of ArrayBuffers, 2 GB of
 * WebAssembly memory, 1.5 GB of canvases, all private to the renderer). Two bounds:
 *
 * - Each renderer process gets RLIMIT_DATA = budget + DATA_HEADROOM (prlimit, as it appears):
 *   past it the kernel refuses the allocation, whatever the watch below is doing. It is a
 *   backstop, set well above the budget: an idle renderer already maps 220–640 MB of data
 *   segment for 20–50 MB resident (measured here), and a page whose allocation is refused early
 *   catches the error and prints on, which must not happen before the watch had its say.
 * - Every TICK_MS (50 ms) the private memory (anonymous + shared-memory resident pages) of every
 *   Chromium process is read, and each render is held to its budget (RENDER_MEMORY_MB): a
 *   render is a group of renderer processes its owner registered (register(): a browser
 *   context's tab and its out-of-process frames, see renderer-pid.ts), or else one renderer.
 *   A render over its budget is stopped by killing its renderers, which fails only that render
 *   with a clear error.
 *
 * When the whole tree is over its budget (the machine's memory minus a reserve), the render
 * that caused it goes. The cause is read from where the memory is: renderers count for their
 * render; growth of Chromium's own processes (browser, GPU, utilities) above where they stood
 * with no capture running is charged to the image captures running now (image-memory.ts), by
 * what each was admitted with. A render's score is its renderers plus its share of that growth,
 * and the highest goes. When renderers alone would fit and no capture is running, no render is
 * to blame: killing one would not give the memory back, so the watch only warns (once per
 * episode).
 *
 * Never twice: a process is killed once (a killed renderer stays in /proc as a zombie, with no
 * memory, until the zygote reaps it: it is no longer a candidate), a group is acted on once,
 * and while a kill or a stopped capture is still giving its memory back, the tree budget waits
 * for it rather than picking a second victim for the same excess.
 */
export const DATA_HEADROOM_BYTES = 1024 * 1024 * 1024;
const TICK_MS = 50;

export interface MemoryWatchOptions {
  rootPid: number;
  /** A render's budget (RENDER_MEMORY_MB): for a renderer in no group, and a group's default. */
  renderBudgetBytes: number;
  treeBudgetBytes: number;
  /** The image captures running now and their charges. */
  images?: { charges(): ImageCharge[] };
  log: Logger;
  onKill(kill: MemoryKill): void;
}

export type MemoryReason = 'render-budget' | 'tree-budget';

export interface MemoryKill {
  pid: number;
  type: string;
  bytes: number;
  reason: MemoryReason;
  /** The group it was registered in, if any. */
  group?: string;
}

/** A group's renders went over: its own budget, or the machine's and it was the cause. */
export interface GroupOver {
  key: string;
  bytes: number;
  reason: MemoryReason;
}

/** A render's processes under one budget (register()). */
export interface MemoryGroup {
  /** The renderer processes of the group now; a process in another group leaves that one. */
  setPids(pids: readonly number[]): void;
  /** The group is gone (its context disposed): forgotten, its processes are judged alone again. */
  release(): void;
}

interface Group {
  key: string;
  budget: number;
  pids: Set<number>;
  acted: boolean;
  onOver(over: GroupOver): void;
}

/** A render as the watch judges it: a registered group, or a lone renderer. */
interface Unit {
  key: string;
  group: Group | null;
  budget: number;
  bytes: number;
  pids: number[];
}

interface Proc {
  pid: number;
  type: string;
  bytes: number;
}

export class MemoryWatch {
  private readonly table = new ProcessTable();
  private readonly limited = new Set<number>();
  private readonly groups = new Map<string, Group>();
  /** Processes this watch killed, until they are gone from /proc. */
  private readonly killed = new Set<number>();
  /** Captures asked to stop, until they gave their memory back. */
  private readonly stopped = new WeakSet<ImageCharge>();
  /** What Chromium's own processes held at the last tick with no capture running. */
  private restingBytes: number | null = null;
  private warned = false;
  private timer: NodeJS.Timeout | null = null;
  private prlimitBroken = false;
  private lastKillAt = 0;
  private actions = 0;

  constructor(private readonly opts: MemoryWatchOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
    this.tick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * Holds the processes of one render to one budget. `key` is the render's browser context id:
   * its image captures are charged under the same key (capture.ts), which is how Chromium's own
   * growth during a capture is charged to this group. `onOver` is called once, when the watch
   * acts on the group: its renderers are being killed and its captures stopped. Its `reason`
   * says which budget: a render over its own (RENDER_MEMORY_MB) or the machine's, to which this
   * render contributed the most.
   */
  register(key: string, budgetBytes: number, onOver: (over: GroupOver) => void): MemoryGroup {
    const group: Group = { key, budget: budgetBytes, pids: new Set(), acted: false, onOver };
    this.groups.set(key, group);
    return {
      setPids: (pids) => {
        for (const other of this.groups.values()) if (other !== group) for (const pid of pids) other.pids.delete(pid);
        group.pids = new Set(pids);
      },
      release: () => {
        if (this.groups.get(key) === group) this.groups.delete(key);
      },
    };
  }

  /** A renderer was killed for memory within `ms`: a crash seen now is most likely that kill. */
  killedWithin(ms: number): boolean {
    return Date.now() - this.lastKillAt <= ms;
  }

  /** One check now; returns how many renders it acted on. */
  sweep(): number {
    const before = this.actions;
    this.tick();
    return this.actions - before;
  }

  private tick(): void {
    const procs = this.table.descendants(this.opts.rootPid);
    const present = new Set(procs.map((p) => p.pid));
    for (const pid of this.killed) if (!present.has(pid)) this.killed.delete(pid);
    for (const pid of this.limited) if (!present.has(pid)) this.limited.delete(pid);

    const live: Proc[] = [];
    let dying = false;
    for (const p of procs) {
      const mem = memoryOf(p.pid);
      if (mem === null || mem.dead) continue;
      if (this.killed.has(p.pid)) {
        // Killed and not yet a zombie: its memory is still on its way back.
        dying = true;
        continue;
      }
      live.push({ pid: p.pid, type: p.type, bytes: mem.bytes });
      if (p.type === 'renderer' && !this.limited.has(p.pid)) this.limit(p.pid);
    }

    const units = this.unitsOf(live);
    let total = live.reduce((sum, p) => sum + p.bytes, 0);
    for (const u of units) {
      if (u.bytes <= u.budget) continue;
      this.act(u, 'render-budget');
      total -= u.bytes;
    }
    this.treeCheck(
      live,
      units.filter((u) => !this.actedOn(u)),
      total,
      dying,
    );
  }

  /** Registered groups with their live renderers, then every renderer in no group, alone. */
  private unitsOf(live: Proc[]): Unit[] {
    const renderers = new Map(live.filter((p) => p.type === 'renderer').map((p) => [p.pid, p]));
    const units: Unit[] = [];
    const grouped = new Set<number>();
    for (const g of this.groups.values()) {
      const pids = [...g.pids].filter((pid) => renderers.has(pid));
      for (const pid of g.pids) grouped.add(pid);
      if (g.acted) continue;
      units.push({
        key: g.key,
        group: g,
        budget: g.budget,
        bytes: pids.reduce((s, pid) => s + renderers.get(pid)!.bytes, 0),
        pids,
      });
    }
    for (const p of renderers.values()) {
      if (!grouped.has(p.pid))
        units.push({
          key: `pid:${p.pid}`,
          group: null,
          budget: this.opts.renderBudgetBytes,
          bytes: p.bytes,
          pids: [p.pid],
        });
    }
    return units;
  }

  private treeCheck(live: Proc[], units: Unit[], total: number, dying: boolean): void {
    const charges = this.opts.images?.charges() ?? [];
    const own = live.filter((p) => p.type !== 'renderer').reduce((s, p) => s + p.bytes, 0);
    if (charges.length === 0) this.restingBytes = own;
    if (total <= this.opts.treeBudgetBytes) {
      this.warned = false;
      return;
    }
    // The excess of the last action is still being given back: do not act on it twice.
    if (dying || charges.some((c) => this.stopped.has(c))) return;
    const growth = this.restingBytes === null ? 0 : Math.max(0, own - this.restingBytes);
    const charged = charges.reduce((s, c) => s + c.bytes, 0);
    const shareOf = (key: string): number =>
      charged === 0 ? 0 : (growth * charges.filter((c) => c.owner === key).reduce((s, c) => s + c.bytes, 0)) / charged;
    const candidates = units.map((u) => ({ unit: u, score: u.bytes + shareOf(u.key) }));
    // A capture whose render has no group here still answers for its share.
    for (const owner of new Set(charges.map((c) => c.owner))) {
      if (!units.some((u) => u.key === owner))
        candidates.push({
          unit: { key: owner, group: null, budget: Infinity, bytes: 0, pids: [] },
          score: shareOf(owner),
        });
    }
    // The renderers alone would fit: the excess is in Chromium's own processes, and of the
    // renders only those capturing an image put it there.
    const ownFault = total - own <= this.opts.treeBudgetBytes;
    const eligible = candidates.filter((c) => c.score > 0 && (!ownFault || shareOf(c.unit.key) > 0));
    const victim = eligible.sort((a, b) => b.score - a.score)[0];
    if (victim) {
      this.act(victim.unit, 'tree-budget', charges);
      return;
    }
    if (!this.warned) {
      this.warned = true;
      this.opts.log.warn(
        {
          mb: Math.round(total / 2 ** 20),
          chromiumMb: Math.round(own / 2 ** 20),
          budgetMb: Math.round(this.opts.treeBudgetBytes / 2 ** 20),
        },
        'Chromium over its memory budget in its own processes, no render to charge',
      );
    }
  }

  private actedOn(u: Unit): boolean {
    return u.group ? u.group.acted : u.pids.every((pid) => this.killed.has(pid));
  }

  /** Stops one render, once: kills its renderers and stops its captures. */
  private act(u: Unit, reason: MemoryReason, charges: ImageCharge[] = this.opts.images?.charges() ?? []): void {
    if (u.group) u.group.acted = true;
    for (const pid of u.pids) {
      if (this.killed.has(pid)) continue;
      this.killed.add(pid);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        continue; // already gone
      }
      this.lastKillAt = Date.now();
      this.opts.onKill({ pid, type: 'renderer', bytes: u.bytes, reason, ...(u.group ? { group: u.key } : {}) });
    }
    for (const c of charges) {
      if (c.owner !== u.key || this.stopped.has(c)) continue;
      this.stopped.add(c);
      c.stop();
      this.opts.log.warn(
        { context: u.key, mb: Math.round(c.bytes / 2 ** 20), reason },
        'image capture stopped: over the memory budget',
      );
    }
    this.actions++;
    u.group?.onOver({ key: u.key, bytes: u.bytes, reason });
  }

  private limit(pid: number): void {
    this.limited.add(pid);
    if (this.prlimitBroken) return;
    const bytes = this.opts.renderBudgetBytes + DATA_HEADROOM_BYTES;
    const child = spawn('prlimit', ['--pid', String(pid), `--data=${bytes}:${bytes}`], {
      stdio: 'ignore',
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    child.on('error', (err) => {
      // No prlimit binary (util-linux): the watch still kills over-budget renderers.
      this.prlimitBroken = true;
      this.opts.log.warn({ err: err.message }, 'prlimit unavailable: renderer memory is bounded by the watch alone');
    });
  }
}
