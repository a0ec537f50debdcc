// What the appliance and a main app must agree on: two header names and which paths are PDFs.
// Kept apart so the main-app middleware (`pdf-appliance/express`) can import it without the
// appliance's config, and so the two sides can never disagree.

/** Sent on every request the appliance makes to the main app; refused on arrival (loop guard). */
export const APPLIANCE_HEADER = 'x-pdf-appliance';

/** Default header carrying REPLAY_SECRET, added by Fly's proxy from the JSON replay's transform. */
export const DEFAULT_SECRET_HEADER = 'x-pdf-appliance-secret';

/**
 * True for a request path the appliance prints: its last segment ends in `.pdf`, as sent,
 * percent-encoding untouched (`/a%2Epdf` is not a PDF, on either side; deciding on a decoded
 * path on one side only sent such paths back and forth between the two, waking the appliance
 * each time). `pathname` excludes the query.
 */
export function isPdfPath(pathname: string): boolean {
  return pathname.endsWith('.pdf') && !pathname.endsWith('/.pdf');
}

/** The path of a request target (`/a/b?c` → `/a/b`), as sent. */
export function pathOf(requestTarget: string): string {
  const end = requestTarget.search(/[?#]/);
  return end === -1 ? requestTarget : requestTarget.slice(0, end);
}
