/*
 * Links in a PDF must lead where the user is. The page was loaded from the main app's origin as
 * the appliance reaches it (TARGET_URL: compose's http://main:3000, a Flycast or .internal name
 * on Fly), so Chromium writes every relative link, and every absolute one to that origin, as a
 * link to an address the user's browser cannot open. When the user's origin is known
 * (job.publicOrigin: PUBLIC_URL, or the Host of the replayed request), those links are pointed
 * at it just before printing. Links to other sites, mail links and jumps within the page stay.
 *
 * How: the anchors' href attributes are rewritten in the page's DOM with one Runtime.evaluate,
 * right before Page.printToPDF. DevTools evaluation runs whatever the page's script setting is,
 * so this works with JAVASCRIPT=false too. The alternative, rewriting the link annotations in
 * the finished PDF, would need the whole file (Chromium's PDF streams to the client as it is
 * produced) and a rewrite of the cross-reference offsets after every changed string.
 *
 * Only PDFs carry links: an image has none, so nothing is changed for one. A print stylesheet
 * that shows `attr(href)` shows the address the user can open.
 */
import type { Workspace } from '../browser/workspace.js';
import type { RenderJob } from './job.js';

/**
 * Returns how many links it pointed. Runs inside the page via Runtime.evaluate, which ships only this
 * function's source text: it
 * must not use imports, module-level helpers or anything compiled into a helper call.
 *
 * Walks the document, its open shadow roots and its same-origin frames (the main app's own
 * frames; another site's frame cannot be entered, and its links are not the main app's).
 */
export function pointLinksInPage(origin: string, publicOrigin: string): number {
  const XLINK = 'http://www.w3.org/1999/xlink';
  let pointed = 0;
  const point = (el: Element, ns: string | null, base: string, documentUrl: string): void => {
    const raw = el.getAttributeNS(ns, 'href');
    if (raw === null) return;
    let url: URL;
    try {
      url = new URL(raw, base);
    } catch {
      return;
    }
    if (url.origin !== origin) return;
    // A jump within the page (its own URL plus a fragment) becomes a destination inside the
    // PDF; pointed elsewhere it would turn into a link that leaves the document.
    if (url.href.includes('#') && url.href.split('#')[0] === documentUrl) return;
    el.setAttributeNS(ns, 'href', `${publicOrigin}${url.pathname}${url.search}${url.hash}`);
    pointed++;
  };
  const visit = (root: Document | ShadowRoot, doc: Document, depth: number): void => {
    const base = doc.baseURI;
    const documentUrl = base.split('#')[0]!;
    for (const a of Array.from(root.querySelectorAll('a'))) {
      point(a, null, base, documentUrl);
      // SVG 1.1 links: <a xlink:href>.
      if (a.namespaceURI === 'http://www.w3.org/2000/svg') point(a, XLINK, base, documentUrl);
    }
    if (depth > 8) return; // bounded: frames within frames within frames...
    // Open shadow roots and frames are found by looking at every element: 30 ms for the
    // 31,000 elements of a 1,000-page report, against 10.9 s to print it (1.4 ms for 30 pages).
    for (const el of Array.from(root.querySelectorAll('*'))) {
      if (el.shadowRoot) visit(el.shadowRoot, doc, depth + 1);
      // By name, not instanceof: a frame's elements belong to the frame's own window.
      if (el.localName === 'iframe' || el.localName === 'frame') {
        let inner: Document | null = null;
        try {
          inner = (el as HTMLIFrameElement).contentDocument;
        } catch {
          inner = null;
        }
        if (inner) visit(inner, inner, depth + 1);
      }
    }
  };
  visit(document, document, 0);
  return pointed;
}

/**
 * Points the PDF's links at the user's origin (see the top of this file). A no-op for images
 * and when the user's origin is unknown or is the origin the page came from.
 */
export async function pointLinksAtUser(
  ws: Workspace,
  job: Pick<RenderJob, 'format' | 'origin' | 'publicOrigin'>,
): Promise<void> {
  if (job.format !== 'pdf' || !job.publicOrigin || job.publicOrigin === job.origin) return;
  await ws.evaluate<number>(
    `(${pointLinksInPage.toString()})(${JSON.stringify(job.origin)}, ${JSON.stringify(job.publicOrigin)})`,
  );
}
