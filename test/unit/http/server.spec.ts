import { test, expect } from '@playwright/test';
import { createServer } from 'node:http';
import { listen } from '../../../fixtures/listen.js';
import { loadConfig } from '../../../src/config/config.js';
import { Limiter } from '../../../src/admission/limiter.js';
import { IdleClock } from '../../../src/admission/idle-clock.js';
import { createApp, type ServerDeps } from '../../../src/http/server.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import type { Logger } from '../../../src/observability/log.js';

// A render request answers its own failures (server.ts, handleRender). When that error path
// itself throws, the rejection must not be lost: it is logged, and the request is cut instead
// of hanging until the client gives up. The error path is made to throw by a logger whose
// `warn` (the "render failed" line of a 503) throws; draining makes every render a 503.
test('a render whose error path throws is logged and cut, not left hanging', async () => {
  const config = loadConfig({ TARGET_URL: 'http://127.0.0.1:9', CHROME_PATH: '/usr/bin/chromium' });
  const logged: string[] = [];
  const quiet = { info: () => undefined, debug: () => undefined };
  const requestLog = {
    ...quiet,
    warn: () => {
      throw new Error('broken error path');
    },
    error: () => undefined,
  };
  const log = {
    ...quiet,
    child: () => requestLog,
    error: (_fields: unknown, msg: string) => logged.push(msg),
  } as unknown as Logger;
  const idle = new IdleClock(0, () => undefined);
  const deps = {
    config,
    browser: {},
    limiter: new Limiter(config),
    idle,
    log,
    metrics: createMetrics(),
    guard: { check: () => Promise.reject(new Error('not reached')) },
    cache: null,
    fetchAsset: () => Promise.reject(new Error('not reached')),
    draining: () => true,
  } as unknown as ServerDeps;
  const server = createServer(createApp(deps));
  const { url } = await listen(server);
  try {
    // Generous: before the fix this request hung until the bound, with nothing logged.
    const outcome = await fetch(`${url}/invoices/42.pdf`, { signal: AbortSignal.timeout(15_000) }).then(
      (res) => `answered ${res.status}`,
      (err: Error) => err.name,
    );
    expect(outcome).not.toBe('TimeoutError');
    expect(outcome).toBe('TypeError'); // fetch's "fetch failed": the connection was cut
    expect(logged).toEqual(['unexpected error']);
  } finally {
    idle.stop();
    server.closeAllConnections();
    server.close();
  }
});
