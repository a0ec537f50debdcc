import { test, expect } from '@playwright/test';
import { WorkspacePool, type PoolOptions } from '../../../src/browser/pool.js';
import type { Workspace } from '../../../src/browser/workspace.js';
import type { Identity } from '../../../src/security/credentials.js';

// The pool's decisions alone: which workspace a render gets, when spares are opened, what is
// disposed. A workspace here is a stand-in that records what was asked of it (the real one is
// a Chromium browser context: test/integration/isolation.spec.ts and one-identity.spec.ts).

class StandIn {
  static opened = 0;
  readonly n = ++StandIn.opened;
  identityKey: string | null = null;
  renders = 0;
  retired: string | null = null;
  closed = false;
  settles = 0;
  failSettle = false;
  async assign(identity: Identity): Promise<void> {
    if (this.identityKey !== null) throw new Error('a workspace serves one identity');
    this.identityKey = identity.key;
  }
  async settle(identity: Identity): Promise<void> {
    this.settles++;
    if (identity.key !== this.identityKey) throw new Error('a workspace serves one identity');
    await new Promise((r) => setTimeout(r, 5));
    if (this.failSettle) throw new Error('something outlived the page');
  }
  retire(reason: string): void {
    this.retired ??= reason;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const user = (name: string): Identity => ({
  cookies: [{ name: 'session', value: name }],
  headers: {},
  anonymous: false,
  key: `key-${name}`,
});
const anonymous: Identity = { cookies: [], headers: {}, anonymous: true, key: 'anonymous:o' };
const ORIGIN = 'http://127.0.0.1:3000';

function pool(opts: Partial<PoolOptions> & { openDelayMs?: number; failOpen?: () => boolean } = {}) {
  const all: StandIn[] = [];
  const retired: string[] = [];
  const spareFailures: string[] = [];
  const p = new WorkspacePool({
    slots: 2,
    spares: 1,
    maxRenders: 100,
    lingerMs: 0,
    onRetire: (reason) => retired.push(reason),
    onSpareFailed: (err) => spareFailures.push((err as Error).message),
    open: async () => {
      await new Promise((r) => setTimeout(r, opts.openDelayMs ?? 1));
      if (opts.failOpen?.()) throw new Error('no context');
      const ws = new StandIn();
      all.push(ws);
      return ws as unknown as Workspace;
    },
    ...opts,
  });
  return { p, all, retired, spareFailures };
}

const forever = new AbortController().signal;
const standIn = (ws: Workspace): StandIn => ws as unknown as StandIn;
async function render(p: WorkspacePool, who: Identity) {
  const got = await p.acquire(who, ORIGIN, forever);
  standIn(got.ws).renders++;
  p.release(got.ws, true);
  return { how: got.how, ws: standIn(got.ws) };
}
/** Until the pool's background work (settles, spares) is done. */
const settled = () => new Promise((r) => setTimeout(r, 50));

test('a spare is opened ahead; a new user takes it and another is opened in its place', async () => {
  const { p, all } = pool();
  await p.prewarm();
  expect(all).toHaveLength(1);
  const first = await render(p, user('alice'));
  expect(first.how).toBe('spare');
  expect(first.ws.identityKey).toBe('key-alice');
  await settled();
  expect(all).toHaveLength(2);
  expect((await render(p, user('bob'))).how).toBe('spare');
});

test('the same identity gets its own settled workspace back; no one else ever does', async () => {
  const { p } = pool();
  await p.prewarm();
  const a = await render(p, user('alice'));
  await settled();
  const again = await render(p, user('alice'));
  expect(again.how).toBe('hot');
  expect(again.ws).toBe(a.ws);
  // Settled after each of its renders.
  expect(a.ws.settles).toBe(2);
  await settled();
  const bob = await render(p, user('bob'));
  expect(bob.ws).not.toBe(a.ws);
  expect(bob.ws.identityKey).toBe('key-bob');
});

test("a render arriving while its identity's workspace settles waits for it", async () => {
  const { p } = pool();
  await p.prewarm();
  const a = await render(p, user('alice'));
  // No pause: the settle (5 ms) is still running.
  const again = await render(p, user('alice'));
  expect(again.how).toBe('hot');
  expect(again.ws).toBe(a.ws);
});

test('an anonymous render never reuses a workspace', async () => {
  const { p } = pool();
  await p.prewarm();
  const first = await render(p, anonymous);
  await settled();
  const second = await render(p, anonymous);
  expect(second.ws).not.toBe(first.ws);
  expect(second.how).toBe('spare');
  expect(first.ws.closed).toBe(true);
  expect(first.ws.settles).toBe(0);
});

test('a workspace that fails to settle is disposed, not reused', async () => {
  const { p } = pool();
  await p.prewarm();
  const got = await p.acquire(user('alice'), ORIGIN, forever);
  standIn(got.ws).failSettle = true;
  p.release(got.ws, true);
  await settled();
  expect(standIn(got.ws).closed).toBe(true);
  expect(standIn(got.ws).retired).toMatch(/could not be settled/);
  const again = await render(p, user('alice'));
  expect(again.ws).not.toBe(standIn(got.ws));
});

test('a render that did not end cleanly disposes its workspace', async () => {
  const { p } = pool();
  await p.prewarm();
  const got = await p.acquire(user('alice'), ORIGIN, forever);
  p.release(got.ws, false);
  expect(standIn(got.ws).closed).toBe(true);
  expect(standIn(got.ws).settles).toBe(0);
});

test('live workspaces never exceed 2 × slots + spares: the idle one used longest ago makes room', async () => {
  const { p, all } = pool({ slots: 2, spares: 1 });
  await p.prewarm();
  for (const name of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) {
    await render(p, user(name));
    await settled();
    expect(p.count).toBeLessThanOrEqual(5);
  }
  // Four users' workspaces fit beside the spare; a, b and c made room in that order.
  expect(all.filter((w) => w.closed).map((w) => w.identityKey)).toEqual(['key-a', 'key-b', 'key-c']);
});

test('a render waits for a spare being opened rather than opening a second one', async () => {
  const { p, all } = pool({ openDelayMs: 30 });
  await p.prewarm();
  await render(p, user('a'));
  // The replacement spare is opening now (30 ms); the next new user claims it.
  const b = await render(p, user('b'));
  expect(b.how).toBe('spare');
  await settled();
  expect(all).toHaveLength(3);
});

test('a deadline while waiting for an opening spare leaves it a spare for the next render', async () => {
  const { p } = pool({ openDelayMs: 100, spares: 1 });
  const opening = p.prewarm();
  const ac = new AbortController();
  const gave = p.acquire(user('a'), ORIGIN, ac.signal);
  setTimeout(() => ac.abort(new Error('deadline')), 10);
  await expect(gave).rejects.toThrow('deadline');
  await opening;
  expect((await render(p, user('b'))).how).toBe('spare');
});

test('a failed open fails that render only; the next one gets a workspace', async () => {
  let fail = false;
  const { p } = pool({ spares: 0, failOpen: () => fail });
  fail = true;
  await expect(p.acquire(user('a'), ORIGIN, forever)).rejects.toThrow('no context');
  fail = false;
  expect((await render(p, user('a'))).how).toBe('opened');
});

test('a spare that fails to open in the background is reported, and the next release opens another', async () => {
  let fail = true;
  const { p, spareFailures } = pool({ failOpen: () => fail });
  await p.prewarm();
  expect(spareFailures).toEqual(['no context']);
  fail = false;
  expect((await render(p, user('alice'))).how).toBe('opened');
  await settled();
  expect((await render(p, user('bob'))).how).toBe('spare');
  expect(spareFailures).toEqual(['no context']);
});

test('an idle workspace is disposed after the linger', async () => {
  const { p, retired } = pool({ lingerMs: 20 });
  await p.prewarm();
  const a = await render(p, user('alice'));
  await expect.poll(() => a.ws.closed, { timeout: 5000 }).toBe(true);
  expect(retired.some((r) => r.startsWith('idle for'))).toBe(true);
  // The spare stays: it holds nobody's data.
  expect(p.count).toBe(1);
});

test('a workspace past its render budget is disposed', async () => {
  const { p } = pool({ maxRenders: 2 });
  await p.prewarm();
  const a = await render(p, user('alice'));
  await settled();
  await render(p, user('alice'));
  expect(a.ws.closed).toBe(true);
  expect(a.ws.retired).toMatch(/served 2 renders/);
});
