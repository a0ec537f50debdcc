import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test, expect } from '@playwright/test';
import { ImageMemory } from '../../../src/admission/image-memory.js';
import { MemoryWatch, type GroupOver, type MemoryKill } from '../../../src/browser/memory-watch.js';
import { memoryOf } from '../../../src/browser/procfs.js';
import { createLogger } from '../../../src/observability/log.js';
import { logSink } from '../../support/stack.js';

// The memory watch reads real processes from /proc. These tests build small process trees of
// their own: a "browser" (a Node process with no --type) that allocates on command and starts
// "renderers" (Node processes with --type=renderer holding a given amount of memory).

const MB = 1024 * 1024;

/**
 * A stand-in for Chromium's main process: `alloc N` holds N MB more, `renderer N` starts one
 * holding N MB. (Its own command line must not spell the renderer flag out: it would be one.)
 */
const BROWSER = `
const { spawn } = require('node:child_process');
const keep = [];
let buf = '';
process.stdin.on('data', (d) => {
  buf += d;
  for (let i; (i = buf.indexOf('\\n')) >= 0; buf = buf.slice(i + 1)) {
    const [cmd, n] = buf.slice(0, i).split(' ');
    if (cmd === 'alloc') { keep.push(Buffer.alloc(Number(n) * 1048576, 1)); process.stdout.write('allocated\\n'); }
    if (cmd === 'renderer') {
      const c = spawn(process.execPath, ['-e', 'const b = Buffer.alloc(' + n + ' * 1048576, 1); process.stdout.write("ready"); setInterval(() => b, 1000)', '--', '--type=' + 'renderer'], { stdio: ['ignore', 'pipe', 'ignore'] });
      c.stdout.once('data', () => process.stdout.write('renderer ' + c.pid + '\\n'));
    }
  }
});
setInterval(() => keep, 1000);
`;

class FakeBrowser {
  private lines: string[] = [];
  private waiters: Array<() => void> = [];
  private readonly renderers: number[] = [];
  readonly proc: ChildProcess;

