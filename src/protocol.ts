// The two header names the appliance and a main app must agree on. Kept apart so the main-app
// middleware (`pdf-appliance/express`) can import them without the appliance's config.

/** Sent on every request the appliance makes to the main app; refused on arrival (loop guard). */
export const APPLIANCE_HEADER = 'x-pdf-appliance';

/** Default header carrying REPLAY_SECRET, added by Fly's proxy from the JSON replay's transform. */
export const DEFAULT_SECRET_HEADER = 'x-pdf-appliance-secret';
