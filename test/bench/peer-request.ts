/**
 * The appliance's `GET /<path>.pdf` with `Cookie: session=<user>` as the peer's API takes it
 * (Browserless v2: `POST /pdf?token=…` with a JSON body): the page URL on the main app, the
 * user's cookie bound to the main app's origin, the same print options and viewport the
 * baseline gets, and a load wait as the baseline's.
 */
export interface PeerRequest {
  /** The page on the main app. */
  pageUrl: string;
  /** The main app's origin, which the cookie is bound to. */
  origin: string;
  /** puppeteer's PDF options (spec.ts), which Browserless passes to page.pdf(). */
  pdf: object;
  viewport: { width: number; height: number };
}

export function peerBody(req: PeerRequest, user: string | undefined): Record<string, unknown> {
  return {
    url: req.pageUrl,
    ...(user !== undefined ? { cookies: [{ name: 'session', value: user, url: req.origin }] } : {}),
    options: req.pdf,
    viewport: req.viewport,
    gotoOptions: { waitUntil: 'load', timeout: 30_000 },
  };
}
