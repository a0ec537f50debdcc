import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getuid } from 'node:process';
import puppeteer, { type Browser, type CDPSession, type Connection } from 'puppeteer-core';
import type { Logger } from '../observability/log.js';
import { ORIGIN_BOUND_COOKIE_FEATURES } from '../security/credentials.js';

/**
 * The renderers' JavaScript heap cap: above the render budget, so that a page filling its
 * heap is stopped by the memory watch as soon as it passes the budget (quickly, with a clear
 * error). A cap at or under the budget makes V8 collect garbage in a loop near its limit
 * instead, which on 2 cores starved every other render for the whole RENDER_TIMEOUT
 * (measured: all three concurrent renders 504). V8 left alone sizes it from the machine's RAM.
 */
export function jsHeapFlag(renderMemoryMb: number): string {
  return `--js-flags=--max-old-space-size=${renderMemoryMb + 128}`;
}

/**
 * Launch flags. puppeteer adds its own defaults (several overlap); the ones below are stated
 * because the appliance depends on them, whatever a puppeteer upgrade changes. puppeteer merges
 * every --disable-features/--enable-features it is given with its own.
 */
export const BASE_ARGS = [
  // Memory. Docker gives /dev/shm 64 MB: renderers crash printing long pages without this.
  '--disable-dev-shm-usage',
  // No GPU in a VM: skip probing for one (compositing stays in software either way).
  '--disable-gpu',
  // The network is closed and must stay quiet: nothing may phone home or fetch updates.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--no-first-run',
  '--no-default-browser-check',
  '--metrics-recording-only',
  // BackForwardCache: a page navigated away from must be gone, not frozen for a later
  // history.back() in the next user's render (workspace.ts parks and resets tabs).
  '--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication,DialMediaRouteProvider,InterestFeedContentSuggestions,CertificateTransparencyComponentUpdater,BackForwardCache',
  `--enable-features=${ORIGIN_BOUND_COOKIE_FEATURES.join(',')}`,
  // No keyring daemon (D-Bus) to wait for, no sound device to open.
  '--password-store=basic',
  '--mute-audio',
  // The same layout on every machine: hinting rounds glyph advances, which moves line breaks.
  '--font-render-hinting=none',
  '--hide-scrollbars',
];

/**
 * Traffic that no request interception ever sees, closed at launch (egress.ts guards the rest):
 * - Every http and https connection goes through the egress proxy (egress-proxy.ts), which
 *   asks the SSRF guard again by host and port and connects to the vetted address.
 * - WebSockets: Chromium sends ws/wss through the `socks=` proxy when no scheme-specific rule
 *   matches; that address cannot be connected to, so every WebSocket fails before a packet
 *   leaves. `<-loopback>` removes Chromium's implicit proxy bypass for loopback, which would
 *   otherwise let ws://127.x (and http to loopback) around the proxies.
 * - WebRTC: no UDP except through a proxy (there is none). TURN over TCP still connects
 *   directly (measured: a TCP connect reached a loopback listener), so page-script.ts also
 *   takes the peer-connection constructors away from every frame.
 * - Shared workers do not exist: their requests are refused by the egress check anyway, and
 *   their script request never completes as far as the page can tell, which would hold the
 *   print until RENDER_TIMEOUT. (Chromium keeps only the last --disable-blink-features.)
 * - QUIC off: WebTransport and HTTP/3 would speak UDP to hosts no request check has seen.
 */
export function lockdownArgs(egressProxyPort: number): string[] {
  const proxy = `socks5://127.0.0.1:${egressProxyPort}`;
  return [
    `--proxy-server=http=${proxy};https=${proxy};socks=socks5://0.0.0.0:0`,
    ...LOCKDOWN_ARGS,
  ];
}

export const LOCKDOWN_ARGS: readonly string[] = [
  '--proxy-bypass-list=<-loopback>',
  '--webrtc-ip-handling-policy=disable_non_proxied_udp',
  '--disable-blink-features=SharedWorker',
  '--disable-quic',
];

/** Puppeteer's defaults switch the popup blocker off; with it on, script cannot open windows (renders have no user gestures). */
export const LOCKDOWN_IGNORE_DEFAULT_ARGS: readonly string[] = ['--disable-popup-blocking'];

/**
 * Profile preferences.
 * - "No preloading": speculation-rules prefetch/prerender and the preconnects Chromium makes
 *   when a navigation starts open connections outside request interception (a blocked iframe
 *   still got a TCP connect to its address without this).
 * - JAVASCRIPT=false is a content setting of the whole profile, so it holds in every frame of
 *   every render, cross-site iframes and their workers included (a per-page switch does not:
 *   measured, a third-party iframe's scripts ran with it).
 */
export function profilePreferences(javascript: boolean): Record<string, unknown> {
  // (The headless shell has no profile preferences for content settings: see scriptFlags.)
  return {
    net: { network_prediction_options: 2 },
    ...(javascript ? {} : { profile: { default_content_setting_values: { javascript: 2 } } }),
  };
}

/**
 * JAVASCRIPT=false as a renderer setting as well: it holds in every frame of every context,
 * in the headless shell too (measured: a cross-site iframe's script and its worker never ran).
 */
export function scriptFlags(javascript: boolean): string[] {
  return javascript ? [] : ['--blink-settings=scriptEnabled=false'];
}

/**
 * Chromium's headless shell: the browser without its UI. Full Chromium in headless mode still
 * builds browser UI for every context (two omnibox WebUI renderers each, measured). Same
 * engine and printing; on this machine, with one kept tab per slot (invoice, c=4): 14 PDFs/s
 * and 410 MB PSS against 5.6 PDFs/s and 680 MB for full Chromium.
 */
