import { randomBytes } from 'node:crypto';
import { test, expect } from '@playwright/test';
import { readPdf } from '../support/pdf.js';
import { get, startStack, type InProcess } from '../support/stack.js';

/**
 * The isolation matrix: one identity's page writes into every kind of state a browser context
 * holds (cookies from the server and from script, local and session storage, IndexedDB, Cache
 * Storage, the HTTP cache with a `private, max-age` answer, a personal stylesheet the asset
 * cache must not share, a service worker, window.name, a BroadcastChannel, the HTTP auth cache
 * through XMLHttpRequest credentials), and keeps writing every 5 ms while its page lives. The
 * other identity's page prints everything it can see. Not one mark of the writer may appear, the
 * main app must never receive the writer's identity with the reader's requests, and the reader
 * must complete. Run on every path a render can get its context by: a spare opened ahead, one
 * opened on demand, its own identity's settled one.
 */

interface Run {
  tag: string;
  writer: string;
  reader: string;
}

function run(): Run {
  const tag = randomBytes(4).toString('hex');
  return { tag, writer: `alice-${tag}`, reader: `bob-${tag}` };
}

const as = (user: string) => ({ headers: { cookie: `session=${user}` } });

async function write(s: InProcess, user: string, holdMs = 0): Promise<void> {
  const r = await get(`${s.url}/iso/write.pdf?hold=${holdMs}`, as(user));
  expect(r.status, r.body.toString()).toBe(200);
  expect((await readPdf(r.body)).text.join(' ')).toContain(`written by ${user}`);
}

/** Renders the reader and checks it found nothing of `foreign`, and that it really looked. */
async function readClean(s: InProcess, user: string, foreign: string): Promise<string> {
  const since = s.main.requests.length;
  const r = await get(`${s.url}/iso/read.pdf`, as(user));
  expect(r.status, r.body.toString()).toBe(200);
  const text = (await readPdf(r.body)).text.join(' ');
  // It looked everywhere, as itself...
  for (const what of [
    'cookie:',
    'localStorage:',
    'sessionStorage:',
    'window.name:',
    'indexedDB:',
    'cacheStorage:',
    'serviceWorkers:',
    'broadcast:',
  ])
    expect(text).toContain(what);
  expect(text).toContain(`private=${user}`);
  expect(text).toContain(`css=${user}`);
  expect(text).toMatch(/basic: 401/);
  // ...and found nothing of the other user.
  expect(text).not.toContain(foreign);
  // The main app never got the other user's identity with the reader's requests.
  const mine = s.main.requests
    .slice(since)
    .filter((q) => q.path.startsWith('/iso/read') || (q.headers['referer'] ?? '').includes('/iso/read'));
  // (The page and its uncacheable requests at least; its own context's HTTP cache may answer the rest.)
  expect(mine.length).toBeGreaterThanOrEqual(2);
  for (const q of mine) {
    expect(q.headers['cookie'] ?? '', q.path).not.toContain(foreign);
    expect(q.headers['authorization'] ?? '', q.path).toBe('');
  }
  return text;
}

async function workspaces(s: InProcess): Promise<Record<string, number>> {
  const metric = await s.app.metrics.workspaces.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels.how), v.value]));
}

test.describe('isolation matrix', () => {
  test.describe.configure({ timeout: 120_000 });
  let s: InProcess | undefined;
  test.afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  // One slot (every render waits for the one before it) and the shipped default (spares and
  // idle contexts of several users side by side).
  for (const [label, env] of [
    ['one slot', { CONCURRENCY: '1' }],
    ['default CONCURRENCY', {}],
  ] as const) {
    test(`${label}, writer then reader: the reader gets a context nobody used`, async () => {
      s = await startStack({ ...env, RENDER_TIMEOUT: '30s' });
      const r = run();
      await write(s, r.writer);
      await readClean(s, r.reader, r.writer);
      const how = await workspaces(s);
      expect(how.hot ?? 0).toBe(0);
      expect((how.spare ?? 0) + (how.opened ?? 0)).toBe(2);
    });

    test(`${label}, both orders, several rounds: each user sees only what is theirs`, async () => {
      s = await startStack({ ...env, RENDER_TIMEOUT: '30s' });
      const r = run();
      for (let i = 0; i < 2; i++) {
        await write(s, r.reader);
        await readClean(s, r.writer, r.reader);
        await write(s, r.writer);
        await readClean(s, r.reader, r.writer);
      }
      // No render ever got a context another identity had used: eight renders, none of them hot
      // across users (a hot one is its own identity's, settled since).
      const how = await workspaces(s);
      expect((how.hot ?? 0) + (how.spare ?? 0) + (how.opened ?? 0)).toBe(8);
    });
  }

  test('the same user reuses their own context; the next user still finds a clean one', async () => {
    s = await startStack({ CONCURRENCY: '2', RENDER_TIMEOUT: '30s' });
    const r = run();
    await write(s, r.writer);
    // The writer's own next render keeps its state: that is what reuse is for.
    const own = await get(`${s.url}/iso/read.pdf`, as(r.writer));
    expect((await readPdf(own.body)).text.join(' ')).toContain(`${r.writer}#`);
    expect((await workspaces(s)).hot).toBe(1);
    await readClean(s, r.reader, r.writer);
  });

  test("concurrent: the writer's page is still open and writing while the reader renders", async () => {
    s = await startStack({ CONCURRENCY: '2', RENDER_TIMEOUT: '30s' });
    const r = run();
    const writing = write(s, r.writer, 3000);
    // Let the writer's page get going before the reader starts.
    await expect
      .poll(() => s!.main.requests.some((q) => q.path === '/iso/private.json'), { timeout: 20_000 })
      .toBe(true);
    await readClean(s, r.reader, r.writer);
    await writing;
  });

  test('a context left idle is disposed after WORKSPACE_LINGER; its user then gets a fresh one', async () => {
    s = await startStack({ CONCURRENCY: '2', RENDER_TIMEOUT: '30s', WORKSPACE_LINGER: '1s' });
    const r = run();
    await write(s, r.writer);
    // The writer's context, and a spare: after the linger only the spare is left.
    await expect.poll(() => s!.app.browser.info().workspaces, { timeout: 10_000 }).toBe(1);
    const own = await get(`${s.url}/iso/read.pdf`, as(r.writer));
    expect((await readPdf(own.body)).text.join(' ')).not.toContain(`${r.writer}#`);
    expect((await workspaces(s)).hot ?? 0).toBe(0);
    await readClean(s, r.reader, r.writer);
  });

  test('a recycled browser: the reader renders in a new Chromium', async () => {
    s = await startStack({ CONCURRENCY: '1', RENDER_TIMEOUT: '30s', MAX_RENDERS_PER_BROWSER: '1' });
    const r = run();
    await write(s, r.writer);
    await readClean(s, r.reader, r.writer);
    expect((await s.app.metrics.browserRecycles.get()).values[0]?.value).toBeGreaterThanOrEqual(1);
  });
});
