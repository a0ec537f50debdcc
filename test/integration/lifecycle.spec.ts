import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect } from '@playwright/test';
import { startMainApp, type MainApp } from '../../fixtures/main-app/index.js';
import { isPdf } from '../support/pdf.js';
import { baseEnv, freePort, get, spawnAppliance, stillAlive, type Spawned } from '../support/stack.js';

/**
 * The appliance as a real process (dist/src/main.js; `npm run build` first): signals, exit
 * codes, idle exit and what is left of Chromium afterwards can only be seen from outside.
 */

const CHROME = process.env.CHROME_PATH ?? '/usr/bin/chromium';

/** Epoch ms of the first log line matching `msg` (the appliance's own clock, ISO `time`). */
function logTime(a: Spawned, msg: string): number | null {
  const line = a.lines.find((l) => l.includes(`"msg":"${msg}"`));
  return line ? Date.parse((JSON.parse(line) as { time: string }).time) : null;
}

async function exitedWithin(a: Spawned, ms: number): Promise<{ code: number | null; at: number } | 'still running'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'still running'>((r) => {
    timer = setTimeout(() => r('still running'), ms);
  });
  const result = await Promise.race([a.exited.then((code) => ({ code, at: Date.now() })), timeout]);
  clearTimeout(timer);
  return result;
}

