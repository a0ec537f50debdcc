import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { test, expect } from '@playwright/test';
import { startDemo, type Demo } from '../../fixtures/demo.js';
import { startMainApp, type MainApp } from '../../fixtures/main-app/index.js';
import { listen } from '../../fixtures/listen.js';
import { isPdf } from '../support/pdf.js';
import { baseEnv, get, spawnAppliance, type Spawned } from '../support/stack.js';

// IDLE_ACTION=suspend: the appliance asks Fly's Machines API to suspend its own Machine when
// idle, and is correct again the moment it is resumed.

interface ApiCall {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

/**
 * A loopback stand-in for the Machines API that records every call and answers `status`; with
 * `hold`, it answers only when release() is called (the call stays out as long as the test needs).
 */
async function machinesApi(
  status: number,
  opts: { hold?: boolean } = {},
): Promise<{ url: string; calls: ApiCall[]; answered: () => number; release(): void; close(): Promise<void> }> {
  const calls: ApiCall[] = [];
  let answered = 0;
  let released = !opts.hold;
  const held: Array<() => void> = [];
  const server: Server = createServer((req, res) => {
    calls.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
    const answer = () => {
      res
        .writeHead(status, { 'content-type': 'application/json' })
        .end(status === 200 ? '{"ok":true}' : '{"error":"unauthorized"}', () => answered++);
    };
    if (released) answer();
    else held.push(answer);
  });
  const { url } = await listen(server);
  return {
    url,
    calls,
    answered: () => answered,
    release() {
      released = true;
      for (const answer of held.splice(0)) answer();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const TOKEN = 'FlyV1 test-token-never-logged';

function suspendEnv(main: MainApp, api: string): Record<string, string> {
  return {
    ...baseEnv(main.url),
    IDLE_TIMEOUT: '1s',
    IDLE_ACTION: 'suspend',
    MACHINES_API_URL: api,
    FLY_APP_NAME: 'shop-pdf',
    FLY_MACHINE_ID: 'e784079b449483',
    FLY_API_TOKEN: TOKEN,
  };
}

test.describe('suspend: the Machines API call', () => {
  test.describe.configure({ timeout: 60_000 });
  let main: MainApp;
  let app: Spawned | undefined;
  test.beforeAll(async () => {
    main = await startMainApp({});
  });
  test.afterAll(async () => {
    await main?.close();
  });
  test.afterEach(async () => {
    app?.proc.kill('SIGKILL');
    app = undefined;
  });

  test('idle → one POST to /v1/apps/<app>/machines/<id>/suspend with the bearer token; the waking request is served; no second suspend under it', async () => {
    const api = await machinesApi(200);
    try {
      app = await spawnAppliance(suspendEnv(main, api.url));
      await expect.poll(() => api.calls.length, { timeout: 20_000 }).toBe(1);
      expect(api.calls[0]).toMatchObject({ method: 'POST', path: '/v1/apps/shop-pdf/machines/e784079b449483/suspend' });
      expect(api.calls[0]!.headers['authorization']).toBe(`Bearer ${TOKEN}`);
      // This stand-in never freezes the process: the request is what "wakes" it.
      const r = await get(`${app.url}/t/invoice.pdf`);
      expect(r.status).toBe(200);
      expect(isPdf(r.body)).toBe(true);
      await app.waitForLog((l) => l.includes('"msg":"resumed after suspend"') && l.includes('"how":"request"'));
      expect(api.calls).toHaveLength(1);
      // The idle clock counts afresh after the waking request: the next suspend comes later.
      await expect.poll(() => api.calls.length, { timeout: 20_000 }).toBe(2);
      expect(app.lines.join('\n')).not.toContain('test-token-never-logged');
    } finally {
      await api.close();
    }
  });

  test('health checks while the call is out, or after it was accepted, are not a wake; the next real request is', async () => {
    const api = await machinesApi(200, { hold: true });
    try {
      app = await spawnAppliance(suspendEnv(main, api.url));
      await expect.poll(() => api.calls.length, { timeout: 20_000 }).toBe(1);
      // Fly's checks keep coming while the suspend call is out, and until the Machine is frozen.
      expect((await get(`${app.url}/healthz`)).status).toBe(200);
      api.release();
      await expect.poll(api.answered, { timeout: 10_000 }).toBe(1);
      expect((await get(`${app.url}/healthz`)).status).toBe(200);
      // A wake would also restart the idle clock (1 s) and so ask for a second suspend.
      await new Promise((r) => setTimeout(r, 2500));
      expect(app.lines.filter((l) => l.includes('"msg":"resumed after suspend"'))).toEqual([]);
      expect(api.calls).toHaveLength(1);
      expect((await get(`${app.url}/t/invoice.pdf`)).status).toBe(200);
      await app.waitForLog((l) => l.includes('"msg":"resumed after suspend"') && l.includes('"how":"request"'));
    } finally {
      api.release();
      await api.close();
    }
  });

  test('a refused call (401) exits 0 instead, and says why', async () => {
    const api = await machinesApi(401);
    try {
      app = await spawnAppliance(suspendEnv(main, api.url));
      expect(await app.exited).toBe(0);
      const line = app.lines.find((l) => l.includes('"msg":"suspend failed; exiting instead"'));
      expect(line).toContain('answered 401');
      expect(line).toContain('check FLY_API_TOKEN');
      expect(app.lines.join('\n')).not.toContain('test-token-never-logged');
    } finally {
      await api.close();
    }
  });

  test('an unreachable Machines API exits 0 too', async () => {
    app = await spawnAppliance(suspendEnv(main, 'http://127.0.0.1:9'));
    expect(await app.exited).toBe(0);
    expect(app.lines.some((l) => l.includes('could not be reached'))).toBe(true);
  });

  for (const missing of ['FLY_API_TOKEN', 'FLY_MACHINE_ID', 'FLY_APP_NAME']) {
    test(`without ${missing}, the start fails with one line naming it`, async () => {
      const env = suspendEnv(main, 'http://127.0.0.1:9');
      delete env[missing];
      app = await spawnAppliance(env, { waitListening: false });
      expect(await app.exited).toBe(2);
      expect(app.lines).toHaveLength(1);
      expect(app.lines[0]).toMatch(new RegExp(`^pdf-appliance: IDLE_ACTION=suspend needs ${missing}`));
    });
  }
});

test.describe('suspend: through the Fly-proxy emulator, frozen and continued for real', () => {
  test.describe.configure({ timeout: 120_000 });
  let demo: Demo | undefined;
  test.afterEach(async () => {
    await demo?.close();
    demo = undefined;
  });

  test('click, the Machine suspends when idle (its processes stopped), the next click resumes it warm', async () => {
    demo = await startDemo({
      proxyPort: 0,
      mainPort: 0,
      appliancePort: 0,
      idleTimeout: '2s',
      idleAction: 'suspend',
      applianceEnv: { LOG_LEVEL: 'info' },
    });
    const d = demo;
    const machine = async () => (await d.status()).machines.find((m) => m.app === 'pdf')!;
    const first = await get(`${d.url}/t/invoice.pdf`);
    expect(first.status).toBe(200);
    await expect.poll(async () => (await machine()).state, { timeout: 30_000 }).toBe('suspended');
    expect((await machine()).suspends).toBe(1);
    const t0 = Date.now();
    const second = await get(`${d.url}/t/invoice.pdf`);
    const resumeMs = Date.now() - t0;
    expect(second.status).toBe(200);
    expect(isPdf(second.body)).toBe(true);
    const m = await machine();
    expect(m.resumes).toBe(1);
    expect(m.starts).toBe(1); // resumed, not started again
    expect(m.suspends).toBe(1); // and not suspended again under the waking request
    // Resumed warm: far below a cold start (the first request above paid one).
    expect(resumeMs).toBeLessThan(5000);
    // Idle again, it suspends again.
    await expect.poll(async () => (await machine()).suspends, { timeout: 30_000 }).toBe(2);
  });
});
