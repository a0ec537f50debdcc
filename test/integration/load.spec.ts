import { test, expect } from '@playwright/test';
import type { BrowserSupervisor } from '../../src/browser/supervisor.js';
import { isPdf } from '../support/pdf.js';
import { get, startStack, type InProcess } from '../support/stack.js';

/**
 * Counts renders that hold a Chromium workspace right now, from outside the limiter: a
 * workspace is leased at the start of a render and released at its end, so this is exactly
 * "renders in flight" as Chromium sees them.
 */
function watchWorkspaces(browser: BrowserSupervisor) {
  let open = 0;
  let peak = 0;
  let total = 0;
  const original = browser.acquire.bind(browser);
  browser.acquire = async (...args) => {
    open++;
    total++;
    peak = Math.max(peak, open);
    let lease;
    try {
      lease = await original(...args);
    } catch (err) {
      open--;
      throw err;
    }
    let released = false;
    return {
      ...lease,
      release: (reusable: boolean) => {
        if (!released) {
          released = true;
          open--;
        }
        lease.release(reusable);
      },
    };
  };
  return {
    get open() {
      return open;
    },
    get peak() {
      return peak;
    },
    get total() {
      return total;
    },
  };
}

/** Runs `count` calls of `fn` with at most `width` outstanding at once. */
async function pool<T>(count: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

test.describe('load: concurrency cap and bounded queue', () => {
  test.describe.configure({ timeout: 180_000 });
  let s: InProcess;
  test.afterEach(async () => {
    await s?.close();
  });

  test('200 requests at concurrency 32 against CONCURRENCY=2 QUEUE_SIZE=8: PDFs or 503 + Retry-After, never more than 2 renders', async () => {
    s = await startStack({ CONCURRENCY: '2', QUEUE_SIZE: '8', RENDER_TIMEOUT: '20s', QUEUE_TIMEOUT: '20s' });
    const watch = watchWorkspaces(s.app.browser);
    // Sampled too, as a second opinion: the limiter's own count and the queue bound.
    let peakRunning = 0;
    let peakQueued = 0;
    const sampler = setInterval(() => {
      peakRunning = Math.max(peakRunning, s.app.limiter.running);
      peakQueued = Math.max(peakQueued, s.app.limiter.queued);
    }, 5);

    const answers = await pool(200, 32, async () => {
      const r = await get(`${s.url}/t/invoice.pdf`);
      return { status: r.status, retryAfter: r.headers.get('retry-after'), pdf: isPdf(r.body) };
    });
    clearInterval(sampler);

    const odd = answers.filter(
      (a) => !(a.status === 200 && a.pdf) && !(a.status === 503 && a.retryAfter !== null && Number(a.retryAfter) >= 1),
    );
    expect(odd).toEqual([]);
    const ok = answers.filter((a) => a.status === 200).length;
    const busy = answers.filter((a) => a.status === 503).length;
    expect(ok + busy).toBe(200);
    // With 32 clients and room for 10, both answers must have happened. (How many PDFs depends
    // on the machine: refusals are instant, so on a slow one most of the 200 are 503s.)
    expect(ok).toBeGreaterThanOrEqual(2);
    expect(busy).toBeGreaterThan(0);

    expect(watch.peak).toBeLessThanOrEqual(2);
    expect(watch.peak).toBe(2); // the cap was actually reached, so the bound above means something
    expect(watch.total).toBe(ok);
    expect(peakRunning).toBeLessThanOrEqual(2);
    expect(peakQueued).toBeLessThanOrEqual(8);

    // Still up, nothing left behind.
    const health = await get(`${s.url}/healthz`);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body.toString())).toMatchObject({ status: 'ok', running: 0, queued: 0 });
    expect(watch.open).toBe(0);
    const after = await get(`${s.url}/t/invoice.pdf`);
    expect(after.status).toBe(200);
  });

  test('queue timeout: a request that waits longer than QUEUE_TIMEOUT gets 503 with Retry-After', async () => {
    s = await startStack({ CONCURRENCY: '1', QUEUE_SIZE: '4', QUEUE_TIMEOUT: '500ms', RENDER_TIMEOUT: '15s' });
    const slow = get(`${s.url}/t/slow.pdf?ms=3000`);
    await expect.poll(() => s.app.limiter.running, { timeout: 10_000 }).toBe(1);
    const t0 = Date.now();
    const r = await get(`${s.url}/t/invoice.pdf`);
    const waited = Date.now() - t0;
    expect(r.status).toBe(503);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(waited).toBeGreaterThanOrEqual(400);
    expect(waited).toBeLessThan(2900);
    expect(s.app.limiter.queued).toBe(0);
    expect((await slow).status).toBe(200);
  });
});

