import { test, expect } from '@playwright/test';
import { IdleClock, type Time } from '../../../src/admission/idle-clock.js';

/**
 * A clock the test moves by hand: timers fire exactly when `advance` passes their time, so
 * what these tests assert cannot depend on how busy the machine is.
 */
function manualTime(): Time & { advance(ms: number): void } {
  let now = 0;
  let timers: { at: number; fn: () => void }[] = [];
  return {
    now: () => now,
    setTimer(fn, ms) {
      const t = { at: now + ms, fn };
      timers.push(t);
      return { cancel: () => (timers = timers.filter((x) => x !== t)) };
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        timers = timers.filter((t) => t !== due);
        now = due.at;
        due.fn();
      }
      now = end;
    },
  };
}

function clock(timeoutMs: number) {
  const time = manualTime();
  const fires: number[] = [];
  const c = new IdleClock(timeoutMs, () => fires.push(time.now()), time);
  return { c, time, fires };
}

test('fires once, exactly the timeout after start, with nothing in flight', () => {
  const { c, time, fires } = clock(100);
  c.start();
  time.advance(99);
  expect(fires).toEqual([]);
  time.advance(1);
  expect(fires).toEqual([100]);
  time.advance(1000);
  expect(fires).toEqual([100]);
});

test('never fires while work is in flight, and counts from when the last work ended', () => {
  const { c, time, fires } = clock(100);
  c.start();
  const end = c.begin();
  expect(c.active).toBe(1);
  expect(c.idleForMs).toBe(0);
  time.advance(300);
  expect(fires).toEqual([]);
  end();
  end(); // idempotent
  expect(c.active).toBe(0);
  time.advance(99);
  expect(fires).toEqual([]);
  time.advance(1);
  expect(fires).toEqual([400]);
});

test('overlapping work: fires only after the last one ends', () => {
  const { c, time, fires } = clock(80);
  c.start();
  const a = c.begin();
  const b = c.begin();
  a();
  time.advance(200);
  expect(fires).toEqual([]);
  b();
  time.advance(80);
  expect(fires).toEqual([280]);
});

test('touch() postpones the exit to a full timeout after the last touch', () => {
  const { c, time, fires } = clock(150);
  c.start();
  for (let i = 0; i < 4; i++) {
    time.advance(140);
    c.touch();
  }
  expect(fires).toEqual([]);
  time.advance(149);
  expect(fires).toEqual([]);
  time.advance(1);
  expect(fires).toEqual([560 + 150]);
});

test('idleForMs grows while idle; stop() cancels; 0 means never', () => {
  const { c, time, fires } = clock(100);
  c.start();
  time.advance(40);
  expect(c.idleForMs).toBe(40);
  c.stop();
  time.advance(200);
  expect(fires).toEqual([]);
  // After stop, new work does not re-arm it either (we are shutting down).
  c.begin()();
  time.advance(200);
  expect(fires).toEqual([]);

  const never = clock(0);
  never.c.start();
  never.c.begin()();
  never.time.advance(10_000_000);
  expect(never.fires).toEqual([]);
});

test('resume() after a fire counts afresh from the resume', () => {
  const { c, time, fires } = clock(100);
  c.start();
  time.advance(100);
  expect(fires).toEqual([100]);
  // Suspended; the machine comes back later.
  time.advance(5000);
  c.resume();
  expect(c.idleForMs).toBe(0);
  time.advance(99);
  expect(fires).toEqual([100]);
  time.advance(1);
  expect(fires).toEqual([100, 5200]);
});

test('the real clock fires on its own (the timer is set on the system clock)', async () => {
  let fired = false;
  const c = new IdleClock(20, () => (fired = true));
  c.start();
  await expect.poll(() => fired, { timeout: 10_000 }).toBe(true);
});
