#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig } from './config/config.js';

const version = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

let config;
try {
  config = loadConfig(process.env, version);
} catch (err) {
  // One line naming the variable, no stack: this is an operator's typo, not a crash.
  if (err instanceof ConfigError) {
    process.stderr.write(`pdf-appliance: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

// Cold start: Chromium runs in its own process, so it is spawned first, with nothing loaded but
// the config and the guard; the logger, the metrics and the HTTP side load while it boots.
const { applianceGuard } = await import('./security/appliance-guard.js');
const { launchBrowser, startEarly } = await import('./browser/supervisor.js');
const guard = applianceGuard(config);
const early = startEarly(config, guard.guard);
const { createLogger } = await import('./observability/log.js');
const { createMetrics } = await import('./observability/metrics.js');
const log = createLogger(config.logLevel);
const metrics = createMetrics();
const browser = launchBrowser({ config, log, metrics, guard: guard.guard, early });
const { startAppliance } = await import('./appliance.js');

const appliance = await startAppliance({
  config,
  log,
  browser,
  guard,
  metrics,
  onIdleExit: () => process.exit(0),
}).catch((err: unknown) => {
  log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'could not start');
  process.exit(1);
});

// Fly sends SIGINT by default (kill_signal), docker and most supervisors SIGTERM: both drain.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    appliance.shutdown(signal).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

process.on('unhandledRejection', (err) => {
  log.error({ err: err instanceof Error ? err.message : String(err) }, 'unhandled rejection');
});
