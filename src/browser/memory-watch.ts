import { spawn } from 'node:child_process';
import type { Logger } from '../observability/log.js';
import { privateBytes, ProcessTable } from './procfs.js';

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
 *   Chromium process is read: a renderer over RENDER_MEMORY_MB is killed, which fails only the
 *   render in that tab with a clear error; if the whole tree is over its budget, the largest
 *   renderer goes.
 */
export const DATA_HEADROOM_BYTES = 1024 * 1024 * 1024;
const TICK_MS = 50;

export interface MemoryWatchOptions {
  rootPid: number;
  renderBudgetBytes: number;
  treeBudgetBytes: number;
  log: Logger;
  onKill(kill: MemoryKill): void;
}

export interface MemoryKill {
  pid: number;
  type: string;
  bytes: number;
  reason: 'render-budget' | 'tree-budget';
}

export class MemoryWatch {
  private readonly table = new ProcessTable();
  private readonly limited = new Set<number>();
  private timer: NodeJS.Timeout | null = null;
  private prlimitBroken = false;
  private lastKillAt = 0;
  private kills = 0;

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

  /** A renderer was killed for memory within `ms`: a crash seen now is most likely that kill. */
  killedWithin(ms: number): boolean {
    return Date.now() - this.lastKillAt <= ms;
  }

  /** One check now; returns how many renderers it killed. */
  sweep(): number {
    const before = this.kills;
    this.tick();
    return this.kills - before;
  }

  private tick(): void {
    const procs = this.table.descendants(this.opts.rootPid);
    let total = 0;
    let largest: { pid: number; type: string; bytes: number } | null = null;
    const live = new Set<number>();
    for (const p of procs) {
      live.add(p.pid);
      const bytes = privateBytes(p.pid);
      if (bytes === null) continue;
      total += bytes;
      if (p.type !== 'renderer') continue;
      if (!this.limited.has(p.pid)) this.limit(p.pid);
      if (bytes > this.opts.renderBudgetBytes) {
        this.kill({ pid: p.pid, type: p.type, bytes, reason: 'render-budget' });
        total -= bytes;
        continue;
      }
      if (!largest || bytes > largest.bytes) largest = { pid: p.pid, type: p.type, bytes };
    }
    for (const pid of this.limited) if (!live.has(pid)) this.limited.delete(pid);
    if (total > this.opts.treeBudgetBytes && largest) this.kill({ ...largest, reason: 'tree-budget' });
  }

  private limit(pid: number): void {
    this.limited.add(pid);
    if (this.prlimitBroken) return;
    const bytes = this.opts.renderBudgetBytes + DATA_HEADROOM_BYTES;
    const child = spawn('prlimit', ['--pid', String(pid), `--data=${bytes}:${bytes}`], { stdio: 'ignore', env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' } });
    child.on('error', (err) => {
      // No prlimit binary (util-linux): the watch still kills over-budget renderers.
      this.prlimitBroken = true;
      this.opts.log.warn({ err: err.message }, 'prlimit unavailable: renderer memory is bounded by the watch alone');
    });
  }

  private kill(k: MemoryKill): void {
    try {
      process.kill(k.pid, 'SIGKILL');
    } catch {
      return; // already gone
    }
    this.lastKillAt = Date.now();
    this.kills++;
    this.opts.onKill(k);
  }
}
