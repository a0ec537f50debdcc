import { test, expect } from '@playwright/test';
import { Balancer, HardLimitError } from '../../fixtures/fly-proxy/balancer.js';
import { Machine } from '../../fixtures/fly-proxy/machines.js';
import { Router, type RouteTarget } from '../../fixtures/fly-proxy/router.js';
import type { Concurrency, MachineState } from '../../fixtures/fly-proxy/types.js';

// The emulator's load balancing as Fly documents it (see fixtures/fly-proxy/router.ts): the
// routing decision alone, on machines whose state and load the test sets.

const LIMITS: Concurrency = { type: 'requests', soft_limit: 3, hard_limit: 15 };

function machine(id: string, state: MachineState, load = 0, region = 'lcl'): Machine {
  const m = new Machine('pdf', id, region, new URL(`http://127.0.0.1:${4000 + Number(id.replace(/\D/g, ''))}`), {
    command: ['true'],
  });
  m.state = state;
  m.load = load;
  return m;
}

/** 'fly-defaults': the app sets no concurrency. */
function router(machines: Machine[], concurrency: Concurrency | 'fly-defaults' = LIMITS): Router {
  return new Router(
    [{ name: 'pdf', machines, concurrency: concurrency === 'fly-defaults' ? undefined : concurrency }],
    'lcl',
  );
}

const pdf: RouteTarget = { app: 'pdf' };

test.describe('routing by concurrency limits', () => {
  test('below the soft limit the least loaded running machine wins; exact ties take turns', () => {
    const [a, b, c] = [machine('pdf-1', 'running', 2), machine('pdf-2', 'running', 1), machine('pdf-3', 'stopped')];
    const r = router([a, b, c]);
    expect(r.pick(pdf)).toBe(b);
    b.load = 2;
    const picks = [r.pick(pdf), r.pick(pdf), r.pick(pdf), r.pick(pdf)].map((m) => m!.id);
    expect(picks.sort()).toEqual(['pdf-1', 'pdf-1', 'pdf-2', 'pdf-2']);
  });

  test('when every running machine is at its soft limit, a sleeping one is woken, suspended before stopped', () => {
    const running = machine('pdf-1', 'running', 3);
    const stopped = machine('pdf-2', 'stopped');
    const suspended = machine('pdf-3', 'suspended');
    const r = router([running, stopped, suspended]);
    expect(r.pick(pdf)).toBe(suspended);
    suspended.load = 1; // a request is resuming it: it counts as up, with that load
    expect(r.pick(pdf)).toBe(suspended);
    suspended.load = 3;
    expect(r.pick(pdf)).toBe(stopped);
  });

  test('with nothing left to wake, machines between the limits share the load; all at the hard limit means wait', () => {
    const [a, b] = [machine('pdf-1', 'running', 9), machine('pdf-2', 'starting', 4)];
    const r = router([a, b]);
    expect(r.pick(pdf)).toBe(b);
    b.load = 15;
    expect(r.pick(pdf)).toBe(a);
    a.load = 15;
    expect(r.pick(pdf)).toBeNull();
  });

  test('all stopped: the first request wakes the first machine, and the next ones join it up to its soft limit', () => {
    const ms = [machine('pdf-1', 'stopped'), machine('pdf-2', 'stopped'), machine('pdf-3', 'unknown')];
    const r = router(ms);
    const order: string[] = [];
    for (let i = 0; i < 10; i++) {
      const m = r.pick(pdf)!;
      m.load++;
      order.push(m.id);
    }
    expect(order).toEqual(['pdf-1', 'pdf-1', 'pdf-1', 'pdf-2', 'pdf-2', 'pdf-2', 'pdf-3', 'pdf-3', 'pdf-3', 'pdf-1']);
  });

  test('a machine being suspended is not running: traffic goes elsewhere while another has room', () => {
    const [a, b] = [machine('pdf-1', 'running', 0), machine('pdf-2', 'running', 1)];
    a.suspending = Promise.resolve();
    expect(router([a, b]).pick(pdf)).toBe(b);
  });

  test('the local region first; another region only once every local machine is at its hard limit', () => {
    const local = machine('pdf-1', 'running', 14);
    const far = machine('pdf-2', 'running', 0, 'ams');
    const r = router([local, far]);
    expect(r.pick(pdf)).toBe(local);
    local.load = 15;
    expect(r.pick(pdf)).toBe(far);
    expect(r.pick({ app: 'pdf', region: 'ams' })).toBe(far);
  });

  test('elsewhere excludes the machine that bounced; prefer holds below the hard limit; instance always', () => {
    const [a, b] = [machine('pdf-1', 'running', 0), machine('pdf-2', 'running', 5)];
    const r = router([a, b]);
    expect(r.pick({ app: 'pdf', exclude: ['pdf-1'] })).toBe(b);
    expect(r.pick({ app: 'pdf', prefer: 'pdf-2' })).toBe(b);
    b.load = 15;
    expect(r.pick({ app: 'pdf', prefer: 'pdf-2' })).toBe(a);
    expect(r.pick({ app: 'pdf', instance: 'pdf-2' })).toBe(b);
    a.load = 15;
    expect(r.pick({ app: 'pdf', exclude: ['pdf-1'] })).toBeNull();
    expect(() => r.pick({ app: 'pdf', exclude: ['pdf-1', 'pdf-2'] })).toThrow('no other machine');
  });

  test("without [http_service.concurrency]: Fly's defaults, soft limit 20 and no hard limit", () => {
    const a = machine('pdf-1', 'running', 19);
    const b = machine('pdf-2', 'stopped');
    const r = router([a, b], 'fly-defaults');
    expect(r.pick(pdf)).toBe(a);
    a.load = 20;
    expect(r.pick(pdf)).toBe(b);
    b.load = 1_000;
    a.load = 999;
    expect(r.pick(pdf)).toBe(a);
  });
});

