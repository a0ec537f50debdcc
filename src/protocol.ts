// What the appliance and a main app must agree on — two header names and which paths are the
// appliance's — now lives in the `pdf-appliance-replay` package, which main apps install on
// their own, so that both sides run the very same code. This module only keeps the old import
// path working for appliance modules that still use it (config); new code imports the package.
export { APPLIANCE_HEADER, DEFAULT_SECRET_HEADER, isPdfPath, pathOf } from 'pdf-appliance-replay';
