// Reading the path out of an HTTP request target without decoding or normalising it: both
// sides must look at the very bytes the client sent, or they can disagree about a path.

/** The path of a request target (`/a/b?c` → `/a/b`), as sent. */
export function pathOf(requestTarget: string): string {
  const end = requestTarget.search(/[?#]/);
  return end === -1 ? requestTarget : requestTarget.slice(0, end);
}

// `scheme://authority` then the rest. The authority stops at the first `/`, `?` or `#`.
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*(.*)$/i;

/**
 * The origin-form path of a path as sent: `/a/b` stays, the absolute form a client may send
 * (`http://other/a/b`) keeps only `/a/b` — the host of the page is never the client's to
 * choose. Anything else (`*`, `a/b`) names no path: null.
 */
export function originFormPath(path: string): string | null {
  if (path.startsWith('/')) return path;
  const m = ABSOLUTE_FORM.exec(path);
  return m ? m[1] || '/' : null;
}
