import { test, expect } from '@playwright/test';
import { IdleClock } from '../../src/admission/idle-clock.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Times here are generous multiples: the machine is shared and timers can be late. */
function clock(timeoutMs: number) {
  let firedAt: number | null = null;
  const c = new IdleClock(timeoutMs, () => {
    firedAt = Date.now();
  });
  return { c, fired: () => firedAt };
}

test('fires once after the timeout with nothing in flight', async () => {
  const { c, fired } = clock(100);
  const t0 = Date.now();
  c.start();
  await sleep(50);
  expect(fired()).toBeNull();
  await sleep(250);
  expect(fired()).not.toBeNull();
  expect(fired()! - t0).toBeGreaterThanOrEqual(95);
});

test('never fires while work is in flight, and counts from when the last work ended', async () => {
  const { c, fired } = clock(100);
  c.start();
  const end = c.begin();
  expect(c.active).toBe(1);
  expect(c.idleForMs).toBe(0);
  await sleep(300);
  expect(fired()).toBeNull();
  const endedAt = Date.now();
  end();
  end(); // idempotent
  expect(c.active).toBe(0);
  await sleep(300);
  expect(fired()).not.toBeNull();
  expect(fired()! - endedAt).toBeGreaterThanOrEqual(95);
});

test('overlapping work: fires only after the last one ends', async () => {
  const { c, fired } = clock(80);
  c.start();
  const a = c.begin();
  const b = c.begin();
  a();
  await sleep(200);
  expect(fired()).toBeNull();
  b();
  await sleep(250);
  expect(fired()).not.toBeNull();
});

test('touch() postpones the exit', async () => {
  const { c, fired } = clock(150);
  c.start();
  for (let i = 0; i < 4; i++) {
    await sleep(80);
    c.touch();
  }
  expect(fired()).toBeNull();
  const lastTouch = Date.now();
  await sleep(400);
  expect(fired()).not.toBeNull();
  expect(fired()! - lastTouch).toBeGreaterThanOrEqual(140);
});

test('idleForMs grows while idle; stop() cancels; 0 means never', async () => {
  const { c, fired } = clock(100);
  c.start();
  await sleep(40);
  expect(c.idleForMs).toBeGreaterThanOrEqual(30);
  c.stop();
  await sleep(200);
  expect(fired()).toBeNull();
  // After stop, new work does not re-arm it either (we are shutting down).
  c.begin()();
  await sleep(200);
  expect(fired()).toBeNull();

  const never = clock(0);
  never.c.start();
  never.c.begin()();
  await sleep(100);
  expect(never.fired()).toBeNull();
});
