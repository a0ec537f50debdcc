import { test, expect } from '@playwright/test';
import { ImageMemory } from '../../../src/admission/image-memory.js';
import { RequestFailure } from '../../../src/failure.js';

const never = new AbortController().signal;
const noop = (): void => undefined;

test('captures are admitted first come, first served: a small one does not overtake a large one that waits', async () => {
  const mem = new ImageMemory(100, 10_000);
  const a = await mem.admit(60, 'a', never, noop);
  const order: string[] = [];
  const b = mem.admit(50, 'b', never, noop).then((g) => (order.push('b'), g));
  const c = mem.admit(10, 'c', never, noop).then((g) => (order.push('c'), g));
  await new Promise((r) => setTimeout(r, 20));
  // c would fit (60 + 10) but b is first in line.
  expect(order).toEqual([]);
  a.release();
  await Promise.all([b, c]);
  expect(order).toEqual(['b', 'c']);
  expect(mem.usedBytes).toBe(60);
  expect(mem.charges().map((ch) => [ch.owner, ch.bytes])).toEqual([
    ['b', 50],
    ['c', 10],
  ]);
});

test('a grant shrinks to what is still held and gives the rest back once; releasing twice changes nothing', async () => {
  const mem = new ImageMemory(100, 10_000);
  const a = await mem.admit(90, 'a', never, noop);
  const waiting = mem.admit(50, 'b', never, noop);
  a.shrink(30);
  expect(mem.usedBytes).toBe(80);
  a.shrink(50); // never grows back
  expect(a.bytes).toBe(30);
  const b = await waiting;
  a.release();
  a.release();
  expect(mem.usedBytes).toBe(50);
  b.release();
  expect(mem.usedBytes).toBe(0);
  expect(mem.charges()).toEqual([]);
});

test('a wait ends after its limit with a 503-mapped failure, or with the render when it is aborted', async () => {
  const mem = new ImageMemory(100, 50);
  const a = await mem.admit(100, 'a', never, noop);
  const timedOut = await mem.admit(10, 'b', never, noop).catch((e: unknown) => e);
  expect(timedOut).toBeInstanceOf(RequestFailure);
  expect((timedOut as RequestFailure).failure).toEqual({ kind: 'timeout', phase: 'image-memory', limitMs: 50 });
  const render = new AbortController();
  const aborted = mem.admit(10, 'c', render.signal, noop).catch((e: unknown) => e);
  render.abort(new Error('client went away'));
  expect(String(await aborted)).toContain('client went away');
  // Neither left anything behind.
  a.release();
  expect(mem.usedBytes).toBe(0);
  expect(await mem.admit(100, 'd', never, noop)).toBeTruthy();
  expect(mem.fits(101)).toBe(false);
});

test('stop() reaches the capture that holds the charge', async () => {
  const mem = new ImageMemory(100, 10_000);
  let stopped = 0;
  await mem.admit(40, 'ctx', never, () => stopped++);
  for (const c of mem.charges()) c.stop();
  expect(stopped).toBe(1);
});
