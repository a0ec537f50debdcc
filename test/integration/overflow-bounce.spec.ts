import { test, expect } from '@playwright/test';
import { Writable } from 'node:stream';
import { startAppliance, type Appliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/log.js';
import { startFlyProxy, type FlyProxy } from '../../fixtures/fly-proxy/index.js';
import { startMainApp, type MainApp } from '../../fixtures/main-app/index.js';
import { baseEnv, get } from '../support/stack.js';

// Two appliance Machines behind the Fly-proxy emulator, each a full appliance with its own
// Chromium (one slot, no queue). A full Machine answers `fly-replay: elsewhere=true`; the
// bounce is marked so that no Machine bounces the same request twice, and nothing a client
// writes into fly-replay-src can stand in for that mark.

interface Bounce {
  proxy: FlyProxy;
  main: MainApp;
  pdf: Record<'pdf-1' | 'pdf-2', Appliance>;
  close(): Promise<void>;
}

async function startBounceStack(): Promise<Bounce> {
  const main = await startMainApp({});
  const quiet = new Writable({ write: (_c, _e, cb) => cb() });
  const machine = (id: string): Promise<Appliance> =>
    startAppliance({
      config: loadConfig({
        ...baseEnv(main.url),
        CONCURRENCY: '1',
        QUEUE_SIZE: '0',
        RENDER_TIMEOUT: '60s',
        FLY_MACHINE_ID: id,
        FLY_APP_NAME: 'pdf',
      }),
      log: createLogger('warn', quiet),
    });
  const pdf = { 'pdf-1': await machine('pdf-1'), 'pdf-2': await machine('pdf-2') };
  await Promise.all(Object.values(pdf).map((a) => a.browser.ready()));
  const proxy = await startFlyProxy({
    entryApp: 'main',
    apps: [
      { name: 'main', machines: [{ id: 'main-1', url: main.url }] },
      {
        name: 'pdf',
        machines: [
          { id: 'pdf-1', url: pdf['pdf-1'].url },
          { id: 'pdf-2', url: pdf['pdf-2'].url },
        ],
      },
    ],
  });
  return {
    proxy,
    main,
    pdf,
    async close() {
      await proxy.close();
      await Promise.all(Object.values(pdf).map((a) => a.shutdown('test')));
      await main.close();
    },
  };
}

async function overflow(a: Appliance): Promise<{ replay: number; answered503: number }> {
  const text = await a.metrics.registry.getSingleMetricAsString('pdf_appliance_overflow_total');
  const count = (answer: string): number => Number(new RegExp(`answer="${answer}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  return { replay: count('replay'), answered503: count('503') };
}

/** Holds the one slot of a Machine with a page that takes `ms` to load; resolves once it does. */
async function occupy(a: Appliance, ms: number): Promise<{ done: Promise<{ status: number }> }> {
  const done = get(`${a.url}/t/slow.pdf?ms=${ms}`);
  await expect.poll(() => a.limiter.running, { timeout: 20_000 }).toBe(1);
  return { done };
}

let stack: Bounce | undefined;
test.afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

test('a full Machine bounces once to one with room; all full ends in one 503, never a loop', async () => {
  test.setTimeout(120_000);
  stack = await startBounceStack();
  const s = stack;
  const [one, two] = [s.pdf['pdf-1'], s.pdf['pdf-2']];

  // Both full: the request goes to one, is bounced to the other, which bounces it too (it
  // cannot tell another Machine's mark from a client's), and comes back to the first, which
  // finds its own mark and answers 503. Each Machine bounced it once.
  const busyOne = await occupy(one, 25_000);
  const busyTwo = await occupy(two, 6_000);
  const replaysBefore = s.proxy.replays;
  const full = await get(`${s.proxy.url}/t/invoice.pdf`);
  expect(full.status).toBe(503);
  expect(Number(full.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  // The main app's replay, then one bounce from each Machine.
  expect(s.proxy.replays - replaysBefore).toBe(3);
  const [o1, o2] = [await overflow(one), await overflow(two)];
  expect(o1.replay).toBe(1);
  expect(o2.replay).toBe(1);
  expect(o1.answered503 + o2.answered503).toBe(1);

  // pdf-2 has room again, pdf-1 is still full. Round robin sends one of two requests to pdf-1
  // first: it bounces that one once, and pdf-2 prints both.
  expect((await busyTwo.done).status).toBe(200);
  expect(one.limiter.running).toBe(1);
  for (let i = 0; i < 2; i++) {
    const r = await get(`${s.proxy.url}/t/invoice.pdf`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/pdf');
  }
  expect((await overflow(one)).replay).toBe(2);
  expect((await overflow(one)).answered503).toBe(o1.answered503);
  expect((await overflow(two)).replay).toBe(1);
  expect(s.proxy.replays - replaysBefore).toBe(3 + 3);
  expect((await busyOne.done).status).toBe(200);
});
