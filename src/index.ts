// The package's programmatic entry: run the appliance inside another Node process (tests,
// custom launchers). Main apps want the `pdf-appliance-replay` package instead.
export { startAppliance, type Appliance, type StartOptions } from './appliance.js';
export { loadConfig, ConfigError, APPLIANCE_HEADER, type Config } from './config/config.js';
export { createLogger } from './observability/log.js';
