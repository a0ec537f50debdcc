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
 * - window.open() has nothing to open a window for; the headless shell has no popup blocker. A
 *   window opened anyway is a target no render owns: its requests are refused (egress.ts).
 */
export const PAGE_SCRIPT = `(() => {
  for (const name of ['RTCPeerConnection', 'webkitRTCPeerConnection', 'RTCIceTransport', 'WebTransport']) {
    try { delete globalThis[name]; } catch {}
  }
  try { Object.defineProperty(globalThis, 'print', { value: function print() {}, writable: false, configurable: false }); } catch {}
  try { Object.defineProperty(globalThis, 'open', { value: function open() { return null; }, writable: false, configurable: false }); } catch {}
})();`;
