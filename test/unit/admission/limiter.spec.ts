import { test, expect } from '@playwright/test';
import { RequestFailure } from '../../../src/failure.js';
import { Limiter } from '../../../src/admission/limiter.js';

/** A task the test finishes by hand. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => {
    open = r;
  });
  let started = false;
  return {
    task: async () => {
      started = true;
      await opened;
      return 'done';
    },
    open,
    get started() {
      return started;
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));
const never = () => new AbortController().signal;

async function failureOf(p: Promise<unknown>): Promise<RequestFailure['failure']> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RequestFailure);
  return (err as RequestFailure).failure;
}

test('runs at most `concurrency` tasks; the rest wait in order', async () => {
  const l = new Limiter({ concurrency: 2, queueSize: 5, queueTimeoutMs: 10_000 });
  const gates = [gate(), gate(), gate(), gate()];
  const order: number[] = [];
  const runs = gates.map((g, i) =>
    l.run(async () => {
      order.push(i);
      return g.task();
    }, never()),
  );
  await tick();
  expect(gates.map((g) => g.started)).toEqual([true, true, false, false]);
  expect(l.running).toBe(2);
  expect(l.queued).toBe(2);

  gates[1]!.open();
  await runs[1];
  await tick();
  expect(gates[2]!.started).toBe(true);
  expect(gates[3]!.started).toBe(false);
  expect(l.running).toBe(2);
  expect(l.queued).toBe(1);

  for (const g of gates) g.open();
  expect(await Promise.all(runs)).toEqual(['done', 'done', 'done', 'done']);
  expect(order).toEqual([0, 1, 2, 3]);
  expect(l.running).toBe(0);
  expect(l.queued).toBe(0);
});

test('refuses at once when slots and queue are full, and admits again when one frees', async () => {
  const l = new Limiter({ concurrency: 1, queueSize: 2, queueTimeoutMs: 10_000 });
  const gates = [gate(), gate(), gate()];
  const runs = gates.map((g) => l.run(g.task, never()));
  expect(l.full).toBe(true);
  // run() throws synchronously, so a caller can answer before doing any work.
  expect(() => l.run(async () => 'x', never())).toThrow(RequestFailure);
  expect(() => l.run(async () => 'x', never())).toThrow(expect.objectContaining({ failure: { kind: 'overloaded' } }));

  gates[0]!.open();
  await runs[0];
  await tick();
  expect(l.full).toBe(false);
  const extra = gate();
  const late = l.run(extra.task, never());
  expect(l.full).toBe(true);
  for (const g of [...gates, extra]) g.open();
  await Promise.all([...runs, late]);
});

test('a waiter that times out in the queue gets a queue timeout and leaves the queue', async () => {
  const l = new Limiter({ concurrency: 1, queueSize: 3, queueTimeoutMs: 50 });
  const busy = gate();
  const first = l.run(busy.task, never());
  const waiter = gate();
  const started = Date.now();
  const f = await failureOf(l.run(waiter.task, never()));
  expect(f).toEqual({ kind: 'timeout', phase: 'queue' });
  expect(Date.now() - started).toBeLessThan(2000);
  expect(l.queued).toBe(0);

  busy.open();
  await first;
  await tick();
  // The timed-out waiter never runs, even after the slot frees.
  expect(waiter.started).toBe(false);
});

test('an aborted waiter leaves the queue synchronously and never runs', async () => {
  const l = new Limiter({ concurrency: 1, queueSize: 3, queueTimeoutMs: 10_000 });
  const busy = gate();
  const first = l.run(busy.task, never());
  const client = new AbortController();
  const waiter = gate();
  const queued = l.run(waiter.task, client.signal);
  const next = gate();
  const after = l.run(next.task, never());
  await tick();
  expect(l.queued).toBe(2);

  client.abort();
  expect(l.queued).toBe(1);
  expect((await failureOf(queued)).kind).toBe('client-gone');

  busy.open();
  await first;
  await new Promise((r) => setTimeout(r, 10));
  expect(waiter.started).toBe(false);
  expect(next.started).toBe(true);
  expect(l.running).toBe(1);
  next.open();
  await after;
  expect(l.running).toBe(0);
  expect(l.queued).toBe(0);
});

test('an already-aborted signal is refused without queueing', async () => {
  const l = new Limiter({ concurrency: 1, queueSize: 1, queueTimeoutMs: 1000 });
  const ac = new AbortController();
  ac.abort();
  expect(() => l.run(async () => 1, ac.signal)).toThrow(RequestFailure);
  expect(l.queued).toBe(0);
});

test('a failing task frees its slot and passes its error on', async () => {
  const l = new Limiter({ concurrency: 1, queueSize: 1, queueTimeoutMs: 1000 });
  const boom = l.run(async () => {
    throw new Error('boom');
  }, never());
  const ok = l.run(async () => 'ok', never());
  await expect(boom).rejects.toThrow('boom');
  await expect(ok).resolves.toBe('ok');
  expect(l.running).toBe(0);
});

test('queuedMs reports the time spent waiting', async () => {
  const l = new Limiter({ concurrency: 1, queueSize: 1, queueTimeoutMs: 5000 });
  const busy = gate();
  const first = l.run(async (t) => {
    expect(t.queuedMs).toBeLessThan(50);
    return busy.task();
  }, never());
  const second = l.run(async (t) => t.queuedMs, never());
  setTimeout(() => busy.open(), 120);
  await first;
  expect(await second).toBeGreaterThanOrEqual(100);
});

test('under a burst, running never exceeds concurrency and running + queued never exceeds the bound', async () => {
  const l = new Limiter({ concurrency: 3, queueSize: 4, queueTimeoutMs: 10_000 });
  let peakRunning = 0;
  let peakTotal = 0;
  let executing = 0;
  let refused = 0;
  const all: Promise<unknown>[] = [];
  for (let i = 0; i < 200; i++) {
    try {
      all.push(
        l.run(async () => {
          executing++;
          peakRunning = Math.max(peakRunning, executing, l.running);
          await new Promise((r) => setTimeout(r, 1 + (i % 3)));
          executing--;
        }, never()),
      );
    } catch {
      refused++;
    }
    peakTotal = Math.max(peakTotal, l.running + l.queued);
    if (i % 5 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(all);
  expect(peakRunning).toBe(3);
  expect(peakTotal).toBeLessThanOrEqual(7);
  expect(refused).toBeGreaterThan(0);
  expect(all.length + refused).toBe(200);
});
