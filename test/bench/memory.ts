/**
 * Memory of the appliance under sustained load, to choose CONCURRENCY, QUEUE_SIZE and
 * MAX_RENDERS_PER_BROWSER for a 1 GB VM. Measures PSS of node + every Chromium process
 * (test/support/pss.ts) of a real appliance process (dist/src/main.js; `npm run build` first):
 *
 *  1. per concurrency level: idle PSS, then a closed loop of exactly `c` clients printing
 *     `/t/report?pages=30` for MEM_DURATION_S seconds, sampled every 200 ms → peak, median;
 *  2. growth of one long-lived browser over MEM_GROWTH_RENDERS renders (no recycling),
 *     idle PSS sampled every MEM_GROWTH_STEP renders once the renders' contexts are closed.
 *
 * Run (not part of the test suite; the main app runs in this process, loopback only):
 *   npm run build && node dist/test/bench/memory.js
 *  3. with MEM_RECYCLE=N: the same load at MEM_RECYCLE_CONCURRENCY (3) recycling every N
 *     renders, whose peak includes the moments when two browsers run side by side.
 * Knobs: MEM_LEVELS=1,2,3,4  MEM_DURATION_S=30  MEM_GROWTH_RENDERS=400  MEM_GROWTH_STEP=50
 *        MEM_PAGE=/t/report.pdf?pages=30  MEM_ENV='NAME=value …' (extra appliance env)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startMainApp } from '../../fixtures/main-app/index.js';
import { treeFootprint, treePssByKind, type Footprint } from '../support/pss.js';

// Compiled to dist/test/bench/: the appliance entry is dist/src/main.js.
const ENTRY = join(import.meta.dirname, '..', '..', 'src', 'main.js');

interface Spawned {
  proc: ChildProcess;
  url: string;
  /** SIGTERM (the appliance drains and closes Chromium), resolves on exit. */
  stop(): Promise<void>;
}

/** The appliance as a real process, as Fly runs it; resolves once it listens. */
function spawnAppliance(env: Record<string, string>): Promise<Spawned> {
  const proc = spawn(process.execPath, [ENTRY], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The last lines of its log, to say why if it ever dies under measurement.
  const tail: string[] = [];
  let stopping = false;
  const exited = new Promise<number | null>((r) =>
    proc.on('exit', (code, signal) => {
      if (!stopping)
        process.stderr.write(
          `appliance exited unexpectedly (code ${code}, signal ${signal}); last log lines:\n${tail.join('\n')}\n`,
        );
      r(code);
    }),
  );
  const stop = async (): Promise<void> => {
    stopping = true;
    proc.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    let buf = '';
    let found = false;
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) {
        tail.push(line.slice(0, 400));
        if (tail.length > 30) tail.shift();
        if (!found && line.includes('"msg":"listening"')) {
          found = true;
          resolve({ proc, url: (JSON.parse(line) as { url: string }).url, stop });
        }
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`appliance exited (${code}) before listening`)));
  });
}

function baseEnv(targetUrl: string): Record<string, string> {
  return { TARGET_URL: targetUrl, PORT: '0', LISTEN_ADDRESS: '127.0.0.1', METRICS_PORT: '0', IDLE_TIMEOUT: '0' };
}

const MB = 1024 * 1024;
const levels = (process.env.MEM_LEVELS ?? '1,2,3,4').split(',').filter(Boolean).map(Number);
const durationS = Number(process.env.MEM_DURATION_S ?? 30);
const growthRenders = Number(process.env.MEM_GROWTH_RENDERS ?? 400);
const growthStep = Number(process.env.MEM_GROWTH_STEP ?? 50);
const pagePath = process.env.MEM_PAGE ?? '/t/report.pdf?pages=30';
// Recycling runs a second Chromium beside the draining one: measure that worst case too.
const recycleEvery = Number(process.env.MEM_RECYCLE ?? 0);
const recycleLevel = Number(process.env.MEM_RECYCLE_CONCURRENCY ?? 3);
const extraEnv = Object.fromEntries(
  (process.env.MEM_ENV ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map((kv) => {
      const i = kv.indexOf('=');
      return [kv.slice(0, i), kv.slice(i + 1)];
    }),
);

const fmt = (b: number): string => `${Math.round(b / MB)}`;
type Kinds = Awaited<ReturnType<typeof treePssByKind>>;
const totalOf = (k: Kinds): number => Object.values(k).reduce((sum, x) => sum + x.bytes, 0);
const describe = (k: Kinds): string =>
  Object.entries(k)
    .sort((x, y) => y[1].bytes - x[1].bytes)
    .map(([name, x]) => `${name}×${x.processes} ${fmt(x.bytes)}`)
    .join(', ');
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};

