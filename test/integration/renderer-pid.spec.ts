import { createServer, type Server } from 'node:http';
import { test, expect } from '@playwright/test';
import type { Protocol } from 'devtools-protocol';
import type { CdpSession } from '../../src/browser/cdp.js';
import { launchChromium, type Chromium } from '../../src/browser/chromium.js';
import { startSocksProxy, type SocksProxy } from '../../src/browser/socks-proxy.js';
import { ProcessTable } from '../../src/browser/procfs.js';
import { RendererPids } from '../../src/browser/renderer-pid.js';
import { createLogger } from '../../src/observability/log.js';
import { closeServer, listen } from '../../fixtures/listen.js';

// A render's memory budget covers its whole browser context, so the memory watch must know
// which renderer processes show a tab. renderer-pid.ts asks Chromium (a short trace). Checked
// here against the processes themselves: the pids it names are renderers of this Chromium,
// each tab's are its own, and killing them crashes exactly what they showed.
//
// Full Chromium isolates sites: a cross-site frame runs in a process of its own. (The headless
// shell the appliance prefers keeps cross-site frames in the tab's process as launched today:
// one pid per tab there.)

const FULL_CHROMIUM = '/usr/bin/chromium';

let server: Server;
let origin: string;
let proxy: SocksProxy;
let chromium: Chromium;

test.beforeAll(async () => {
  server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    // The frame is on another site (localhost, not 127.0.0.1): out of process in full Chromium.
    if (req.url === '/frame') res.end('<p>third-party frame</p>');
    else res.end(`<p>top</p><iframe src="http://localhost:${new URL(origin).port}/frame"></iframe>`);
  });
  origin = (await listen(server)).url;
  // Loopback only, like everything in the tests.
  proxy = await startSocksProxy({
    guard: {
      connectTo: async (host) =>
        host === '127.0.0.1' || host === 'localhost'
          ? { allow: true as const, addresses: ['127.0.0.1'] }
          : { allow: false as const, reason: 'not loopback', category: 'address' as const },
    },
  });
  chromium = await launchChromium({
    chromePath: FULL_CHROMIUM,
    sandbox: 'auto',
    javascript: true,
    renderMemoryMb: 512,
    socksProxyPort: proxy.port,
    protocolTimeoutMs: 30_000,
    log: createLogger('silent'),
  });
});
test.afterAll(async () => {
  await chromium?.kill();
  await proxy?.close();
  if (server) await closeServer(server);
});

/** A tab in a context of its own, showing the page, with its session. */
async function tab(): Promise<{ page: CdpSession; targetId: string }> {
  const { session, connection } = chromium;
  const { browserContextId } = await session.send('Target.createBrowserContext', { disposeOnDetach: true });
  const { targetId } = await session.send('Target.createTarget', { url: 'about:blank', browserContextId });
  const { sessionId } = await session.send('Target.attachToTarget', { targetId, flatten: true });
  const page = connection.session(sessionId)!;
  await page.send('Page.enable');
  const loaded = new Promise<void>((resolve) => page.on('Page.loadEventFired', () => resolve()));
  await page.send('Page.navigate', { url: `${origin}/` });
  await loaded;
  return { page, targetId };
}

test("each tab's renderer processes, its cross-site frame's included, from Chromium itself", async () => {
  test.setTimeout(90_000);
  const pids = new RendererPids();
  const [a, b] = await Promise.all([tab(), tab()]);
  // Lookups of one browser queue behind each other (one trace at a time): ask at once.
  const [framesA, framesB] = await Promise.all([pids.frames(a.page), pids.frames(b.page)]);
  for (const frames of [framesA, framesB]) {
    expect(frames.map((f) => new URL(f.url).hostname)).toEqual(['127.0.0.1', 'localhost']);
    // Site isolation: the frame has a process of its own.
    expect(frames[0]!.pid).not.toBe(frames[1]!.pid);
  }
  const renderers = new ProcessTable()
    .descendants(chromium.pid!)
    .filter((p) => p.type === 'renderer')
    .map((p) => p.pid);
  const all = [...framesA, ...framesB].map((f) => f.pid);
  for (const pid of all) expect(renderers).toContain(pid);
  // Contexts never share a renderer.
  expect(new Set(all).size).toBe(4);
  expect(await pids.of(a.page)).toEqual(framesA.map((f) => f.pid));

  // Killing the pid named for a's frame crashes a's frame target, and nothing else.
  const crashed: string[] = [];
  await chromium.session.send('Target.setDiscoverTargets', { discover: true });
  chromium.session.on('Target.targetCrashed', (e: Protocol.Target.TargetCrashedEvent) => crashed.push(e.targetId));
  const { targetInfos } = await chromium.session.send('Target.getTargets');
  const frameOfA = targetInfos.find((t) => t.type === 'iframe' && t.parentFrameId === a.targetId);
  expect(frameOfA).toBeDefined();
  process.kill(framesA[1]!.pid, 'SIGKILL');
  for (let i = 0; i < 200 && crashed.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  expect(crashed).toEqual([frameOfA!.targetId]);
  // a's page still answers and still has its own process; b has the same processes as before.
  expect((await a.page.send('Runtime.evaluate', { expression: '1 + 1', returnByValue: true })).result.value).toBe(2);
  expect(await pids.of(a.page)).toEqual([framesA[0]!.pid]);
  expect(await pids.of(b.page)).toEqual(framesB.map((f) => f.pid));
  // Killing the pid named for a's top frame crashes a's page.
  await a.page.send('Inspector.enable');
  const pageCrashed = new Promise<void>((resolve) => a.page.on('Inspector.targetCrashed', () => resolve()));
  process.kill(framesA[0]!.pid, 'SIGKILL');
  await pageCrashed;
  expect(crashed).not.toContain(b.targetId);
});

test('lookups repeated on a quiet tab name the same processes every time', async () => {
  const pids = new RendererPids();
  const { page } = await tab();
  const first = await pids.of(page);
  expect(first).toHaveLength(2);
  for (let i = 0; i < 10; i++) expect(await pids.of(page)).toEqual(first);
});
