// Download names for the PDF or image, and the Content-Disposition header that carries them.
import type { OutputFormat } from 'pdf-appliance-replay';

// A name the page gives (pdf-filename) may carry an extension already; it is replaced by the
// output's own.
const OUR_EXT = /\.(pdf|png|jpe?g|webp)$/i;
const EXTENSION: Record<OutputFormat, string> = { pdf: 'pdf', png: 'png', jpeg: 'jpg', webp: 'webp' };
// Path separators and characters reserved on Windows: a name from a page title must not
// steer where the browser saves the file.
const UNSAFE = /[/\\:*?"<>|]+/g;
// C0/C1 controls, and bidi controls (U+200E/F, U+202A–E, U+2066–9) that could make
// "invoice<RLO>fdp.exe" display as "invoiceexe.pdf".
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
// Bounded well under the common 255-byte file-name limit even when every character is multi-byte.
const MAX_NAME_CHARS = 120;
const FALLBACK_BASE = 'document';

function truncateChars(s: string, max: number): string {
  const chars = Array.from(s); // by code point, so a surrogate pair is never cut in half
  return chars.length <= max ? s : chars.slice(0, max).join('');
}

/** A file-name base (no extension) safe to save as, or '' when nothing usable is left. */
function cleanBase(raw: string): string {
  let s = raw.normalize('NFC').replace(/\s+/g, ' ').replace(CONTROL, '').replace(UNSAFE, '_').trim();
  s = s.replace(OUR_EXT, '');
  // Leading dots hide the file; trailing dots and spaces are dropped by Windows.
  s = s.replace(/^[.\s]+/, '').replace(/[.\s]+$/, '');
  s = truncateChars(s, MAX_NAME_CHARS - 4).replace(/[.\s]+$/, '');
  return /[^_\s.-]/.test(s) ? s : '';
}

function lastSegment(pathname: string): string {
  const segments = pathname.split('/').filter((s) => s !== '');
  const last = segments.at(-1);
  if (last === undefined) return 'index';
  try {
    return decodeURIComponent(last);
  } catch {
    return last; // malformed %-escape: use it as written
  }
}

/**
 * pdf-filename meta, else <title>, else the last path segment (index for '/'), with the
 * output's extension (`.pdf` by default) appended once.
 */
export function chooseFilename(opts: {
  meta?: string;
  title?: string;
  pathname: string;
  format?: OutputFormat;
}): string {
  const ext = EXTENSION[opts.format ?? 'pdf'];
  for (const candidate of [opts.meta, opts.title, lastSegment(opts.pathname)]) {
    if (candidate === undefined) continue;
    const base = cleanBase(candidate);
    if (base) return `${base}.${ext}`;
  }
  return `${FALLBACK_BASE}.${ext}`;
}

// RFC 5987 attr-char: everything else is percent-encoded from UTF-8.
function encodeExtValue(s: string): string {
  return encodeURIComponent(s).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function asciiFallback(name: string, ext: string): string {
  const base = name
    .replace(OUR_EXT, '')
    // Decompose so accented letters keep their base letter (č → c) instead of becoming '_'.
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9._ -]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/\s+/g, ' ')
    .replace(/^[.\s]+/, '')
    .slice(0, MAX_NAME_CHARS - 4)
    .replace(/[.\s]+$/, '');
  return /[A-Za-z0-9]/.test(base) ? `${base}.${ext}` : `${FALLBACK_BASE}.${ext}`;
}

/**
 * RFC 6266 / 5987: `inline; filename="ascii-fallback.pdf"; filename*=UTF-8''percent-encoded`.
 * The ascii fallback contains only [A-Za-z0-9._ -], so it needs no escaping and cannot break out
 * of the quoted string or the header; filename* is added only when it says something the
 * fallback cannot.
 */
export function contentDisposition(filename: string, kind: 'inline' | 'attachment'): string {
  const ext = OUR_EXT.exec(filename)?.[1]?.toLowerCase() ?? 'pdf';
  const full = `${cleanBase(filename) || FALLBACK_BASE}.${ext}`;
  const fallback = asciiFallback(full, ext);
  const header = `${kind}; filename="${fallback}"`;
  return fallback === full ? header : `${header}; filename*=UTF-8''${encodeExtValue(full)}`;
}
