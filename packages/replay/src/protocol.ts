// The header names the appliance and a main app must agree on. Kept apart from the path
// rule and the middleware so either side can import them without the rest.

/** Sent on every request the appliance makes to the main app; refused on arrival (loop guard). */
export const APPLIANCE_HEADER = 'x-pdf-appliance';

/** Default header carrying REPLAY_SECRET, added by Fly's proxy from the JSON replay's transform. */
export const DEFAULT_SECRET_HEADER = 'x-pdf-appliance-secret';

/**
 * Sent with `APPLIANCE_HEADER` on the appliance's requests: the output the user asked for, path
 * and query as sent (`/invoices/42.pdf?download`), so a login redirect can lead back to it.
 */
export const OUTPUT_HEADER = 'x-pdf-appliance-output';
