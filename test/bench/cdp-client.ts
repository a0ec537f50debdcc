/**
 * The run-time DevTools client, measured (docs/development.md, "Why our own DevTools client"):
 * the appliance's own (src/browser/cdp.ts) against puppeteer-core's, on the two costs that
 * decide it.
 *
 *  1. Import. puppeteer-core would be imported lazily, while Chromium launches (Chromium is
 *     spawned before anything else is loaded): what it adds is its import on Node's side of a
 *     cold start, which is the critical path (Chromium is ready first). Measured in fresh
 *     processes (wall and CPU), and as whole cold starts: the appliance as it is, against the
 *     appliance with puppeteer-core imported alongside its start.
 *  2. Per message, under a page of 1000 frames (the fixture's /hard/frames?n=1000): one
 *     Chromium, one tab with Page, Network and Runtime enabled, navigate, print; every message
 *     Chromium sends is recorded. The recording is then handed to each client's message
 *     handler (no listeners: the client's own cost), and the same tab is driven live by each
 *     client over the same pipe transport, counting messages and Node's CPU.
 *
 *   npm run build && node dist/test/bench/cdp-client.js      (BENCH_QUICK=1: fewer repetitions)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import puppeteer, { Connection, type ConnectionTransport } from 'puppeteer-core';
import { CdpConnection, type Transport } from '../../src/browser/cdp.js';
import { BASE_ARGS } from '../../src/browser/chromium.js';
import { loadConfig } from '../../src/config/config.js';
import { freePort } from '../../fixtures/listen.js';
import { cleanEnv, run } from './child.js';
import { firstPdf } from './http.js';
import { appliancePdfUrl, PAGES } from './pages.js';
import { progress, ROOT } from './paths.js';
import { killAll } from './procs.js';
import { median, round } from './stats.js';

const quick = process.env.BENCH_QUICK === '1';
const IMPORT_REPS = quick ? 3 : 9;
const COLD_REPS = quick ? 2 : 7;
const REPLAY_REPS = quick ? 3 : 9;
/** Chromium itself takes about 50 s to load 1000 frames here, whichever client drives it. */
const LIVE_REPS = quick ? 1 : 2;
const FRAMES = 1000;

const ms = (v: number): string => `${Math.round(v)}`;

/** Wall and CPU ms of importing `specifier` in a fresh node process (cwd: the checkout). */
async function importCost(specifier: string): Promise<{ wallMs: number; cpuMs: number }> {
  const code = `const c = process.cpuUsage(); const t = performance.now(); await import(${JSON.stringify(specifier)}); const u = process.cpuUsage(c); process.stdout.write(JSON.stringify({ wallMs: performance.now() - t, cpuMs: (u.user + u.system) / 1000 }));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  await new Promise((r) => child.once('exit', r));
  return JSON.parse(out) as { wallMs: number; cpuMs: number };
}

/** A main app of its own process, so that serving 1000 frames is not counted as the client's CPU. */
async function startMainProcess(): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const proc = run(process.execPath, [join(ROOT, 'dist/fixtures/main-app/cli.js')], {
    cwd: ROOT,
    env: cleanEnv({ PORT: String(port), HOST: '127.0.0.1' }),
  });
  await proc.line(/listening/i);
  return { url: `http://127.0.0.1:${port}`, proc: proc.child };
}

/** One cold start: spawn → the invoice PDF in hand. `lazyPuppeteer` imports puppeteer-core alongside. */
async function coldStart(mainUrl: string, lazyPuppeteer: boolean): Promise<number> {
  const port = await freePort();
  const entry = join(ROOT, 'dist/src/main.js');
  const env = cleanEnv({
    TARGET_URL: mainUrl,
    PORT: String(port),
    LISTEN_ADDRESS: '127.0.0.1',
    METRICS_PORT: '0',
    IDLE_TIMEOUT: '0',
    LOG_LEVEL: 'warn',
    MAIN: entry,
  });
  const args = lazyPuppeteer
    ? ['--input-type=module', '-e', `import(process.env.MAIN); import('puppeteer-core');`]
    : [entry];
  const t0 = performance.now();
  const proc = run(process.execPath, args, { cwd: ROOT, env });
  try {
    await firstPdf(appliancePdfUrl(`http://127.0.0.1:${port}`, PAGES.invoice), proc.gone, 90_000);
    return performance.now() - t0;
  } finally {
    await proc.stop();
  }
}

