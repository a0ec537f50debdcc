import { defineConfig } from '@playwright/test';

// `npm run test:docker`: builds the images and drives the compose stack (compose.yaml) through
// the Fly-proxy emulator. One worker: there is one stack, and its tests run in order.
export default defineConfig({
  testDir: 'test/docker',
  testMatch: '**/*.spec.ts',
  // Per test; the build in beforeAll raises its own limit (a cold build downloads Chromium).
  timeout: 10 * 60_000,
  globalTimeout: 75 * 60_000,
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: process.env.CI ? [['list'], ['./test/support/summary-reporter.ts']] : [['list']],
  outputDir: 'test-results/docker',
});
