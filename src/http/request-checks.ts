// Checks on the raw request that come before any routing. Node's parser already refuses
// malformed request lines (CR, LF or NUL in the target: 400) and header blocks over
// maxHeaderSize (431); what it lets through is bounded here.

/**
 * Longest request target (path and query) accepted. No page URL of the main app needs more,
 * and everything past the parser is proportional to it: the target URL, the filename, logs.
 * (RFC 9110 recommends supporting at least 8000 octets.)
 */
export const MAX_REQUEST_TARGET = 8 * 1024;

export function requestTargetTooLong(target: string): boolean {
  return target.length > MAX_REQUEST_TARGET;
}
