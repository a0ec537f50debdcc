import type { Workspace } from '../browser/workspace.js';

/** What the waits read from the settings. */
export interface ReadySettings {
  quietWindowMs: number;
  javascript: boolean;
}

/**
 * Waits for what the page needs before it is printed or captured, and nothing more
 * (docs/page-options.md, "Waiting for the page"). The caller bounds it by the render's deadline.
 */
export async function pageReady(ws: Workspace, waitFor: string | undefined, settings: ReadySettings): Promise<void> {
  // Nothing pending at `load`: print at once. Otherwise wait until the network has been quiet
  // for a short window, so a page that fetches its data after load prints complete.
  await ws.inFlight.quiet(settings.quietWindowMs);
  if (waitFor) await ws.evaluate(waitForSelector(waitFor), true);
  // Web fonts must have arrived, or the output shows fallback fonts (print and capture do not
  // wait). One round trip asks that and whether the page holds its own readiness: a page that
  // set `window.pdfReady = false` is waited for until it sets it to true.
  const manual = await ws.evaluate<boolean>(
    `document.fonts.ready.then(() => ${settings.javascript ? 'window.pdfReady === false' : 'false'})`,
    true,
  );
  if (manual) {
    await ws.evaluate(POLL_PDF_READY, true);
    await ws.inFlight.quiet(settings.quietWindowMs);
    await ws.evaluate('document.fonts.ready.then(() => true)', true);
  }
}

const POLL_PDF_READY = `new Promise((resolve) => { const check = () => (window.pdfReady === true ? resolve(true) : setTimeout(check, 50)); check(); })`;

/** An in-page wait for `selector` (already checked to parse): a mutation observer, no polling. */
function waitForSelector(selector: string): string {
  return `new Promise((resolve) => {
    const sel = ${JSON.stringify(selector)};
    if (document.querySelector(sel)) return resolve(true);
    const mo = new MutationObserver(() => { if (document.querySelector(sel)) { mo.disconnect(); resolve(true); } });
    mo.observe(document, { childList: true, subtree: true, attributes: true });
  })`;
}
