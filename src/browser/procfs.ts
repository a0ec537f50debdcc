import { readdirSync, readFileSync } from 'node:fs';

/** A Chromium process as /proc shows it. */
export interface ProcessInfo {
  pid: number;
  /** Chromium's --type (renderer, gpu-process, utility, zygote), or 'browser'. */
  type: string;
}

/**
 * Parent pids and process types by pid, remembered: neither changes during a process's life
 * (once a zygote's child has renamed itself), and a tick of the memory watch then costs one
 * readdir and a read per new process.
 */
export class ProcessTable {
  private readonly known = new Map<number, { ppid: number; type: string }>();

  /** Every live process below `root` (root included), with its type. */
  descendants(root: number): ProcessInfo[] {
    const live = new Set<number>();
    const children = new Map<number, number[]>();
    for (const name of safeReaddir('/proc')) {
      const pid = Number(name);
      if (!Number.isInteger(pid)) continue;
      live.add(pid);
      let info = this.known.get(pid);
      if (!info) {
        const ppid = readPpid(pid);
        if (ppid === null) continue;
        info = { ppid, type: '' };
        this.known.set(pid, info);
      }
      const list = children.get(info.ppid);
      if (list) list.push(pid);
      else children.set(info.ppid, [pid]);
    }
    for (const pid of this.known.keys()) if (!live.has(pid)) this.known.delete(pid);
    const out: ProcessInfo[] = [];
    const stack = [root];
    while (stack.length > 0) {
      const pid = stack.pop()!;
      if (!live.has(pid)) continue;
      const info = this.known.get(pid);
      // A renderer forked from the zygote shows the zygote's command line until it renames
      // itself; a type read in that moment must not stick (the memory watch would never check
      // that renderer). Zygotes are one or two processes: reading them each time costs nothing.
      if (info && (info.type === '' || info.type === 'zygote')) info.type = readType(pid);
      out.push({ pid, type: info?.type || 'browser' });
      stack.push(...(children.get(pid) ?? []));
    }
    return out;
  }
}

/** Private memory of a process in bytes: anonymous plus shared-memory pages it has resident. */
export function privateBytes(pid: number): number | null {
  return memoryOf(pid)?.bytes ?? null;
}

/**
 * Private memory (as privateBytes) and whether the process has already died: a process that
 * was killed stays in /proc as a zombie, with no memory, until its parent reaps it (Chromium's
 * zygote does that when it gets round to it). Null when it is gone altogether. One read.
 */
export function memoryOf(pid: number): { bytes: number; dead: boolean } | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const state = /^State:\s+(\S)/m.exec(status)?.[1];
  return { bytes: (field(status, 'RssAnon') + field(status, 'RssShmem')) * 1024, dead: state === 'Z' || state === 'X' };
}

function field(status: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status);
  return m ? Number(m[1]) : 0;
}

function readPpid(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[1]);
  } catch {
    return null;
  }
}

function readType(pid: number): string {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /--type=([a-z-]+)/.exec(cmd)?.[1] ?? 'browser';
  } catch {
    return 'gone';
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