  constructor() {
    this.proc = spawn(process.execPath, ['-e', BROWSER], { stdio: ['pipe', 'pipe', 'ignore'] });
    let buf = '';
    this.proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) this.lines.push(buf.slice(0, i));
      for (const w of this.waiters.splice(0)) w();
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  private async next(prefix: string): Promise<string> {
    for (;;) {
      const i = this.lines.findIndex((l) => l.startsWith(prefix));
      if (i >= 0) return this.lines.splice(i, 1)[0]!;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  async alloc(mb: number): Promise<void> {
    this.proc.stdin!.write(`alloc ${mb}\n`);
    await this.next('allocated');
  }

  async renderer(mb: number): Promise<number> {
    this.proc.stdin!.write(`renderer ${mb}\n`);
    const pid = Number((await this.next('renderer ')).split(' ')[1]);
    this.renderers.push(pid);
    return pid;
  }

  kill(): void {
    // A renderer never writes again after "ready", so its parent's death does not end it
    // (seen: five of them left running after a run): each is killed by its pid.
    for (const pid of this.renderers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone (the watch killed it)
      }
    }
    this.proc.kill('SIGKILL');
  }
}

function alive(pid: number): boolean {
  const m = memoryOf(pid);
  return m !== null && !m.dead;
}

/** Bytes the watch would count for the whole tree now. */
function treeBytes(pids: number[]): number {
  return pids.reduce((s, pid) => s + (memoryOf(pid)?.bytes ?? 0), 0);
}

function watchOf(rootPid: number, treeBudgetBytes: number, images?: ImageMemory, renderBudgetBytes = 1024 * MB) {
  const kills: MemoryKill[] = [];
  const lines: string[] = [];
  const watch = new MemoryWatch({
    rootPid,
    renderBudgetBytes,
    treeBudgetBytes,
    images,
    log: createLogger('warn', logSink(lines)),
    onKill: (k) => kills.push(k),
  });
  return { watch, kills, lines };
}

test.describe.configure({ timeout: 60_000 });

test('a killed renderer that is now a zombie is never acted on again (no kill, no log line every 50 ms)', async () => {
  // `sh` starts the renderer, then becomes `sleep`, which never reaps it: once it exits it
  // stays a zombie, with no memory, as a renderer Chromium's zygote has not reaped yet.
  const root = spawn(
    'sh',
    ['-c', `${process.execPath} -e "setTimeout(() => {}, 1500)" -- --type=renderer & exec sleep 30`],
    { stdio: 'ignore' },
  );
  try {
    const { watch, kills, lines } = watchOf(root.pid!, 1);
    // Seen alive first: the watch knows it as a renderer.
    let renderer = 0;
    for (let i = 0; i < 100 && renderer === 0; i++) {
      watch.sweep();
      const children = readFileSync(`/proc/${root.pid}/task/${root.pid}/children`, 'utf8').trim();
      if (children) renderer = Number(children.split(' ')[0]);
      else await new Promise((r) => setTimeout(r, 50));
    }
    expect(renderer).toBeGreaterThan(0);
    for (let i = 0; i < 100 && !memoryOf(renderer)?.dead; i++) {
      watch.sweep();
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(memoryOf(renderer)?.dead).toBe(true);
    kills.length = 0;
    lines.length = 0;
    // The tree is over its budget (1 byte) all along, and the zombie is the only renderer.
    for (let i = 0; i < 40; i++) watch.sweep();
    expect(kills).toEqual([]);
    // Said once, not once a tick.
    expect(lines.filter((l) => l.includes('over its memory budget')).length).toBeLessThanOrEqual(1);
  } finally {
    root.kill('SIGKILL');
  }
});

/** A fake browser with an 80 MB and a 20 MB renderer, each its own render, and a tree budget 100 MB above what it holds now. */
async function twoRenders(images?: ImageMemory) {
  const browser = new FakeBrowser();
  const big = await browser.renderer(80);
  const small = await browser.renderer(20);
  const w = watchOf(browser.pid, treeBytes([browser.pid, big, small]) + 100 * MB, images);
  const over: GroupOver[] = [];
  w.watch.register('context-big', 1024 * MB, (o) => over.push(o)).setPids([big]);
  w.watch.register('context-small', 1024 * MB, (o) => over.push(o)).setPids([small]);
  return { browser, big, small, over, ...w };
}

test('the excess is in the browser process and no capture runs: no renderer is killed for it', async () => {
  const { browser, big, small, watch, kills, lines, over } = await twoRenders(new ImageMemory(1024 * MB, 1000));
  try {
    expect(watch.sweep()).toBe(0);
    // The browser process grows 160 MB: the tree is 60 MB over, the renderers alone fit.
    await browser.alloc(160);
    for (let i = 0; i < 10; i++) expect(watch.sweep()).toBe(0);
    expect(kills).toEqual([]);
    expect(over).toEqual([]);
    expect(alive(big) && alive(small)).toBe(true);
    expect(lines.filter((l) => l.includes('no render to charge'))).toHaveLength(1);
  } finally {
    browser.kill();
  }
});

test('the excess is in the browser process while a render captures an image: that render is stopped, not the largest, once', async () => {
  const images = new ImageMemory(1024 * MB, 1000);
  const { browser, big, small, watch, kills, over } = await twoRenders(images);
  try {
    expect(watch.sweep()).toBe(0);
    let stops = 0;
    const grant = await images.admit(64 * MB, 'context-small', new AbortController().signal, () => stops++);
    await browser.alloc(160);
    expect(watch.sweep()).toBe(1);
    expect(over).toEqual([{ key: 'context-small', bytes: expect.any(Number), reason: 'tree-budget' }]);
    expect(stops).toBe(1);
    expect(kills.map((k) => [k.pid, k.reason, k.group])).toEqual([[small, 'tree-budget', 'context-small']]);
    // Acted on once: while its capture has not given its memory back, and after, nothing more.
    for (let i = 0; i < 10; i++) expect(watch.sweep()).toBe(0);
    grant.release();
    for (let i = 0; i < 10; i++) expect(watch.sweep()).toBe(0);
    expect(alive(big)).toBe(true);
    expect(stops).toBe(1);
    expect(over).toHaveLength(1);
  } finally {
    browser.kill();
  }
});

test('renderers over the tree budget: the render with the most memory goes, once', async () => {
  const browser = new FakeBrowser();
  try {
    const a = await browser.renderer(70);
    const b = await browser.renderer(40);
    const c = await browser.renderer(40);
    // The renderers alone are 40 MB over.
    const budget = treeBytes([a, b, c]) - 40 * MB;
    const { watch, kills } = watchOf(browser.pid, budget);
    const over: GroupOver[] = [];
    // b and c are one render (one context, two processes): together more than a, the largest process.
    watch.register('two-process-render', 1024 * MB, (o) => over.push(o)).setPids([b, c]);
    expect(memoryOf(a)!.bytes).toBeGreaterThan(memoryOf(b)!.bytes);
    expect(watch.sweep()).toBe(1);
    expect(over.map((o) => [o.key, o.reason])).toEqual([['two-process-render', 'tree-budget']]);
    expect(kills.map((k) => k.pid).sort()).toEqual([b, c].sort());
    expect(alive(a)).toBe(true);
    for (let i = 0; i < 10; i++) watch.sweep();
    expect(kills).toHaveLength(2);
  } finally {
    browser.kill();
  }
});

test("a render's budget covers all its processes: two renderers under the budget each, over it together", async () => {
  const browser = new FakeBrowser();
  try {
    const a = await browser.renderer(60);
    const b = await browser.renderer(60);
    const lone = await browser.renderer(60);
    const each = Math.max(...[a, b, lone].map((pid) => memoryOf(pid)!.bytes));
    // Each process fits the budget; a and b together do not.
    const budget = each + 20 * MB;
    const { watch, kills } = watchOf(browser.pid, 64 * 1024 * MB, undefined, budget);
    const over: GroupOver[] = [];
    watch.register('render-1', budget, (o) => over.push(o)).setPids([a, b]);
    expect(watch.sweep()).toBe(1);
    expect(over.map((o) => [o.key, o.reason])).toEqual([['render-1', 'render-budget']]);
    expect(kills.map((k) => k.pid).sort()).toEqual([a, b].sort());
    for (let i = 0; i < 10; i++) watch.sweep();
    expect(kills).toHaveLength(2);
    expect(alive(lone)).toBe(true);
  } finally {
    browser.kill();
  }
});
