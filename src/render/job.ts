import type { OutputFormat } from 'pdf-appliance-replay';
import type { Identity } from '../security/credentials.js';

/** One render, as the HTTP edge parsed it from the request (once) for everything below. */
export interface RenderJob {
  /** Absolute URL of the page on the main app's origin. */
  url: string;
  /** The main app's origin this render loads from (TARGET_URL's, or a TARGET_HOSTS host). */
  origin: string;
  /** The page's path as requested (still percent-encoded), to name the file. */
  pathname: string;
  /** What to make of the page: its PDF, or an image of it. */
  format: OutputFormat;
  /** `?download` asks for an attachment rather than inline display. */
  download: boolean;
  identity: Identity;
  /** Context headers and the proxy hints, for every request to `origin`. */
  context: Record<string, string>;
  /**
   * Where the user reaches the main app, when that is not `origin` (an internal address):
   * the main app's redirects to `origin` are rewritten to it.
   */
  publicOrigin: string | null;
}
