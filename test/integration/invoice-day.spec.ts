import { test, expect } from '@playwright/test';
import { join } from 'node:path';
import { BURST_USERS, startInvoiceDay, type BurstResult, type InvoiceDay } from '../../fixtures/invoice-day.js';
import { isPdf, readPdf } from '../support/pdf.js';

// Invoice day (issue 21): a burst bigger than one Machine, spread by the Fly-proxy emulator over
// the appliance app's Machines by fly.toml's [http_service.concurrency], which starts (or
// resumes) the Machines the burst needs; each Machine is a real `node dist/src/main.js` with
// fly.toml's [env]. Every click must get its own user's PDF, none a 503; afterwards every
// Machine goes idle and suspends itself (IDLE_ACTION=suspend, as fly.toml ships).

const ROOT = join(import.meta.dirname, '..', '..');
const CLICKS = 60;
const WINDOW_MS = 2000;
/**
 * Short, so that the test sees the Machines go idle (fly.toml's is minutes), and long enough that
 * none idles between the end of its share of a burst and the end of the burst.
 */
const IDLE_TIMEOUT = '8s';
/** Bound on every wait for a state the Machines reach on their own (idle, suspended). */
const SETTLE_MS = 45_000;

let day: InvoiceDay | undefined;
test.afterEach(async ({}, testInfo) => {
  if (day && testInfo.status !== testInfo.expectedStatus) {
    await testInfo.attach('appliance machines.log', { body: await day.logs(), contentType: 'text/plain' });
  }
  await day?.close();
  day = undefined;
});

/** Every click a PDF of its own invoice, naming its user and no other. */
async function expectEveryPdfItsUsers(r: BurstResult): Promise<void> {
  const statuses = r.clicks.map((c) => c.status);
  expect(
    statuses.filter((s) => s !== 200),
    `answers: ${JSON.stringify(statuses)}`,
  ).toEqual([]);
  for (const c of r.clicks) {
    expect(c.contentType).toBe('application/pdf');
    expect(isPdf(c.body)).toBe(true);
    const text = (await readPdf(c.body)).text.join(' ');
    expect(text).toContain(`Invoice #${c.invoice}`);
    expect(text).toContain(c.user.displayName);
    for (const other of BURST_USERS) if (other !== c.user) expect(text).not.toContain(other.displayName);
  }
}

/** Each Machine bounces a request at most once (its own mark in the replay's state), so nothing loops. */
function expectNoLoops(r: BurstResult, machines = 3): void {
  expect(Math.max(0, ...r.bouncesPerRequest)).toBeLessThanOrEqual(machines);
}

/** All Machines of the app reach `state` with nothing in flight. */
async function expectAllMachines(d: InvoiceDay, state: 'suspended', message: string): Promise<void> {
  await expect
    .poll(async () => (await d.machines()).map((m) => `${m.id}:${m.state}:${m.load}`), {
      timeout: SETTLE_MS,
      intervals: [500],
      message,
    })
    .toEqual((await d.machines()).map((m) => `${m.id}:${state}:0`));
}

function report(label: string, machines: number, r: BurstResult): string {
  const line =
    `${label}: ${machines} Machine(s), ${CLICKS} clicks from ${BURST_USERS.length} users in ${WINDOW_MS / 1000} s → ` +
    `${r.clicks.filter((c) => c.status === 200).length} PDFs, first click → last PDF ${Math.round(r.firstClickToLastPdfMs)} ms, ` +
    `started ${r.starts}, resumed ${r.resumes}, bounces ${r.bounces}, held by the proxy at the hard limit ${r.queued}`;
  test.info().annotations.push({ type: 'burst', description: line });
  console.log(`[invoice day] ${line}`);
  return line;
}

/**
 * Takes every slot and queue place (`full`) of these Machines with requests that do not go through this
 * proxy (another edge's traffic), held on a page that answers after a minute; stop() lets go.
 */
function fill(machineUrls: string[], full: number): { stop(): Promise<void> } {
  const gone = new AbortController();
  const held = machineUrls.flatMap((url) =>
    Array.from({ length: full }, () =>
      fetch(`${url.replace(/\/$/, '')}/t/slow.pdf?ms=60000`, { signal: gone.signal })
        .then((r) => r.arrayBuffer())
        .catch(() => undefined),
    ),
  );
  return {
    async stop() {
      gone.abort();
      await Promise.all(held);
    },
  };
}

