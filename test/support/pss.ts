import { readFileSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { ProcessTable } from '../../src/browser/procfs.js';

/**
 * Memory of a process tree as the kernel would account it against a VM: PSS (proportional
 * set size) splits each shared page among the processes that map it, so summing it over
 * Chromium's zygote, renderers and utilities does not count shared libraries once per
 * process the way RSS does. Linux only (/proc/<pid>/smaps_rollup).
 */

/** Bytes of PSS of `rootPid` and all its descendants; processes that exit meanwhile count 0. */
export async function sampleTreePss(rootPid: number): Promise<number> {
  const sizes = await Promise.all([rootPid, ...treeOf(rootPid)].map(pssOf));
  return sizes.reduce((a, b) => a + b, 0);
}

/**
 * The same sum split by role: `node` for the root, Chromium's `--type=` (renderer, zygote,
 * gpu-process, utility…) for the rest, `browser` for Chromium's main process.
 */
export async function treePssByKind(rootPid: number): Promise<Record<string, { bytes: number; processes: number }>> {
  const out: Record<string, { bytes: number; processes: number }> = {};
  const pids = [rootPid, ...treeOf(rootPid)];
  const sizes = await Promise.all(pids.map(pssOf));
  pids.forEach((pid, i) => {
    const kind = pid === rootPid ? 'node' : kindOf(pid);
    const k = (out[kind] ??= { bytes: 0, processes: 0 });
    k.bytes += sizes[i]!;
    k.processes++;
  });
  return out;
}

/**
 * Bytes of physical memory the tree maps, each page counted once however many of the tree's
 * processes share it (from /proc/<pid>/pagemap; needs root for the frame numbers). This is
 * what the tree would cost on a VM of its own. PSS cannot say that on a shared machine: it
 * also splits Chromium's library pages with every *other* Chromium running there, so our
 * figure would drop whenever a neighbour starts a browser. Page cache the tree does not map,
 * kernel memory and tmpfs files nobody maps are not included. Slow (~1 s): not for tight loops.
 */
export async function sampleTreeFootprint(rootPid: number): Promise<number> {
  return (await treeFootprint(rootPid)).total;
}

export interface Footprint {
  total: number;
  /** Private and anonymous memory: heaps, stacks. Cannot be reclaimed without swap. */
  anon: number;
  /** Shared memory between Chromium's processes (memfd, /dev/shm, unlinked temp files). */
  shmem: number;
  /** Mapped files (the Chromium and node binaries, ICU data, fonts): clean, reclaimable page cache. */
  file: number;
}

export async function treeFootprint(rootPid: number): Promise<Footprint> {
  const seen = new Set<number>();
  const out: Footprint = { total: 0, anon: 0, shmem: 0, file: 0 };
  let zeroFrames = 0;
  for (const pid of [rootPid, ...treeOf(rootPid)]) {
    for (const { kind, frames } of await framesOf(pid)) {
      for (const f of frames) {
        if (f === 0) zeroFrames++;
        if (seen.has(f)) continue;
        seen.add(f);
        out[kind] += PAGE;
        out.total += PAGE;
      }
    }
  }
  // Without CAP_SYS_ADMIN the kernel reports every frame as 0: refuse rather than say "4 kB".
  if (zeroFrames > 1 && seen.size === 1) throw new Error('treeFootprint needs root (pagemap frame numbers are hidden)');
  return out;
}

const PAGE = 4096;
type Kind = 'anon' | 'shmem' | 'file';

function kindOfMapping(path: string): Kind {
  if (path === '' || path.startsWith('[')) return 'anon';
  if (
    path.startsWith('/memfd:') ||
    path.startsWith('/dev/shm/') ||
    path.startsWith('/SYSV') ||
    path.endsWith('(deleted)')
  )
    return 'shmem';
  return 'file';
}

async function framesOf(pid: number): Promise<Array<{ kind: Kind; frames: number[] }>> {
  let smaps: string;
  try {
    smaps = await readFile(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return []; // exited
  }
  // Only ranges with resident pages: Chromium reserves tens of GB of address space it never touches.
  const ranges: Array<{ start: number; end: number; kind: Kind }> = [];
  let current: { start: number; end: number; kind: Kind } | null = null;
  for (const line of smaps.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      current = { start: parseInt(head[1]!, 16), end: parseInt(head[2]!, 16), kind: kindOfMapping(head[3]!.trim()) };
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && current && Number(rss[1]) > 0) ranges.push(current);
  }
  let fh;
  try {
    fh = await open(`/proc/${pid}/pagemap`, 'r');
  } catch {
    return [];
  }
  const out: Array<{ kind: Kind; frames: number[] }> = [];
  try {
    for (const { start, end, kind } of ranges) {
      const buf = Buffer.alloc(((end - start) / PAGE) * 8);
      const { bytesRead } = await fh.read(buf, 0, buf.length, (start / PAGE) * 8);
      const frames: number[] = [];
      for (let off = 0; off + 8 <= bytesRead; off += 8) {
        const hi = buf.readUInt32LE(off + 4);
        if (hi >>> 31 === 0) continue; // not present in RAM
        frames.push((hi & 0x7fffff) * 2 ** 32 + buf.readUInt32LE(off));
      }
      out.push({ kind, frames });
    }
  } catch {
    // exited while we read
  } finally {
    await fh.close();
  }
  return out;
}

/** PIDs below `root` (children, grandchildren…; not root itself), from /proc parent links. */
export function treeOf(root: number): number[] {
  return new ProcessTable()
    .descendants(root)
    .map((p) => p.pid)
    .filter((pid) => pid !== root);
}

async function pssOf(pid: number): Promise<number> {
  try {
    const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    const m = /^Pss:\s+(\d+) kB/m.exec(text);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function kindOf(pid: number): string {
  try {
    // Chromium rewrites its process title, so the arguments may be one space-joined string.
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    const type = /--type=(\S+)/.exec(cmdline);
    if (type) return type[1]!;
    return /chrom/i.test(cmdline.split(' ')[0] ?? '') ? 'browser' : 'other';
  } catch {
    return 'gone';
  }
}
