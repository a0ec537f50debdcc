import type { Config } from '../config/config.js';
import { originFormPath, outputOf, pathOf, type ImageFormat, type OutputFormat } from 'pdf-appliance-replay';

/** A request target that names an output: the main app's page path, the query, the format. */
export interface MappedTarget {
  path: string;
  query: string;
  format: OutputFormat;
  /** The output as the user asked for it, origin-form path and query: `/docs/index.pdf?x=1`. */
  output: string;
}

/**
 * Maps the request target of a `.pdf` request (or of an image output listed in `formats`) to
 * the main app's page: `/a/b.pdf` → `/a/b`, `/a/index.pdf` → `/a/`, query kept,
 * percent-encoding untouched. An absolute-form target (`GET http://other/x.pdf`) keeps only
 * its path: the host of the page is never the client's to choose. Returns null when the path
 * names no output. The rule is `outputOf` from pdf-appliance-replay, the one the main app's
 * middleware replays by, so what it sends here is always something this maps.
 */
export function pagePathFor(requestTarget: string, formats: readonly ImageFormat[] = []): MappedTarget | null {
  const path = pathOf(requestTarget);
  const output = outputOf(path, formats);
  if (!output) return null;
  // pathOf stops at the first `?` or `#`, and an absolute form's authority holds neither, so
  // what follows the path is the query (if any) and the fragment.
  const query = requestTarget.slice(path.length).split('#')[0]!;
  return { path: output.pagePath, query, format: output.format, output: `${originFormPath(path) ?? path}${query}` };
}

/** The origin to load from: TARGET_URL's, or one of TARGET_HOSTS when the request names it. */
export function originFor(
  config: Pick<Config, 'targetOrigin' | 'targetHosts'>,
  hostHeader: string | undefined,
): string {
  const host = hostHeader?.toLowerCase();
  if (host && config.targetHosts.includes(host)) {
    return `${new URL(config.targetOrigin).protocol}//${host}`;
  }
  return config.targetOrigin;
}

/**
 * Joins origin and path by concatenation, never by URL resolution: resolving `//evil/x`
 * against the origin would change the host. Whatever the path holds (`//host`, `\`, `@`,
 * `..%2f`), the result is then checked to still be on the origin.
 */
export function buildTargetUrl(origin: string, path: string, query: string): string | null {
  const safePath = path.startsWith('/') ? path : `/${path}`;
  let url: URL;
  try {
    url = new URL(`${origin}${safePath}${query}`);
  } catch {
    return null;
  }
  return url.origin === origin ? url.href : null;
}