/** Chromium with the appliance's flags and its DevTools pipe, and a transport that counts (and may record) what comes back. */
function launchPiped(): {
  proc: ChildProcess;
  transport: Transport & ConnectionTransport;
  received: string[];
  stop(): Promise<void>;
} {
  const config = loadConfig({ TARGET_URL: 'http://127.0.0.1:1' });
  const profile = mkdtempSync(join(tmpdir(), 'cdp-client-bench-'));
  const args = [...BASE_ARGS, '--no-sandbox', `--user-data-dir=${profile}`, '--remote-debugging-pipe', 'about:blank'];
  if (!/headless[-_]shell/.test(config.chromePath)) args.push('--headless=new');
  const proc = spawn(config.chromePath, args, { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] });
  const toChromium = proc.stdio[3] as Writable;
  const fromChromium = proc.stdio[4] as Readable;
  const received: string[] = [];
  let pending = '';
  const transport: Transport & ConnectionTransport = {
    send: (message: string) => void toChromium.write(`${message}\0`),
    close: () => toChromium.end(),
  };
  fromChromium.setEncoding('utf8');
  fromChromium.on('data', (chunk: string) => {
    let start = 0;
    for (let end = chunk.indexOf('\0'); end !== -1; end = chunk.indexOf('\0', start)) {
      const message = pending + chunk.slice(start, end);
      pending = '';
      start = end + 1;
      received.push(message);
      transport.onmessage?.(message);
    }
    pending += chunk.slice(start);
  });
  return {
    proc,
    transport,
    received,
    async stop() {
      proc.kill('SIGKILL');
      await new Promise((r) => proc.once('exit', r));
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The 1000-frame page, driven by our client: Node CPU (ms) from navigate to the PDF, and the messages received. */
async function liveOwn(pageUrl: string): Promise<{ cpuMs: number; messages: number; recording: string[] }> {
  const chrome = launchPiped();
  try {
    const conn = new CdpConnection(chrome.transport, 180_000);
    await conn.root.send('Browser.getVersion');
    const { targetId } = await conn.root.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await conn.root.send('Target.attachToTarget', { targetId, flatten: true });
    const page = conn.session(sessionId)!;
    await Promise.all([page.send('Page.enable'), page.send('Network.enable'), page.send('Runtime.enable')]);
    const from = chrome.received.length;
    const cpu = process.cpuUsage();
    const loaded = new Promise<void>((r) => page.on('Page.loadEventFired', () => r()));
    await page.send('Page.navigate', { url: pageUrl });
    await loaded;
    await page.send('Page.printToPDF', {});
    const u = process.cpuUsage(cpu);
    return {
      cpuMs: (u.user + u.system) / 1000,
      messages: chrome.received.length - from,
      recording: chrome.received.slice(),
    };
  } finally {
    await chrome.stop();
  }
}

/** The same with puppeteer-core over the same kind of pipe (puppeteer.connect with our transport). */
async function livePuppeteer(pageUrl: string): Promise<{ cpuMs: number; messages: number }> {
  const chrome = launchPiped();
  try {
    const browser = await puppeteer.connect({ transport: chrome.transport, defaultViewport: null });
    const page = await browser.newPage();
    const from = chrome.received.length;
    const cpu = process.cpuUsage();
    await page.goto(pageUrl, { waitUntil: 'load', timeout: 180_000 });
    await page.pdf({ timeout: 180_000 });
    const u = process.cpuUsage(cpu);
    const messages = chrome.received.length - from;
    await browser.disconnect();
    return { cpuMs: (u.user + u.system) / 1000, messages };
  } finally {
    await chrome.stop();
  }
}

/** CPU ms a message handler spends on `recording`, with nothing listening. */
function replayInto(recording: string[], connect: (t: Transport & ConnectionTransport) => void): number {
  const t: Transport & ConnectionTransport = { send: () => undefined, close: () => undefined };
  connect(t);
  const c = process.cpuUsage();
  for (const m of recording) t.onmessage!(m);
  const u = process.cpuUsage(c);
  return (u.user + u.system) / 1000;
}

const ownClient = (t: Transport): CdpConnection => new CdpConnection(t, 30_000);
const puppeteerClient = (t: ConnectionTransport): Connection => new Connection('', t, 0, 30_000);

/** CPU µs per command sent and answered at once (a transport that echoes the id), over n commands. */
async function roundTrips(n: number, client: 'own' | 'puppeteer'): Promise<number> {
  const t: Transport & ConnectionTransport = {
    send: (m: string) => {
      const { id } = JSON.parse(m) as { id: number };
      queueMicrotask(() => t.onmessage!(`{"id":${id},"result":{"result":{"type":"number","value":2}}}`));
    },
    close: () => undefined,
  };
  const send =
    client === 'own'
      ? (
          (c) => () =>
            c.root.send('Runtime.evaluate', { expression: '1 + 1', returnByValue: true })
        )(ownClient(t))
      : (
          (c) => () =>
            c.send('Runtime.evaluate', { expression: '1 + 1', returnByValue: true })
        )(puppeteerClient(t));
  const c = process.cpuUsage();
  for (let i = 0; i < n; i++) await send();
  const u = process.cpuUsage(c);
  return (u.user + u.system) / n;
}

async function main(): Promise<void> {
  const L: string[] = ['## The run-time DevTools client: our own against puppeteer-core', ''];

  progress('import cost in fresh processes');
  const imports = {
    puppeteer: [] as Array<{ wallMs: number; cpuMs: number }>,
    own: [] as Array<{ wallMs: number; cpuMs: number }>,
  };
  for (let i = 0; i < IMPORT_REPS; i++) {
    imports.puppeteer.push(await importCost('puppeteer-core'));
    imports.own.push(await importCost('./dist/src/browser/cdp.js'));
  }
  const med = (xs: number[]): number => round(median(xs));
  L.push('| import, fresh process (median) | wall ms | CPU ms |', '| --- | ---: | ---: |');
  L.push(
    `| puppeteer-core | ${ms(med(imports.puppeteer.map((x) => x.wallMs)))} | ${ms(med(imports.puppeteer.map((x) => x.cpuMs)))} |`,
  );
  L.push(
    `| src/browser/cdp.ts | ${ms(med(imports.own.map((x) => x.wallMs)))} | ${ms(med(imports.own.map((x) => x.cpuMs)))} |`,
    '',
  );

  const main = await startMainProcess();
  try {
    progress('cold starts: the appliance as it is, and with puppeteer-core imported alongside');
    const cold = { asIs: [] as number[], lazy: [] as number[] };
    await coldStart(main.url, false); // page cache
    for (let i = 0; i < COLD_REPS; i++) {
      const pair = [
        async () => cold.asIs.push(await coldStart(main.url, false)),
        async () => cold.lazy.push(await coldStart(main.url, true)),
      ];
      if (i % 2) pair.reverse();
      for (const step of pair) await step();
    }
    L.push('| cold start, spawn → first invoice PDF (median) | ms | runs |', '| --- | ---: | --- |');
    L.push(`| the appliance as it is | ${ms(median(cold.asIs))} | ${cold.asIs.map(ms).join(', ')} |`);
    L.push(
      `| with puppeteer-core imported while Chromium launches | ${ms(median(cold.lazy))} | ${cold.lazy.map(ms).join(', ')} |`,
      '',
    );

    progress(`a page of ${FRAMES} frames, driven live by each client`);
    const pageUrl = `${main.url}/hard/frames?n=${FRAMES}`;
    const live = {
      own: [] as Array<{ cpuMs: number; messages: number }>,
      puppeteer: [] as Array<{ cpuMs: number; messages: number }>,
    };
    let recording: string[] = [];
    for (let i = 0; i < LIVE_REPS; i++) {
      const o = await liveOwn(pageUrl);
      recording = o.recording;
      live.own.push(o);
      live.puppeteer.push(await livePuppeteer(pageUrl));
    }
    const perMsg = (xs: Array<{ cpuMs: number; messages: number }>) =>
      med(xs.map((x) => (x.cpuMs * 1000) / x.messages));
    L.push(
      `| ${FRAMES} frames, live, navigate → PDF (median) | messages | Node CPU ms | µs per message |`,
      '| --- | ---: | ---: | ---: |',
    );
    L.push(
      `| own client | ${ms(med(live.own.map((x) => x.messages)))} | ${ms(med(live.own.map((x) => x.cpuMs)))} | ${perMsg(live.own).toFixed(1)} |`,
    );
    L.push(
      `| puppeteer-core (page.goto, page.pdf) | ${ms(med(live.puppeteer.map((x) => x.messages)))} | ${ms(med(live.puppeteer.map((x) => x.cpuMs)))} | ${perMsg(live.puppeteer).toFixed(1)} |`,
      '',
    );

    progress(`replaying the ${recording.length} recorded messages into each client's handler`);
    // Both warmed up first, then alternated, so that neither pays for the JIT alone.
    const own: number[] = [];
    const theirs: number[] = [];
    const rtOwn: number[] = [];
    const rtTheirs: number[] = [];
    const n = quick ? 2000 : 20_000;
    replayInto(recording, ownClient);
    replayInto(recording, puppeteerClient);
    await roundTrips(n, 'own');
    await roundTrips(n, 'puppeteer');
    for (let i = 0; i < REPLAY_REPS; i++) {
      own.push(replayInto(recording, ownClient));
      theirs.push(replayInto(recording, puppeteerClient));
      rtTheirs.push(await roundTrips(n, 'puppeteer'));
      rtOwn.push(await roundTrips(n, 'own'));
    }
    L.push('| the client layer alone (median) | own | puppeteer-core |', '| --- | ---: | ---: |');
    L.push(
      `| ${recording.length} recorded messages handled, CPU ms | ${med(own).toFixed(1)} | ${med(theirs).toFixed(1)} |`,
    );
    L.push(
      `| µs per message received | ${((med(own) * 1000) / recording.length).toFixed(2)} | ${((med(theirs) * 1000) / recording.length).toFixed(2)} |`,
    );
    L.push(`| µs per command sent and answered | ${median(rtOwn).toFixed(2)} | ${median(rtTheirs).toFixed(2)} |`, '');
  } finally {
    main.proc.kill('SIGTERM');
  }
  process.stdout.write(`${L.join('\n')}\n`);
}

try {
  await main();
} finally {
  await killAll();
}
process.exit(0);
