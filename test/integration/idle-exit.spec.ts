import { test, expect } from '@playwright/test';
import { startAppliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/log.js';
import { startMainApp } from '../../fixtures/main-app/index.js';
import { baseEnv, logSink } from '../support/stack.js';

// startAppliance is public (index.ts) and calls the caller's onIdleExit after an idle shutdown.
// If that throws, the failure is logged where it happened; before, it was an unhandled
// rejection (fatal to a process without a handler, a test failure here).
test('an onIdleExit that throws is logged, not lost as an unhandled rejection', async () => {
  const main = await startMainApp();
  const logs: string[] = [];
  const config = loadConfig({ ...baseEnv(main.url), IDLE_TIMEOUT: '1s' });
  let called = false;
  const app = await startAppliance({
    config,
    log: createLogger(config.logLevel, logSink(logs)),
    onIdleExit: () => {
      called = true;
      throw new Error('caller failed');
    },
  });
  try {
    // The idle shutdown closes Chromium first; generous for a loaded machine.
    await expect.poll(() => logs.some((l) => l.includes('"msg":"idle exit failed"')), { timeout: 30_000 }).toBe(true);
    expect(called).toBe(true);
    expect(logs.find((l) => l.includes('"msg":"idle exit failed"'))).toContain('caller failed');
  } finally {
    await app.shutdown('test');
    await main.close();
  }
});
