import type { IncomingMessage } from 'node:http';
import { IMAGE_FORMATS, outputOf } from './output.js';
import { APPLIANCE_HEADER, OUTPUT_HEADER } from './protocol.js';
import { originFormPath, pathOf } from './request-target.js';

// A path on this app, as a login form's `next` can safely carry it: one leading `/` (`//host`
// would be another site), visible ASCII, no `\` (which browsers read as `/`).
const LOCAL_PATH = /^\/(?![/])[\x21-\x5b\x5d-\x7e]*$/;

/**
 * Where to send the user back to after signing in: what they asked for. While the appliance
 * loads `/invoices/42` to print `/invoices/42.pdf` for a signed-out user, that is the PDF, which
 * the appliance names in `x-pdf-appliance-output` on its requests; for any other request, the
 * request's own path and query (Express's `originalUrl` when it has one). Always a path on this
 * app, never another site, so it can go into a login redirect's `next` as it is.
 */
export function returnPath(req: IncomingMessage & { originalUrl?: string }): string {
  const own = originFormPath(req.originalUrl ?? req.url ?? '/');
  const fallback = own !== null && LOCAL_PATH.test(own) ? own : '/';
  if (req.headers[APPLIANCE_HEADER] === undefined) return fallback;
  const output = req.headers[OUTPUT_HEADER];
  if (typeof output !== 'string' || !LOCAL_PATH.test(output)) return fallback;
  // Only an output the appliance could have been asked for, so the header cannot name a page.
  return outputOf(pathOf(output), IMAGE_FORMATS) ? output : fallback;
}
