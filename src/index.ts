// The package's programmatic entry: run the appliance inside another Node process (tests,
// custom launchers). Main apps want the `pdf-appliance-replay` package instead.
export { startAppliance, type Appliance, type StartOptions } from './appliance.js';
export { loadConfig, ConfigError, type Config } from './config/config.js';
export { APPLIANCE_HEADER } from 'pdf-appliance-replay';
export { createLogger } from './observability/log.js';
