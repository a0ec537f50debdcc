import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect } from '@playwright/test';
import { isPdf } from '../support/pdf.js';
import { descendantsOf, get, startStack, stillAlive, type InProcess } from '../support/stack.js';

/**
 * The headless shell behind a one-second pause: a script under the same name (the appliance
 * picks its flags by the executable's name) that waits, then becomes the real one.
 */
function slowChromium(): string {
  const real = ['/usr/lib/chromium/chromium-headless-shell', '/usr/bin/chromium-headless-shell'].find((p) =>
    existsSync(p),
  );
  if (!real) throw new Error('no chromium-headless-shell');
  const script = join(mkdtempSync(join(tmpdir(), 'slow-chromium-')), 'chromium-headless-shell');
  writeFileSync(script, `#!/bin/sh\nsleep 1\nexec ${real} "$@"\n`);
  chmodSync(script, 0o755);
  return script;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function counter(s: InProcess, name: string): Promise<number> {
  const metric = await s.app.metrics.registry.getSingleMetric(name)?.get();
  return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

/** The log line of the finished PDF request sent with `fly-request-id: <id>` (one per request). */
function requestLog(
  s: InProcess,
  id: string,
): { status: number; queueMs: number; ms: number; failure?: string } | undefined {
  const line = s.logs.find((l) => l.includes('"msg":"render request"') && l.includes(`"requestId":"${id}"`));
  return line ? JSON.parse(line) : undefined;
}

test.describe('faults: Chromium dies under load', () => {
  test.describe.configure({ timeout: 120_000 });
  let s: InProcess;
  test.afterEach(async () => {
    await s?.close();
  });

  test('kill -9 of Chromium: in-flight renders fail fast, the appliance relaunches it, next 20 succeed, no process left behind', async () => {
    s = await startStack({ CONCURRENCY: '3', QUEUE_SIZE: '12', RENDER_TIMEOUT: '30s', QUEUE_TIMEOUT: '30s' });
    // Warm: the browser is up and one render went through.
    expect((await get(`${s.url}/t/invoice.pdf`)).status).toBe(200);
    const crashesBefore = await counter(s, 'pdf_appliance_browser_crashes_total');
    const launchesBefore = await counter(s, 'pdf_appliance_browser_launches_total');

    // Three slow renders hold every slot, three more wait in the queue.
    const slow = Array.from({ length: 3 }, (_, i) =>
      get(`${s.url}/t/slow.pdf?ms=15000&n=${i}`).then((r) => ({ ...r, at: Date.now() })),
    );
    await expect.poll(() => s.app.limiter.running, { timeout: 15_000 }).toBe(3);
    await expect
      .poll(() => s.main.requests.filter((r) => r.path.startsWith('/t/slow?')).length, { timeout: 15_000 })
      .toBe(3);
    const queued = Array.from({ length: 3 }, (_, i) => get(`${s.url}/t/invoice.pdf?q=${i}`));
    await expect.poll(() => s.app.limiter.queued, { timeout: 15_000 }).toBe(3);

    const [chrome] = s.app.browser.pids();
    expect(chrome).toBeGreaterThan(0);
    const tree = [chrome!, ...descendantsOf(chrome!)];
    expect(tree.length).toBeGreaterThan(1);
    const killedAt = Date.now();
    process.kill(chrome!, 'SIGKILL');

    // The running renders fail fast: long before the 15 s page (or RENDER_TIMEOUT) would end them.
    for (const r of await Promise.all(slow)) {
      expect([502, 503]).toContain(r.status);
      expect(r.at - killedAt).toBeLessThan(8000);
    }
    // The queued ones were not on the dead browser: they wait for the relaunch and succeed.
    for (const r of await Promise.all(queued)) {
      expect(r.status).toBe(200);
      expect(isPdf(r.body)).toBe(true);
    }

    // Still up; the next 20 requests all succeed on a new browser.
    const health = await get(`${s.url}/healthz`);
    expect(health.status).toBe(200);
    // (Four at a time: within CONCURRENCY + QUEUE_SIZE, so any failure here is the browser's, not overflow.)
    const next: Awaited<ReturnType<typeof get>>[] = [];
    for (let i = 0; i < 20; i += 4) {
      next.push(
        ...(await Promise.all(Array.from({ length: Math.min(4, 20 - i) }, () => get(`${s.url}/t/invoice.pdf`)))),
      );
    }
    expect(next.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(next.every((r) => isPdf(r.body))).toBe(true);

    expect(await counter(s, 'pdf_appliance_browser_crashes_total')).toBe(crashesBefore + 1);
    expect(await counter(s, 'pdf_appliance_browser_launches_total')).toBe(launchesBefore + 1);
    expect(s.app.browser.pids()).not.toContain(chrome);
    expect(s.app.browser.pids()).toHaveLength(1);
    // Every process of the dead browser is gone and reaped (a zombie still answers kill 0).
    await expect.poll(() => stillAlive(tree), { timeout: 10_000 }).toEqual([]);
  });

  test('a request that arrives while Chromium is being relaunched waits for it instead of failing', async () => {
    // A Chromium that takes a second to start: a relaunch takes ~150 ms here, too short to be
    // sure a check of the state lands inside it.
    s = await startStack({ CONCURRENCY: '2', RENDER_TIMEOUT: '30s', CHROME_PATH: slowChromium() });
    expect((await get(`${s.url}/t/invoice.pdf`)).status).toBe(200);
    const [chrome] = s.app.browser.pids();
    process.kill(chrome!, 'SIGKILL');
    await expect
      .poll(() => s.logs.some((l) => l.includes('browser disconnected unexpectedly')), { timeout: 10_000 })
      .toBe(true);
    // The relaunch takes at least the wrapper's second: the requests arrive while it is under way.
    expect(s.app.browser.info().state).toBe('relaunching');
    const answers = await Promise.all([get(`${s.url}/t/invoice.pdf?a=1`), get(`${s.url}/t/invoice.pdf?b=1`)]);
    expect(answers.map((r) => r.status)).toEqual([200, 200]);
    expect(s.app.browser.info().state).toBe('ready');
    expect(await counter(s, 'pdf_appliance_browser_crashes_total')).toBe(1);
  });
});

test.describe('faults: a client that leaves frees its slot', () => {
  test.describe.configure({ timeout: 60_000 });
  let s: InProcess;
  test.beforeAll(async () => {
    s = await startStack({ CONCURRENCY: '1', QUEUE_SIZE: '4', RENDER_TIMEOUT: '20s', QUEUE_TIMEOUT: '20s' });
    expect((await get(`${s.url}/t/invoice.pdf`)).status).toBe(200);
  });
  test.afterAll(async () => {
    await s?.close();
  });

  test('aborting a running render lets the queued request start at once', async () => {
    const client = new AbortController();
    const slow = get(`${s.url}/t/slow.pdf?ms=20000`, {
      signal: client.signal,
      headers: { 'fly-request-id': 'slow-aborted' },
    }).catch((e: unknown) => e);
    await expect.poll(() => s.main.requests.some((r) => r.path.startsWith('/t/slow?')), { timeout: 10_000 }).toBe(true);
    expect(s.app.limiter.running).toBe(1);

    const t0 = Date.now();
    const following = get(`${s.url}/t/invoice.pdf?follower=1`, { headers: { 'fly-request-id': 'follower' } });
    await expect.poll(() => s.app.limiter.queued, { timeout: 5000 }).toBe(1);
    await sleep(300);
    const abortedAt = Date.now();
    client.abort();
    expect(await slow).toBeInstanceOf(Error);

    const r = await following;
    expect(r.status).toBe(200);
    // Served long before the 20 s page would have freed the slot.
    expect(Date.now() - abortedAt).toBeLessThan(12_000);
    await expect.poll(() => requestLog(s, 'follower'), { timeout: 5000 }).toBeDefined();
    const log = requestLog(s, 'follower')!;
    // It waited in the queue only until the abort (≈300 ms after it arrived), not for the slow page.
    expect(log.queueMs).toBeLessThan(abortedAt - t0 + 1500);
    await expect.poll(() => requestLog(s, 'slow-aborted')?.failure, { timeout: 5000 }).toBe('client-gone');
    expect(s.app.limiter.running).toBe(0);
  });

  test('aborting a queued request drops the queue depth at once and it never reaches the main app', async () => {
    const holder = get(`${s.url}/t/slow.pdf?ms=2500&hold=1`);
    await expect.poll(() => s.app.limiter.running, { timeout: 10_000 }).toBe(1);

    const client = new AbortController();
    const queued = get(`${s.url}/t/invoice.pdf?queued=abort`, { signal: client.signal }).catch((e: unknown) => e);
    await expect.poll(() => s.app.limiter.queued, { timeout: 5000 }).toBe(1);
    client.abort();
    expect(await queued).toBeInstanceOf(Error);
    await expect.poll(() => s.app.limiter.queued, { timeout: 1000, intervals: [10] }).toBe(0);
    const depth = await s.app.metrics.registry.getSingleMetricAsString('pdf_appliance_queue_depth');
    expect(depth).toMatch(/^pdf_appliance_queue_depth 0$/m);

    expect((await holder).status).toBe(200);
    await sleep(200);
    expect(s.main.requests.some((r) => r.path.includes('queued=abort'))).toBe(false);
    expect(s.app.limiter.running).toBe(0);
  });
});

test.describe('faults: recycling the browser after N renders', () => {
  test.describe.configure({ timeout: 120_000 });
  let s: InProcess;
  test.afterEach(async () => {
    await s?.close();
  });

  test('MAX_RENDERS_PER_BROWSER=3 with renders in flight across the boundary: none lost, old browser closed', async () => {
    s = await startStack({
      CONCURRENCY: '3',
      QUEUE_SIZE: '20',
      MAX_RENDERS_PER_BROWSER: '3',
      RENDER_TIMEOUT: '20s',
      QUEUE_TIMEOUT: '30s',
    });
    await expect.poll(() => s.app.browser.pids().length, { timeout: 20_000 }).toBe(1);
    const [first] = s.app.browser.pids();
    const firstTree = [first!, ...descendantsOf(first!)];
    const recyclesBefore = await counter(s, 'pdf_appliance_browser_recycles_total');

    // Slow pages keep renders of the first browser in flight while the next ones start.
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        get(i % 2 === 0 ? `${s.url}/t/slow.pdf?ms=800&i=${i}` : `${s.url}/t/invoice.pdf?i=${i}`),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(answers.every((a) => isPdf(a.body))).toBe(true);

    // 10 renders at 3 per browser: recycled after the 3rd, 6th and 9th.
    expect(await counter(s, 'pdf_appliance_browser_recycles_total')).toBe(recyclesBefore + 3);
    await expect.poll(() => s.app.browser.pids().length, { timeout: 15_000 }).toBe(1);
    expect(s.app.browser.pids()).not.toContain(first);
    await expect.poll(() => stillAlive(firstTree), { timeout: 15_000 }).toEqual([]);
    expect(await counter(s, 'pdf_appliance_browser_crashes_total')).toBe(0);
    expect(s.logs.some((l) => l.includes('"msg":"recycling browser"'))).toBe(true);
  });
});
