import { originFormPath } from './request-target.js';

/** What the appliance can render a page to. */
export type OutputFormat = 'pdf' | 'png' | 'jpeg' | 'webp';
/** The image outputs, each of which a side has to opt into. */
export type ImageFormat = Exclude<OutputFormat, 'pdf'>;

export const IMAGE_FORMATS: readonly ImageFormat[] = ['png', 'jpeg', 'webp'];

export interface Output {
  format: OutputFormat;
  /** The page to render, still percent-encoded: `/a/b.pdf` → `/a/b`, `/a/index.pdf` → `/a/`. */
  pagePath: string;
}

// Lower case only, like `.pdf` always was: `/a/b.PDF` stays the main app's.
const SUFFIXES: ReadonlyArray<readonly [suffix: string, format: OutputFormat]> = [
  ['.pdf', 'pdf'],
  ['.png', 'png'],
  ['.jpeg', 'jpeg'],
  ['.jpg', 'jpeg'],
  ['.webp', 'webp'],
];

/**
 * The one rule both sides use to decide whether a request is the appliance's, and for which
 * page. `pathname` is the request target's path as sent (see `pathOf`): origin form
 * (`/a/b.pdf`) or absolute form (`http://host/a/b.pdf`, whose host is ignored), query
 * excluded, percent-encoding untouched — so `/a%2Epdf` is no output on either side.
 *
 * `.pdf` is always an output. `.png`, `.jpeg`/`.jpg` and `.webp` are outputs only when their
 * format is in `formats` (default: none), so a main app that serves its own images is not
 * captured by surprise. `/.pdf` and `/a/.pdf` name no page: null.
 */
export function outputOf(pathname: string, formats: readonly ImageFormat[] = []): Output | null {
  const path = originFormPath(pathname);
  if (path === null) return null;
  for (const [suffix, format] of SUFFIXES) {
    if (!path.endsWith(suffix)) continue;
    if (format !== 'pdf' && !formats.includes(format)) return null;
    let page = path.slice(0, -suffix.length);
    if (page.endsWith('/index')) page = page.slice(0, -'index'.length);
    else if (page.endsWith('/')) return null; // `/.pdf`, `/a/.pdf`: no page named
    return { format, pagePath: page };
  }
  return null;
}

/**
 * True for a request path the appliance prints: its last segment ends in `.pdf` and names a
 * page (`/.pdf` does not), as sent, percent-encoding untouched (`/a%2Epdf` is not a PDF, on
 * either side; deciding on a decoded path on one side only sent such paths back and forth
 * between the two, waking the appliance each time). `pathname` excludes the query. Same rule
 * as `outputOf` with no image formats.
 */
export function isPdfPath(pathname: string): boolean {
  return outputOf(pathname)?.format === 'pdf';
}
