/**
 * The baseline: Chromium driven by puppeteer the cheapest way it can print — pages in the
 * default browser context, no isolation, no interception: new page → goto(load) → pdf → close.
 * Runs as its own process so its event loop does not share a core with the runner's.
 * The same process serves the other floors (floors.ts: a kept tab per loop, a fresh browser
 * context per render), with the same Chromium, flags and print options.
 *
 * Two ways to use it:
 *  - `loop` jobs (the baseline; `floor` picks another): c parallel loops in-process,
 *    timed around everything the floor does for one render — new page (or context) → close
 *    (or dispose) — and, as a second clock, up to the PDF bytes in hand;
 *  - `GET /render?path=/t/invoice` on a loopback HTTP server, so the same load generator that
 *    drives the appliance drives the baseline too. That view adds an HTTP hop to the baseline
 *    but also answers before closing the page, as the appliance does.
 *
 * argv: [spec JSON, main app origin]
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'puppeteer-core';
import { listen } from '../../fixtures/listen.js';
import { floor, isFloorName, type Floor } from './floors.js';
import { launch, parseSpec } from './launch.js';
import { runLoops, type LoopJob } from './loops.js';
import { byPath, looksLikeWholePdf, PAGES, pageUrl, type BenchPage } from './pages.js';
import { serve } from './rpc.js';

const spec = parseSpec(process.argv[2]);
const origin = process.argv[3] ?? '';

interface Printed {
  pdf: Uint8Array;
  /** new page → PDF bytes in hand */
  toPdfMs: number;
  close: () => Promise<void>;
}

async function print(from: Floor, loop: number, page: BenchPage): Promise<Printed> {
  const t0 = performance.now();
  const tab = await from.tab(loop);
  try {
    await tab.page.goto(pageUrl(origin, page), { waitUntil: 'load', timeout: 30_000 });
    if (page.readyWhen) await tab.page.waitForFunction(page.readyWhen, { polling: 'mutation', timeout: 30_000 });
    const pdf = await tab.page.pdf(spec.pdf);
    if (!looksLikeWholePdf(pdf)) throw new Error('baseline produced an incomplete PDF');
    return { pdf, toPdfMs: performance.now() - t0, close: () => tab.release() };
  } catch (err) {
    await tab.discard().catch(() => undefined);
    throw err;
  }
}

async function startHttp(browser: Browser): Promise<Server> {
  const naive = floor(browser, 'naive');
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const page = url.pathname === '/render' ? byPath(url.searchParams.get('path') ?? '') : undefined;
    if (!page) {
      res.writeHead(404).end();
      return;
    }
    print(naive, 0, page).then(
      (p) => {
        res.writeHead(200, { 'content-type': 'application/pdf', 'content-length': String(p.pdf.byteLength) });
        res.end(Buffer.from(p.pdf.buffer, p.pdf.byteOffset, p.pdf.byteLength));
        void p.close().catch(() => undefined);
      },
      (err: unknown) => {
        res.writeHead(502, { 'content-type': 'text/plain' }).end(String(err));
      },
    );
  });
  server.keepAliveTimeout = 65_000;
  await listen(server);
  return server;
}

const browser = await launch(spec).catch((err: unknown) => {
  process.send!({ failed: `baseline could not launch Chromium: ${String(err)}` });
  process.exit(1);
});
const server = await startHttp(browser);

async function shutdown(): Promise<void> {
  server.closeAllConnections();
  server.close();
  await browser.close().catch(() => undefined);
}

serve(async (job) => {
  const page = PAGES[job.page as BenchPage['name']];
  const name = job.floor ?? 'naive';
  if (!isFloorName(name)) throw new Error(`unknown floor ${String(job.floor)}`);
  switch (job.kind) {
    case 'loop': {
      if (!page) throw new Error(`unknown page ${String(job.page)}`);
      const from = floor(browser, name);
      try {
        return await runLoops(job as unknown as LoopJob, async (loop) => {
          const t0 = performance.now();
          const p = await print(from, loop, page);
          await p.close();
          return { ms: performance.now() - t0, altMs: p.toPdfMs };
        });
      } finally {
        await from.end();
      }
    }
    case 'pdf': {
      if (!page) throw new Error(`unknown page ${String(job.page)}`);
      const from = floor(browser, name);
      try {
        // A kept tab is checked on its second render: the one that reused it.
        if (name === 'kept-tab') await (await print(from, 0, page)).close();
        const p = await print(from, 0, page);
        await p.close();
        return Buffer.from(p.pdf).toString('base64');
      } finally {
        await from.end();
      }
    }
    case 'stop':
      await shutdown();
      setImmediate(() => process.exit(0));
      return null;
    default:
      throw new Error(`unknown job ${String(job.kind)}`);
  }
}, shutdown);

process.send!({
  ready: {
    pid: process.pid,
    chromePid: browser.process()?.pid ?? null,
    version: await browser.version(),
    renderUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/render`,
  },
});