test.describe('waiting at the hard limit', () => {
  function full(): { a: Machine; balancer: Balancer; queued: string[] } {
    const a = machine('pdf-1', 'running');
    const queued: string[] = [];
    const balancer = new Balancer(router([a], { type: 'requests', soft_limit: 1, hard_limit: 2 }), 2000, (t) =>
      queued.push(t.app),
    );
    return { a, balancer, queued };
  }

  test('waiters get room in the order they came, each as a request ends', async () => {
    const { a, balancer, queued } = full();
    const signal = new AbortController().signal;
    const held = [await balancer.take(pdf, signal), await balancer.take(pdf, signal)];
    expect(a.load).toBe(2);
    const got: number[] = [];
    const waiting = [1, 2, 3].map((n) => balancer.take(pdf, signal).then((lease) => (got.push(n), lease)));
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual([]);
    expect(queued).toHaveLength(3);

    held[0]!.release();
    held[0]!.release(); // idempotent
    const first = await waiting[0]!;
    expect(got).toEqual([1]);
    expect(a.load).toBe(2);
    first.release();
    await waiting[1];
    held[1]!.release();
    (await waiting[2]).release();
    expect(got).toEqual([1, 2, 3]);
  });

  test('a wait is bounded (503 from the proxy), and a client that leaves stops waiting', async () => {
    const { a, balancer } = full();
    const signal = new AbortController().signal;
    await balancer.take(pdf, signal);
    await balancer.take(pdf, signal);
    const started = Date.now();
    await expect(balancer.take(pdf, signal)).rejects.toBeInstanceOf(HardLimitError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);

    const gone = new AbortController();
    const waiting = balancer.take(pdf, gone.signal);
    gone.abort(new Error('client went away'));
    await expect(waiting).rejects.toThrow('client went away');
    expect(a.load).toBe(2);
  });
});
