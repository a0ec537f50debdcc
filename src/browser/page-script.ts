import { OMIT_CREDENTIALS_HEADER } from '../security/credentials.js';

/**
 * Runs in every frame of every render before the page's own scripts (added with
 * Page.addScriptToEvaluateOnNewDocument to the tab and to each cross-site frame's target as it
 * attaches, before it may run). Kept tiny: it costs every document.
 *
 * - Peer connections reach TURN servers over TCP straight from the network stack, outside
 *   request interception (measured: a relay-only RTCPeerConnection connected to a private
 *   address). Nothing a print needs uses them, so their constructors are removed; a frame the
 *   page creates gets this script too.
 * - window.print() opens a print job the headless browser never finishes, and the render's own
 *   printToPDF then waits behind it: a page that calls it would fail every time. It becomes a
 *   no-op: the appliance prints anyway.
 * - window.open() has nothing to open a window for (the headless shell refuses new windows
 *   anyway: chromium.ts).
 * - fetch() with credentials 'omit' to the page's own origin is marked (credentials.ts): Chromium
 *   leaves the cookies off by itself, but the identity headers are added outside it, and nothing
 *   else tells the appliance what the page asked for. (A no-cors request cannot carry the mark:
 *   such a request gets what a same-origin one would.)
 */
export const PAGE_SCRIPT = `(() => {
  for (const name of ['RTCPeerConnection', 'webkitRTCPeerConnection', 'RTCIceTransport', 'WebTransport']) {
    try { delete globalThis[name]; } catch {}
  }
  try { Object.defineProperty(globalThis, 'print', { value: function print() {}, writable: false, configurable: false }); } catch {}
  try { Object.defineProperty(globalThis, 'open', { value: function open() { return null; }, writable: false, configurable: false }); } catch {}
  try {
    const original = globalThis.fetch;
    if (typeof original === 'function' && typeof Request === 'function') {
      const fetch = function fetch(input, init) {
        const omitted = (init && init.credentials === 'omit') || (!(init && init.credentials) && input instanceof Request && input.credentials === 'omit');
        if (omitted) {
          try {
            const request = new Request(input, init);
            if (new URL(request.url).origin === location.origin) {
              const headers = new Headers(request.headers);
              headers.set(${JSON.stringify(OMIT_CREDENTIALS_HEADER)}, 'omit');
              return original.call(globalThis, new Request(request, { headers }));
            }
            return original.call(globalThis, request);
          } catch (e) {}
        }
        return original.call(globalThis, input, init);
      };
      Object.defineProperty(globalThis, 'fetch', { value: fetch, writable: false, configurable: false });
    }
  } catch {}
})();`;
