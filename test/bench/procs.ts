import { spawn, fork, type ChildProcess, type SpawnOptions, type ForkOptions } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { treeOf } from '../support/pss.js';

/**
 * Marks every process this run starts, Chromium included (it inherits the environment), so a
 * final sweep can find our own leftovers by this id — never by name.
 */
export const RUN_MARK_NAME = 'PDF_APPLIANCE_BENCH_RUN';
export const RUN_MARK = randomUUID();
process.env[RUN_MARK_NAME] = RUN_MARK;

/**
 * Every process the benchmark starts is registered here so that one call ends them all,
 * whatever went wrong. Trees are killed by the PIDs we snapshot below our own children,
 * never by name: other people run Chromium on this machine at the same time.
 */
const live = new Set<ChildProcess>();

export function track<T extends ChildProcess>(child: T): T {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

export function spawnTracked(cmd: string, args: string[], opts: SpawnOptions): ChildProcess {
  // A process group of its own lets one signal reach npm, its shell and node together.
  return track(spawn(cmd, args, { ...opts, detached: true }));
}

export function forkTracked(modulePath: string, args: string[], opts: ForkOptions = {}): ChildProcess {
  return track(fork(modulePath, args, { ...opts, detached: true }));
}

/** PIDs below `root` (children, grandchildren…). */
export const descendants = treeOf;

/** A zombie counts as gone: it holds no memory and only its parent (or init) can reap it. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * SIGTERM to the child's group (the appliance drains and closes Chromium itself), then
 * SIGKILL for anything of the tree still there after `graceMs`. Chromium runs in a process
 * group of its own (puppeteer detaches it), so it is reached through the snapshot.
 */
export async function killTree(child: ChildProcess, graceMs = 8_000): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  const tree = [pid, ...descendants(pid)];
  const exited =
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((r) => child.once('exit', () => r()));
  signal(-pid, 'SIGTERM');
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs))]);
  while (Date.now() < deadline && tree.some(alive)) await new Promise((r) => setTimeout(r, 50));
  for (const p of tree) if (alive(p)) signal(p, 'SIGKILL');
  live.delete(child);
}

export async function killAll(): Promise<void> {
  await Promise.all([...live].map((c) => killTree(c, 5_000)));
}

/** Processes still carrying this run's mark (other than this one). */
export function marked(): number[] {
  const needle = `${RUN_MARK_NAME}=${RUN_MARK}`;
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(needle) && alive(Number(name)))
        out.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

/** Final sweep: SIGKILL whatever of ours survived; returns how many there were. */
export function sweepMarked(): number {
  const left = marked();
  for (const p of left) signal(p, 'SIGKILL');
  return left.length;
}

/** Last-resort, synchronous: for process.on('exit') where nothing async runs any more. */
export function killAllNow(): void {
  for (const c of live) {
    if (c.pid === undefined) continue;
    for (const p of [c.pid, ...descendants(c.pid)]) signal(p, 'SIGKILL');
  }
  live.clear();
  sweepMarked();
}
