import { defineConfig } from '@playwright/test';

// One runner for every layer. Unit tests are pure logic; integration tests start real
// Chromium and the fixture main app on loopback; e2e drives a real browser through the
// local Fly-proxy emulator, whose own tests are the emulator project. Docker tests have their
// own config (playwright.docker.config.ts).
export default defineConfig({
  testDir: 'test',
  testIgnore: ['docker/**', 'bench/**'],
  timeout: 60_000,
  fullyParallel: false,
  // Two cores: each integration worker owns a Chromium; more workers only thrash.
  workers: 2,
  // No retries: a test that passes on a second try has a bug, in itself or in the appliance.
  retries: 0,
  reporter: process.env.CI ? [['list'], ['./test/support/summary-reporter.ts']] : [['list']],
  use: {
    launchOptions: { executablePath: process.env.CHROME_PATH ?? '/usr/bin/chromium' },
  },
  projects: [
    { name: 'unit', testDir: 'test/unit' },
    { name: 'integration', testDir: 'test/integration' },
    { name: 'e2e', testDir: 'test/e2e' },
    // The Fly-proxy emulator (fixtures/fly-proxy), a test tool of its own: not the appliance.
    { name: 'emulator', testDir: 'test/emulator' },
    // The main-app package (pdf-appliance-replay) keeps its tests next to its sources.
    { name: 'replay', testDir: 'packages/replay/test' },
  ],
});