test.describe('lifecycle of the appliance process', () => {
  test.describe.configure({ timeout: 90_000 });
  let main: MainApp;
  let a: Spawned | undefined;
  test.beforeEach(async () => {
    main = await startMainApp({});
  });
  test.afterEach(async () => {
    if (a && a.proc.exitCode === null && a.proc.signalCode === null) {
      a.proc.kill('SIGKILL');
      await a.exited;
    }
    a = undefined;
    await main.close();
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal} during a render: that PDF is delivered, exit 0, no Chromium left`, async () => {
      a = await spawnAppliance({ ...baseEnv(main.url), RENDER_TIMEOUT: '20s', SHUTDOWN_GRACE: '25s' });
      await a.waitForLog((l) => l.includes('"msg":"browser ready"'), 30_000);
      const pending = get(`${a.url}/t/slow.pdf?ms=2000`);
      await expect.poll(() => main.requests.some((r) => r.path.startsWith('/t/slow?')), { timeout: 20_000 }).toBe(true);
      const tree = a.descendants();
      expect(tree.length).toBeGreaterThan(1);

      a.proc.kill(signal);
      await a.waitForLog((l) => l.includes('"msg":"shutting down"'));
      const r = await pending;
      expect(r.status).toBe(200);
      expect(isPdf(r.body)).toBe(true);
      expect(await a.exited).toBe(0);
      // Every Chromium process is gone and reaped (a zombie would still answer kill 0).
      await expect.poll(() => stillAlive(tree), { timeout: 10_000 }).toEqual([]);
      expect(a.lines.some((l) => l.includes('shutdown grace expired'))).toBe(false);
    });
  }

  test('idle: no exit during a render longer than IDLE_TIMEOUT; exit 0 once idle after it', async () => {
    a = await spawnAppliance({ ...baseEnv(main.url), IDLE_TIMEOUT: '2s', RENDER_TIMEOUT: '15s' });
    const r = await get(`${a.url}/t/slow.pdf?ms=4000`);
    const answeredAt = Date.now();
    expect(r.status).toBe(200);
    expect(isPdf(r.body)).toBe(true);
    expect(a.proc.exitCode).toBeNull();
    expect(logTime(a, 'idle: shutting down')).toBeNull();

    const exit = await exitedWithin(a, 30_000);
    expect(exit).not.toBe('still running');
    if (exit === 'still running') return;
    expect(exit.code).toBe(0);
    const idleAt = logTime(a, 'idle: shutting down')!;
    // Counted from the end of the render, not from start-up.
    expect(idleAt - answeredAt).toBeGreaterThanOrEqual(1500);
  });

  test('idle: health checks and metrics scrapes every 200 ms do not keep it alive', async () => {
    const metricsPort = await freePort();
    a = await spawnAppliance({ ...baseEnv(main.url), IDLE_TIMEOUT: '2s', METRICS_PORT: String(metricsPort) });
    const listeningAt = logTime(a, 'listening')!;
    let polls = 0;
    const poller = setInterval(() => {
      polls++;
      get(`${a!.url}/healthz`).catch(() => undefined);
      get(`http://127.0.0.1:${metricsPort}/metrics`).catch(() => undefined);
    }, 200);
    try {
      const exit = await exitedWithin(a, 30_000);
      expect(exit).not.toBe('still running');
      if (exit === 'still running') return;
      expect(exit.code).toBe(0);
    } finally {
      clearInterval(poller);
    }
    expect(polls).toBeGreaterThanOrEqual(5);
    const idleAt = logTime(a, 'idle: shutting down')!;
    expect(idleAt - listeningAt).toBeGreaterThanOrEqual(1900);
    // On time: the 2 s countdown was not restarted by any poll (generous for a busy machine).
    expect(idleAt - listeningAt).toBeLessThan(6000);
  });

  test('idle: a non-PDF request (302 to the main app) counts as activity and postpones the exit', async () => {
    a = await spawnAppliance({ ...baseEnv(main.url), IDLE_TIMEOUT: '2s' });
    const listeningAt = logTime(a, 'listening')!;
    await new Promise((r) => setTimeout(r, Math.max(0, listeningAt + 1200 - Date.now())));
    const touchedAt = Date.now();
    const r = await get(`${a.url}/invoices`);
    expect(r.status).toBe(302);
    const exit = await exitedWithin(a, 30_000);
    expect(exit).not.toBe('still running');
    if (exit === 'still running') return;
    expect(exit.code).toBe(0);
    const idleAt = logTime(a, 'idle: shutting down')!;
    expect(idleAt - touchedAt).toBeGreaterThanOrEqual(1950);
    expect(idleAt - listeningAt).toBeGreaterThanOrEqual(3100);
  });

  test('a request that arrives before Chromium is ready waits for it', async () => {
    // A Chromium that takes 2 s to start makes "before ready" certain, not a race.
    const dir = mkdtempSync(join(tmpdir(), 'slow-chrome-'));
    const wrapper = join(dir, 'chromium');
    writeFileSync(wrapper, `#!/bin/sh\nsleep 2\nexec ${CHROME} "$@"\n`);
    chmodSync(wrapper, 0o755);
    try {
      a = await spawnAppliance({ ...baseEnv(main.url), CHROME_PATH: wrapper, RENDER_TIMEOUT: '20s' });
      const pending = get(`${a.url}/t/invoice.pdf`);
      await new Promise((r) => setTimeout(r, 300));
      expect(a.lines.some((l) => l.includes('"msg":"browser ready"'))).toBe(false);
      const r = await pending;
      expect(r.status).toBe(200);
      expect(isPdf(r.body)).toBe(true);
      const readyAt = logTime(a, 'browser ready')!;
      // Logged just after the response is sent: wait for it rather than race it.
      const line = await a.waitForLog((l) => l.includes('"msg":"render request"'));
      const req = JSON.parse(line) as { status: number; ms: number; time: string };
      expect(req.status).toBe(200);
      // It finished after the browser came up, having waited for it.
      expect(Date.parse(req.time)).toBeGreaterThanOrEqual(readyAt);
      expect(req.ms).toBeGreaterThanOrEqual(1500);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a configuration error exits 2 with exactly one line naming the variable', async () => {
    a = await spawnAppliance({ ...baseEnv(main.url), CONCURRENCY: 'abc' }, { waitListening: false });
    expect(await a.exited).toBe(2);
    const lines = a.lines.filter((l) => l.trim() !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('CONCURRENCY');
    expect(lines[0]).not.toMatch(/\bat .*\.js:\d+/); // no stack trace
  });
});