/** Until each Machine says it has exactly `n` requests running or queued (its /healthz). */
async function untilLoad(machineUrls: string[], n: number): Promise<void> {
  const loadOf = async (url: string) => {
    const h = (await (await fetch(`${url.replace(/\/$/, '')}/healthz`)).json()) as { running: number; queued: number };
    return h.running + h.queued;
  };
  await expect
    .poll(() => Promise.all(machineUrls.map(loadOf)), { timeout: SETTLE_MS })
    .toEqual(machineUrls.map(() => n));
}

test('three stopped Machines: the burst starts the ones it needs, every click gets its own PDF, a full Machine bounces once, all suspend afterwards; suspended, the next burst resumes them', async () => {
  test.setTimeout(180_000);
  day = await startInvoiceDay({ root: ROOT, machines: 3, idleTimeout: IDLE_TIMEOUT });
  const d = day;
  // What one Machine takes in before it refuses: CONCURRENCY + QUEUE_SIZE, fly.toml's hard_limit.
  const full = d.limits.hard!;
  expect(full, 'fly.toml sets a hard_limit').toBeGreaterThan(0);
  const sessions = await d.signIn(BURST_USERS);
  expect((await d.machines()).map((m) => m.listening)).toEqual([false, false, false]);

  const cold = await d.burst(sessions, CLICKS, WINDOW_MS, 1000);
  report('stopped', 3, cold);
  // 60 clicks are far more than one Machine's soft limit: the proxy needed all three.
  expect(cold.starts).toBe(3);
  expect((await d.machines()).map((m) => m.starts)).toEqual([1, 1, 1]);

  // Still awake (within IDLE_TIMEOUT of their last render). Fly's view of a Machine's load is
  // not always the Machine's own: other edges send it traffic too. A Machine that is full when
  // the proxy thinks it is not bounces the request, once, to another Machine.
  const [one, two, three] = (await d.machines()).map((m) => m.url);
  let other = fill([one!], full);
  await untilLoad([one!], full);
  // One click after another: with nothing in flight the proxy spreads them over all three, so
  // one of three lands on the full Machine.
  const bounced: BurstResult[] = [];
  for (let i = 0; i < 3; i++) bounced.push(await d.burst(sessions.slice(i, i + 1), 1, 0, 3000 + i));
  expect(bounced.map((b) => b.bounces).reduce((a, b) => a + b)).toBeGreaterThanOrEqual(1);
  await other.stop();
  // All of them full: each Machine bounces the click at most once (its own mark, replay-src.ts),
  // and the first that sees its own mark come back answers 503 (with Retry-After) rather than
  // bounce it again: never a loop.
  await untilLoad([one!, two!, three!], 0);
  other = fill([one!, two!, three!], full);
  await untilLoad([one!, two!, three!], full);
  const refused = await d.burst(sessions.slice(0, 1), 1, 0, 4000);
  expect(refused.clicks[0]!.status).toBe(503);
  expect(refused.bounces).toBeGreaterThanOrEqual(1);
  expect(refused.bounces).toBeLessThanOrEqual(3);
  await other.stop();

  await expectEveryPdfItsUsers(cold);
  for (const r of bounced) await expectEveryPdfItsUsers(r);
  for (const r of [cold, ...bounced, refused]) expectNoLoops(r);
  await expectAllMachines(d, 'suspended', 'every Machine suspends itself once idle');

  const resumed = await d.burst(sessions, CLICKS, WINDOW_MS, 2000);
  report('suspended', 3, resumed);
  expect(resumed.starts).toBe(0);
  expect(resumed.resumes).toBe(3);
  await expectEveryPdfItsUsers(resumed);
  expectNoLoops(resumed);
  await expectAllMachines(d, 'suspended', 'every Machine suspends itself again');
});

test('the same burst against one stopped Machine: the proxy holds what is over its hard limit, every click still gets its PDF', async () => {
  test.setTimeout(180_000);
  day = await startInvoiceDay({ root: ROOT, machines: 1, idleTimeout: IDLE_TIMEOUT });
  const d = day;
  const sessions = await d.signIn(BURST_USERS);

  const r = await d.burst(sessions, CLICKS, WINDOW_MS, 1000);
  report('stopped', 1, r);
  expect(r.starts).toBe(1);
  // More clicks than one Machine's hard limit arrived at once: the rest waited in the proxy.
  expect(r.queued).toBeGreaterThan(0);
  await expectEveryPdfItsUsers(r);
  expectNoLoops(r);
  await expectAllMachines(d, 'suspended', 'the Machine suspends itself once idle');
});
