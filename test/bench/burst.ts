/**
 * Invoice day: 60 PDF clicks from 20 signed-in users within 2 s, through the Fly-proxy
 * emulator, against an appliance app of one and of three Machines configured from the shipped
 * fly.toml (fixtures/invoice-day.ts), first all stopped, then all suspended (after they went
 * idle on their own). Timed from the first click, per click to its last PDF byte.
 */
import { BURST_USERS, startInvoiceDay, type BurstResult, type InvoiceDay } from '../../fixtures/invoice-day.js';
import { progress, ROOT } from './paths.js';
import { sampleTreePss } from './pss.js';
import { percentile, round } from './stats.js';

const CLICKS = 60;
const WINDOW_MS = 2000;
const IDLE_TIMEOUT = '5s';
const SETTLE_MS = 60_000;

export interface BurstRow {
  machines: number;
  from: 'stopped' | 'suspended';
  pdfs: number;
  /** Answers other than a PDF (503 or anything else). */
  failed: number;
  firstPdfMs: number;
  p50Ms: number;
  p95Ms: number;
  lastPdfMs: number;
  started: number;
  resumed: number;
  bounces: number;
  heldAtHardLimit: number;
  /** PDFs per second of the whole app, from its first PDF to its last. */
  perSecond: number;
  /** The highest PSS one Machine's tree (node and its Chromium) reached, MB. */
  peakMachineMB: number;
}

export interface Burst {
  clicks: number;
  users: number;
  windowMs: number;
  rows: BurstRow[];
}

function row(machines: number, from: BurstRow['from'], r: BurstResult, peakMachineBytes: number): BurstRow {
  const ok = r.clicks.filter((c) => c.status === 200 && c.contentType === 'application/pdf');
  // Each click's own wait: sent → its PDF in hand.
  const waits = ok.map((c) => c.doneMs - c.sentMs);
  const first = Math.min(...ok.map((c) => c.doneMs));
  return {
    machines,
    from,
    pdfs: ok.length,
    failed: r.clicks.length - ok.length,
    firstPdfMs: round(Math.min(...ok.map((c) => c.doneMs))),
    p50Ms: round(percentile(waits, 50)),
    p95Ms: round(percentile(waits, 95)),
    lastPdfMs: round(r.firstClickToLastPdfMs),
    started: r.starts,
    resumed: r.resumes,
    bounces: r.bounces,
    heldAtHardLimit: r.queued,
    perSecond: round((ok.length - 1) / ((r.firstClickToLastPdfMs - first) / 1000), 2),
    peakMachineMB: round(peakMachineBytes / 2 ** 20),
  };
}

/** Samples every running Machine's process tree until stopped; the highest PSS any one reached. */
function machineMemory(day: InvoiceDay): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const m of await day.machines()) if (m.pid !== undefined) peak = Math.max(peak, await sampleTreePss(m.pid));
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

/** One app of `machines` Machines: a burst against them stopped, then against them suspended. */
async function scenario(machines: number, env: Record<string, string>): Promise<BurstRow[]> {
  const day = await startInvoiceDay({ root: ROOT, machines, idleTimeout: IDLE_TIMEOUT, applianceEnv: env });
  try {
    const sessions = await day.signIn(BURST_USERS);
    const rows: BurstRow[] = [];
    for (const from of ['stopped', 'suspended'] as const) {
      const memory = machineMemory(day);
      const result = await day.burst(sessions, CLICKS, WINDOW_MS, from === 'stopped' ? 1000 : 2000);
      const r = row(machines, from, result, await memory.stop());
      rows.push(r);
      progress(
        `burst, ${machines} Machine(s) ${from}: ${r.pdfs}/${CLICKS} PDFs, last at ${Math.round(r.lastPdfMs)} ms, started ${r.started}, resumed ${r.resumed}, bounces ${r.bounces}`,
      );
      await untilAllSuspended(day.machines);
    }
    return rows;
  } finally {
    await day.close();
  }
}

async function untilAllSuspended(machines: () => Promise<Array<{ state?: string; load: number }>>): Promise<void> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const ms = await machines();
    if (ms.every((m) => m.state === 'suspended' && m.load === 0)) return;
    if (Date.now() > deadline)
      throw new Error(`the Machines did not all suspend within ${SETTLE_MS / 1000} s: ${JSON.stringify(ms)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** One Machine, then three. `env` is added to fly.toml's [env] for every Machine (the bench's knobs). */
export async function bursts(env: Record<string, string>): Promise<Burst> {
  const rows = [...(await scenario(1, env)), ...(await scenario(3, env))];
  return { clicks: CLICKS, users: BURST_USERS.length, windowMs: WINDOW_MS, rows };
}

export function burstMarkdown(b: Burst): string[] {
  const ms = (v: number): string => `${Math.round(v)}`;
  return [
    `### Invoice day: ${b.clicks} PDF clicks from ${b.users} users within ${b.windowMs / 1000} s, through the proxy emulator (ms from the first click)`,
    '',
    '| Machines | from | PDFs | not a PDF | first PDF | per click p50 | per click p95 | last PDF | PDFs/s | peak MB per Machine | started | resumed | bounces | held at hard_limit |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...b.rows.map(
      (r) =>
        `| ${r.machines} | ${r.from} | ${r.pdfs} | ${r.failed} | ${ms(r.firstPdfMs)} | ${ms(r.p50Ms)} | ${ms(r.p95Ms)} | ${ms(r.lastPdfMs)} | ${r.perSecond.toFixed(2)} | ${ms(r.peakMachineMB)} | ${r.started} | ${r.resumed} | ${r.bounces} | ${r.heldAtHardLimit} |`,
    ),
    '',
    'All Machines share this one host; on Fly each has its own CPUs, so what three Machines add here is the spread, not the capacity. PSS: node and its Chromium, per Machine.',
    '',
  ];
}
