import { test, expect } from '@playwright/test';
import { Writable } from 'node:stream';
import { startAppliance, type Appliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/log.js';
import { startFlyProxy, type FlyProxy } from '../../fixtures/fly-proxy/index.js';
import { startMainApp, type MainApp } from '../../fixtures/main-app/index.js';
import { isPdf } from '../support/pdf.js';
import { baseEnv, freePort, get, startStack, type InProcess } from '../support/stack.js';

// The optional shared secret: with REPLAY_SECRET set, only requests that carry it
// (added by Fly's proxy from the main app's JSON replay, transform.set_headers) are served,
// so the appliance cannot be used directly from the internet.

const SECRET = 'replay-secret-3b9f0c51d2e84a67';
const HEADER = 'x-pdf-appliance-secret';

test.describe('REPLAY_SECRET, directly at the appliance', () => {
  let s: InProcess;
  test.beforeAll(async () => {
    s = await startStack({ REPLAY_SECRET: SECRET });
  });
  test.afterAll(async () => {
    await s?.close();
  });

  test('without the header: 403 with a fixed body, for PDFs and every other path', async () => {
    for (const path of ['/t/invoice.pdf', '/invoices', '/']) {
      const r = await get(`${s.url}${path}`);
      expect(r.status, path).toBe(403);
      expect(r.body.toString()).toBe('Forbidden\n');
    }
  });

  test('a wrong secret is refused, whatever its length', async () => {
    for (const wrong of ['', 'x', SECRET.slice(0, -1), `${SECRET}x`, SECRET.toUpperCase(), SECRET.replace(/.$/, '0')]) {
      const r = await get(`${s.url}/t/invoice.pdf`, { headers: { [HEADER]: wrong } });
      expect(r.status, JSON.stringify(wrong)).toBe(403);
    }
  });

  test('the right secret is served; HEAD too', async () => {
    const r = await get(`${s.url}/t/invoice.pdf`, { headers: { [HEADER]: SECRET } });
    expect(r.status).toBe(200);
    expect(isPdf(r.body)).toBe(true);
    const head = await get(`${s.url}/t/invoice.pdf`, { method: 'HEAD', headers: { [HEADER]: SECRET } });
    expect(head.status).toBe(200);
    expect((await get(`${s.url}/t/invoice.pdf`, { method: 'HEAD' })).status).toBe(403);
  });

  test("the health check needs no secret (Fly's checks cannot send one)", async () => {
    expect((await get(`${s.url}/healthz`)).status).toBe(200);
  });

  test('the secret never reaches the main app or the log', async () => {
    s.main.requests.length = 0;
    await get(`${s.url}/t/echo.pdf`, { headers: { [HEADER]: SECRET } });
    expect(s.main.requests.length).toBeGreaterThan(0);
    for (const q of s.main.requests) expect(q.headers[HEADER], q.path).toBeUndefined();
    expect(s.logs.join('\n')).not.toContain(SECRET);
  });
});

test('REPLAY_SECRET_HEADER renames the header', async () => {
  const s = await startStack({ REPLAY_SECRET: SECRET, REPLAY_SECRET_HEADER: 'X-Internal-Token' });
  try {
    expect((await get(`${s.url}/t/invoice.pdf`, { headers: { 'x-internal-token': SECRET } })).status).toBe(200);
    expect((await get(`${s.url}/t/invoice.pdf`, { headers: { [HEADER]: SECRET } })).status).toBe(403);
  } finally {
    await s.close();
  }
});

test.describe('REPLAY_SECRET through the Fly-proxy emulator and the pdfReplay middleware', () => {
  let main: MainApp;
  let app: Appliance;
  let proxy: FlyProxy;
  const logs: string[] = [];

  test.beforeAll(async () => {
    main = await startMainApp({ replaySecret: SECRET, applianceApp: 'pdf' });
    const port = await freePort();
    const config = loadConfig({ ...baseEnv(main.url), PORT: String(port), REPLAY_SECRET: SECRET });
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logs.push(String(chunk));
        cb();
      },
    });
    app = await startAppliance({ config, log: createLogger(config.logLevel, sink) });
    proxy = await startFlyProxy({
      entryApp: 'web',
      apps: [
        { name: 'web', machines: [{ id: 'main-1', url: main.url }] },
        { name: 'pdf', machines: [{ id: 'pdf-1', url: `http://127.0.0.1:${port}` }] },
      ],
    });
  });
  test.afterAll(async () => {
    await proxy?.close();
    await app?.shutdown('test');
    await main?.close();
  });

  test('GET: the JSON replay adds the secret, the appliance serves the PDF', async () => {
    const r = await get(`${proxy.url}/t/invoice.pdf`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/pdf');
    expect(isPdf(r.body)).toBe(true);
  });

  test('the same appliance, asked directly, refuses', async () => {
    expect((await get(`${app.url}/t/invoice.pdf`)).status).toBe(403);
  });

  test('HEAD: a replay answer to HEAD has no body, so no JSON form and no secret → 403 (documented)', async () => {
    const r = await get(`${proxy.url}/t/invoice.pdf`, { method: 'HEAD' });
    expect(r.status).toBe(403);
  });

  test('the secret is in no log line', () => {
    expect(logs.join('')).not.toContain(SECRET);
  });
});

test.describe('REPLAY_SECRET unset on Fly', () => {
  const warning = (logs: string[]) => logs.filter((l) => l.includes('REPLAY_SECRET is not set'));

  test('one warning line at start when FLY_APP_NAME is set and REPLAY_SECRET is not; none with the secret, none off Fly', async () => {
    const onFly = await startStack({ FLY_APP_NAME: 'my-app-pdf' });
    const withSecret = await startStack({ FLY_APP_NAME: 'my-app-pdf', REPLAY_SECRET: SECRET });
    const offFly = await startStack();
    try {
      const lines = warning(onFly.logs);
      expect(lines).toHaveLength(1);
      const line = JSON.parse(lines[0]!) as { level: string; msg: string };
      expect(line.level).toBe('warn');
      expect(line.msg).toMatch(/REPLAY_SECRET is not set/);
      expect(warning(withSecret.logs)).toEqual([]);
      expect(withSecret.logs.join('\n')).not.toContain(SECRET);
      expect(warning(offFly.logs)).toEqual([]);
    } finally {
      await onFly.close();
      await withSecret.close();
      await offFly.close();
    }
  });
});