export function isHeadlessShell(chromePath: string): boolean {
  return /headless[-_]shell/.test(chromePath.split('/').pop() ?? '');
}

export interface LaunchOptions {
  chromePath: string;
  sandbox: 'auto' | 'on' | 'off';
  javascript: boolean;
  renderMemoryMb: number;
  /** Port of the egress proxy on loopback (egress-proxy.ts). */
  egressProxyPort: number;
  /** Bounds every CDP command; renders bound themselves more tightly. */
  protocolTimeoutMs: number;
  log: Logger;
}

/** One running Chromium: the puppeteer handle, and the browser-level CDP session everything else uses. */
export interface Chromium {
  browser: Browser;
  /** Attached to the browser target: contexts, targets, cookies, the egress Fetch domain. */
  session: CDPSession;
  connection: Connection;
  pid: number | null;
  version: string;
  sandboxed: boolean;
  /** Settles once the process has exited and its profile directory is gone. */
  exited: Promise<void>;
}

/** Chromium refuses its sandbox as root; docker's default seccomp profile refuses it to anyone. */
export async function launchChromium(opts: LaunchOptions): Promise<Chromium> {
  const isRoot = getuid?.() === 0;
  let trySandbox = opts.sandbox === 'on' || (opts.sandbox === 'auto' && !isRoot);
  if (trySandbox && opts.sandbox === 'auto' && !userNamespacesWork()) {
    // A failed Chromium launch costs seconds of cold start; this check a few milliseconds.
    opts.log.warn('Chromium sandbox unavailable here (user namespaces are not permitted); running with --no-sandbox (set CHROME_SANDBOX=on to refuse)');
    trySandbox = false;
  } else if (opts.sandbox === 'auto' && isRoot) {
    opts.log.warn('running as root: Chromium sandbox disabled (--no-sandbox); run as a non-root user to enable it');
  }
  if (trySandbox) {
    try {
      return await spawn(opts, true);
    } catch (err) {
      if (opts.sandbox === 'on') throw err;
      opts.log.warn({ err: errMessage(err) }, 'Chromium sandbox unavailable here; running with --no-sandbox (set CHROME_SANDBOX=on to refuse)');
    }
  }
  return spawn(opts, false);
}

async function spawn(opts: LaunchOptions, sandbox: boolean): Promise<Chromium> {
  const userDataDir = await mkdtemp(join(tmpdir(), 'pdf-appliance-profile-'));
  // Chromium may still be flushing the profile as it exits; retry, and never fail over cleanup.
  const removeProfile = (): Promise<void> => rm(userDataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }).catch(() => undefined);
  let browser: Browser;
  try {
    await mkdir(join(userDataDir, 'Default'));
    await writeFile(join(userDataDir, 'Default', 'Preferences'), JSON.stringify(profilePreferences(opts.javascript)));
    browser = await puppeteer.launch({
      executablePath: opts.chromePath,
      headless: isHeadlessShell(opts.chromePath) ? 'shell' : true,
      userDataDir,
      args: [...BASE_ARGS, jsHeapFlag(opts.renderMemoryMb), ...scriptFlags(opts.javascript), ...lockdownArgs(opts.egressProxyPort), ...(sandbox ? [] : ['--no-sandbox'])],
      ignoreDefaultArgs: [...LOCKDOWN_IGNORE_DEFAULT_ARGS],
      // The appliance drives its tabs over raw CDP sessions of its own (workspace.ts):
      // puppeteer keeps only the browser target, and attaches to nothing else.
      targetFilter: (target) => target.type() === 'browser',
      waitForInitialPage: false,
      // The process owns signals: a SIGTERM must drain renders first, not kill Chromium.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      pipe: true,
      protocolTimeout: opts.protocolTimeoutMs,
      defaultViewport: null,
      timeout: 30_000,
    });
  } catch (err) {
    await removeProfile();
    throw err;
  }
  const proc = browser.process();
  // puppeteer leaves errors on Chromium's stdio pipes unhandled; an ECONNRESET there as
  // Chromium dies would crash the appliance (and exit non-zero: Fly would restart it).
  for (const stream of proc?.stdio ?? []) stream?.on('error', () => undefined);
  const exited = proc && proc.exitCode === null
    ? new Promise<void>((resolve) => proc.once('exit', () => void removeProfile().then(resolve)))
    : removeProfile();
  try {
    const session = await browser.target().createCDPSession();
    const connection = session.connection();
    if (!connection) throw new Error('no CDP connection to the browser');
    // Chromium opens with an about:blank tab nobody uses; its renderer costs ~80 MB.
    const { targetInfos } = await session.send('Target.getTargets');
    for (const t of targetInfos) if (t.type === 'page') void session.send('Target.closeTarget', { targetId: t.targetId }).catch(() => undefined);
    const version = await browser.version();
    return { browser, session, connection, pid: proc?.pid ?? null, version, sandboxed: sandbox, exited };
  } catch (err) {
    await browser.close().catch(() => undefined);
    await exited;
    throw err;
  }
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

let userNamespaces: boolean | undefined;

/** Whether this process may create a user namespace, which Chromium's sandbox needs. Asked once. */
function userNamespacesWork(): boolean {
  userNamespaces ??= probeUserNamespaces();
  return userNamespaces;
}

function probeUserNamespaces(): boolean {
  const r = spawnSync('unshare', ['--user', '--map-root-user', 'true'], { stdio: 'ignore', timeout: 2000 });
  // No `unshare` binary: cannot tell, so let Chromium try.
  if (r.error) return true;
  return r.status === 0;
}
