import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Launch-time lockdown: traffic that no request interception ever sees (intercept.ts guards
// the rest). These only work as Chromium launch settings, so the BrowserSupervisor applies
// them: args, ignoreDefaultArgs, and a profile made by createLockdownProfile as userDataDir.

/**
 * - WebSockets: Chromium sends ws/wss through the `socks=` proxy when no scheme-specific rule
 *   matches, while http and https stay direct; the proxy address cannot be connected to, so
 *   every WebSocket fails before a packet leaves. `<-loopback>` removes Chromium's implicit
 *   proxy bypass for loopback, which would otherwise let ws://127.x through.
 * - WebRTC: no UDP except through a proxy (there is none), so STUN/TURN-over-UDP reach nothing.
 * - Shared workers do not exist: their requests are refused by the egress check anyway, and
 *   their script request never completes as far as the page can tell, which would hold the
 *   print until RENDER_TIMEOUT. (Chromium keeps only the last --disable-blink-features.)
 */
export const LOCKDOWN_ARGS: readonly string[] = [
  '--proxy-server=http=direct://;https=direct://;socks=socks5://0.0.0.0:0',
  '--proxy-bypass-list=<-loopback>',
  '--webrtc-ip-handling-policy=disable_non_proxied_udp',
  '--disable-blink-features=SharedWorker',
];

/** Puppeteer's defaults switch the popup blocker off; with it on, script cannot open windows (renders have no user gestures). */
export const LOCKDOWN_IGNORE_DEFAULT_ARGS: readonly string[] = ['--disable-popup-blocking'];

/**
 * "No preloading": speculation-rules prefetch/prerender and the preconnects Chromium makes when
 * a navigation starts open connections outside request interception (a blocked iframe still
 * got a TCP connect to its address without this).
 */
export const LOCKDOWN_PREFERENCES = { net: { network_prediction_options: 2 } } as const;

/** A fresh Chromium profile directory carrying LOCKDOWN_PREFERENCES; remove() it after the browser closed. */
export async function createLockdownProfile(): Promise<{ userDataDir: string; remove(): Promise<void> }> {
  const userDataDir = await mkdtemp(join(tmpdir(), 'pdf-appliance-profile-'));
  await mkdir(join(userDataDir, 'Default'));
  await writeFile(join(userDataDir, 'Default', 'Preferences'), JSON.stringify(LOCKDOWN_PREFERENCES));
  return {
    userDataDir,
    // Chromium may still be flushing the profile as it exits; retry, and never fail a caller over cleanup.
    remove: () => rm(userDataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }).catch(() => undefined),
  };
}