async function render(url: string): Promise<number> {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res.status;
}

/** Closed loop: `clients` workers, each sending its next request when the previous answered. */
async function closedLoop(url: string, clients: number, until: () => boolean): Promise<{ ok: number; other: number }> {
  let ok = 0;
  let other = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (!until()) {
        if ((await render(url)) === 200) ok++;
        else other++;
      }
    }),
  );
  return { ok, other };
}

/** Idle PSS once the last renders' contexts are gone: the lowest of a few samples. */
async function idlePss(pid: number): Promise<{ bytes: number; kinds: Kinds; footprint: Footprint }> {
  await sleep(1500);
  let low: { bytes: number; kinds: Kinds } = { bytes: Infinity, kinds: {} };
  for (let i = 0; i < 5; i++) {
    const kinds = await treePssByKind(pid);
    const bytes = totalOf(kinds);
    if (bytes < low.bytes) low = { bytes, kinds };
    await sleep(200);
  }
  return { ...low, footprint: await treeFootprint(pid) };
}

const fp = (f: Footprint): string => `${fmt(f.total)} (anon ${fmt(f.anon)}, shm ${fmt(f.shmem)}, file ${fmt(f.file)})`;

async function start(env: Record<string, string>, mainUrl: string): Promise<Spawned> {
  const a = await spawnAppliance({ ...baseEnv(mainUrl), LOG_LEVEL: 'info', ...env, ...extraEnv });
  for (let i = 0; i < 3; i++) await render(`${a.url}/t/invoice.pdf`);
  return a;
}

async function levelRun(c: number, mainUrl: string, recycleEvery = 1_000_000) {
  const a = await start(
    {
      CONCURRENCY: String(c),
      QUEUE_SIZE: String(4 * c),
      MAX_RENDERS_PER_BROWSER: String(recycleEvery),
      RENDER_TIMEOUT: '60s',
      QUEUE_TIMEOUT: '60s',
    },
    mainUrl,
  );
  const pid = a.proc.pid!;
  try {
    const idle = await idlePss(pid);
    const samples: number[] = [];
    let peakKinds: Kinds = {};
    let peak = 0;
    const endAt = Date.now() + durationS * 1000;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const kinds = await treePssByKind(pid);
        const total = totalOf(kinds);
        samples.push(total);
        if (total > peak) {
          peak = total;
          peakKinds = kinds;
        }
        await sleep(200);
      }
    })();
    // The page-frame walk takes about a second: it runs beside the PSS sampler, not in it.
    let peakFootprint: Footprint = { total: 0, anon: 0, shmem: 0, file: 0 };
    const walker = (async () => {
      while (sampling) {
        const f = await treeFootprint(pid);
        if (f.total > peakFootprint.total) peakFootprint = f;
      }
    })();
    const t0 = Date.now();
    const done = await closedLoop(`${a.url}${pagePath}`, c, () => Date.now() >= endAt);
    const seconds = (Date.now() - t0) / 1000;
    sampling = false;
    await Promise.all([sampler, walker]);
    const after = await idlePss(pid);
    return {
      c,
      idle,
      peak,
      steady: median(samples.slice(Math.floor(samples.length / 5))),
      after,
      pdfs: done.ok,
      other: done.other,
      perSecond: done.ok / seconds,
      peakKinds,
      peakFootprint,
    };
  } finally {
    await a.stop();
  }
}

