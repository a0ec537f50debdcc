import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig } from './config/config.js';
import { createLogger } from './observability/log.js';

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

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

const log = createLogger(config.logLevel);

// Cold start: Chromium's launch runs in its own process, so start it first and load the rest
// of the appliance (express, the render path) while it boots.
const { launchBrowser } = await import('./browser/supervisor.js');
const { createMetrics } = await import('./observability/metrics.js');
const { egressGuard } = await import('./security/egress-guard.js');
const metrics = createMetrics();
const guard = egressGuard(config);
const browser = launchBrowser({ config, log, metrics, guard: guard.guard });
const { startAppliance } = await import('./appliance.js');

const appliance = await startAppliance({ config, log, browser, guard, metrics, onIdleExit: () => process.exit(0) }).catch((err: unknown) => {
  log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'could not start');
  process.exit(1);
});

// Fly sends SIGINT by default (kill_signal), docker and most supervisors SIGTERM: both drain.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    appliance.shutdown(signal).then(() => process.exit(0), () => process.exit(1));
  });
}

process.on('unhandledRejection', (err) => {
  log.error({ err: err instanceof Error ? err.message : String(err) }, 'unhandled rejection');
});