test.describe('load: overflow on Fly bounces once with fly-replay', () => {
  let s: InProcess;
  test.beforeAll(async () => {
    s = await startStack({ CONCURRENCY: '1', QUEUE_SIZE: '0', RENDER_TIMEOUT: '15s', FLY_MACHINE_ID: 'm-test-1' });
  });
  test.afterAll(async () => {
    await s?.close();
  });

  test('full → fly-replay elsewhere=true (keeping the main app instance); already bounced → 503', async () => {
    const slow = get(`${s.url}/t/slow.pdf?ms=2500`);
    await expect.poll(() => s.app.limiter.running, { timeout: 10_000 }).toBe(1);

    const first = await get(`${s.url}/t/invoice.pdf`, {
      headers: { 'fly-replay-src': 'instance=main-a1;region=ams;t=1700000000000000' },
    });
    expect(first.status).toBe(307);
    const replay = first.headers.get('fly-replay') ?? '';
    // The main app's instance, then this Machine's mark (see replay-src.ts).
    expect(replay).toMatch(/^elsewhere=true;state=pdf-bounced:main-a1:[A-Za-z0-9_-]{22}$/);
    expect(first.headers.get('retry-after')).toBeNull();
    const state = replay.slice('elsewhere=true;state='.length);

    const bare = await get(`${s.url}/t/invoice.pdf`);
    expect(bare.headers.get('fly-replay')).toMatch(/^elsewhere=true;state=pdf-bounced::[A-Za-z0-9_-]{22}$/);

    // Fly's proxy brings our own bounce back here (every other Machine was full): it must not
    // bounce again.
    const again = await get(`${s.url}/t/invoice.pdf`, {
      headers: { 'fly-replay-src': `instance=m-other;region=ams;t=1700000000000001;state=${state}` },
    });
    expect(again.status).toBe(503);
    expect(again.headers.get('fly-replay')).toBeNull();
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    expect((await slow).status).toBe(200);
    // Once the slot is free the same request is served here.
    const served = await get(`${s.url}/t/invoice.pdf`, {
      headers: { 'fly-replay-src': `instance=m-other;region=ams;t=1;state=${state}` },
    });
    expect(served.status).toBe(200);

    const text = await s.app.metrics.registry.getSingleMetricAsString('pdf_appliance_overflow_total');
    expect(text).toMatch(/pdf_appliance_overflow_total\{answer="replay"\} 2/);
    expect(text).toMatch(/pdf_appliance_overflow_total\{answer="503"\} 1/);
  });

  test('a bounce marker the client wrote is not ours: the full appliance still bounces', async () => {
    const slow = get(`${s.url}/t/slow.pdf?ms=2500`);
    await expect.poll(() => s.app.limiter.running, { timeout: 10_000 }).toBe(1);
    for (const state of [
      'pdf-bounced',
      'pdf-bounced:main-a1',
      'pdf-bounced:main-a1:AAAAAAAAAAAAAAAAAAAAAA',
      'pdf-bounced-by-me',
    ]) {
      const r = await get(`${s.url}/t/invoice.pdf`, {
        headers: { 'fly-replay-src': `instance=main-a1;region=ams;t=1;state=${state}` },
      });
      expect(r.status, state).toBe(307);
      expect(r.headers.get('fly-replay'), state).toMatch(
        /^elsewhere=true;state=pdf-bounced:[A-Za-z0-9._-]*:([A-Za-z0-9_-]{22}\.)*[A-Za-z0-9_-]{22}$/,
      );
    }
    expect((await slow).status).toBe(200);
  });
});