async function growthRun(mainUrl: string) {
  const c = 3;
  const a = await start(
    { CONCURRENCY: String(c), MAX_RENDERS_PER_BROWSER: '1000000', RENDER_TIMEOUT: '60s', QUEUE_TIMEOUT: '60s' },
    mainUrl,
  );
  const pid = a.proc.pid!;
  const points: Array<{ renders: number; pss: number; kinds: Kinds; footprint: Footprint }> = [];
  try {
    const first = await idlePss(pid);
    points.push({ renders: 3, pss: first.bytes, kinds: first.kinds, footprint: first.footprint });
    let renders = 3;
    while (renders < growthRenders) {
      let n = 0;
      // Alternate the report and the invoice: both kinds of page a real appliance prints.
      await Promise.all(
        Array.from({ length: c }, async (_, w) => {
          while (n < growthStep) {
            const i = n++;
            await render(`${a.url}${(i + w) % 2 === 0 ? pagePath : '/t/invoice.pdf'}`);
          }
        }),
      );
      renders += n;
      const now = await idlePss(pid);
      points.push({ renders, pss: now.bytes, kinds: now.kinds, footprint: now.footprint });
      process.stderr.write(
        `growth: ${renders} renders, idle PSS ${fmt(now.bytes)} MB, footprint ${fp(now.footprint)}\n`,
      );
    }
    return points;
  } finally {
    await a.stop();
  }
}

const main = await startMainApp({});
try {
  console.log(`# Appliance memory (PSS of node + Chromium), page ${pagePath}, ${durationS}s per level\n`);
  console.log(
    'PSS here is shared with other Chromium processes on this machine; "alone" is the footprint the tree would have on a VM of its own (every mapped page once).\n',
  );
  console.log(
    '| concurrency | idle PSS | steady PSS | peak PSS | idle after PSS | idle alone | peak alone (anon, shm, file) | PDFs/s | non-200 |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  const details: string[] = [];
  const runs: Array<[number, number]> = levels.map((c) => [c, 1_000_000]);
  if (recycleEvery > 0) runs.push([recycleLevel, recycleEvery]);
  for (const [c, every] of runs) {
    const r = await levelRun(c, main.url, every);
    const label = every < 1_000_000 ? `${c}, recycling every ${every}` : String(c);
    console.log(
      `| ${label} | ${fmt(r.idle.bytes)} | ${fmt(r.steady)} | ${fmt(r.peak)} | ${fmt(r.after.bytes)} | ${fmt(r.idle.footprint.total)} | ${fp(r.peakFootprint)} | ${r.perSecond.toFixed(2)} | ${r.other} |`,
    );
    details.push(
      `- c=${r.c} idle: ${describe(r.idle.kinds)}`,
      `- c=${r.c} peak: ${describe(r.peakKinds)}`,
      `- c=${r.c} idle after: ${describe(r.after.kinds)}; alone ${fp(r.after.footprint)}`,
    );
  }
  console.log(`\nPSS by process role (MB):\n${details.join('\n')}`);
  if (growthRenders > 0) {
    const points = await growthRun(main.url);
    console.log(`\n# Growth of one browser (CONCURRENCY=3, no recycling), idle PSS after N renders\n`);
    console.log('| renders | idle PSS | idle alone (anon, shm, file) | PSS by process |');
    console.log('| --- | --- | --- | --- |');
    for (const p of points) console.log(`| ${p.renders} | ${fmt(p.pss)} | ${fp(p.footprint)} | ${describe(p.kinds)} |`);
    const first = points[0]!;
    const last = points.at(-1)!;
    const per100 = (d: number): string => (d / MB / ((last.renders - first.renders) / 100)).toFixed(1);
    console.log(
      `\nGrowth over ${last.renders - first.renders} renders: PSS ${fmt(last.pss - first.pss)} MB (${per100(last.pss - first.pss)} per 100), alone ${fmt(last.footprint.total - first.footprint.total)} MB (${per100(last.footprint.total - first.footprint.total)} per 100; anon ${fmt(last.footprint.anon - first.footprint.anon)} MB).`,
    );
  }
} finally {
  await main.close();
}
