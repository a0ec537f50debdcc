import { spawn as spawnProcess, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getuid } from 'node:process';
import type { Readable, Writable } from 'node:stream';
import type { Protocol } from 'devtools-protocol';
import { CdpConnection, type CdpSession, type Transport } from './cdp.js';
import type { Logger } from '../observability/log.js';
import { chromiumEnvironment } from '../security/child-env.js';
import { COOKIE_FEATURES } from '../security/credentials.js';

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
 * Launch flags, all of them: the appliance starts Chromium itself (see launchChromium), so
 * nothing is added behind its back. Most are what automation always passes; each is here
 * because the appliance depends on it.
 */
export const BASE_ARGS = [
  // No background work a render did not ask for, no throttling of a tab nobody looks at.
  '--disable-background-timer-throttling',
  '--disable-backgrounding-occluded-windows',
  '--disable-renderer-backgrounding',
  '--disable-ipc-flooding-protection',
  '--disable-hang-monitor',
  '--disable-prompt-on-repost',
  '--disable-client-side-phishing-detection',
  '--disable-component-extensions-with-background-pages',
  '--disable-breakpad',
  '--disable-crash-reporter',
  '--disable-search-engine-choice-screen',
  '--allow-pre-commit-input',
  '--enable-automation',
  '--use-mock-keychain',
  // Prints as Chromium's print preview would: sRGB colours, and the tags an outline needs.
  '--force-color-profile=srgb',
  '--export-tagged-pdf',
  '--generate-pdf-document-outline',
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
  // history.back() after its render (workspace.ts settles a tab on an empty document).
  '--disable-features=Translate,AcceptCHFrame,MediaRouter,OptimizationHints,ProcessPerSiteUpToMainFrameThreshold,IsolateSandboxedIframes,AutofillServerCommunication,DialMediaRouteProvider,InterestFeedContentSuggestions,CertificateTransparencyComponentUpdater,BackForwardCache',
  `--enable-features=${COOKIE_FEATURES.join(',')}`,
  // No keyring daemon (D-Bus) to wait for, no sound device to open.
  '--password-store=basic',
  '--mute-audio',
  // The same layout on every machine: hinting rounds glyph advances, which moves line breaks.
  '--font-render-hinting=none',
  '--hide-scrollbars',
];

/**
 * Traffic that no request interception ever sees, closed at launch (interception.ts guards the rest):
 * - Every http and https connection goes through the SOCKS proxy (socks-proxy.ts), which
 *   asks the SSRF guard again by host and port and connects to the vetted address.
 * - WebSockets: Chromium sends ws/wss through the `socks=` proxy when no scheme-specific rule
 *   matches; that address cannot be connected to, so every WebSocket fails before a packet
 *   leaves. `<-loopback>` removes Chromium's implicit proxy bypass for loopback, which would
 *   otherwise let ws://127.x (and http to loopback) around the proxies.
 * - WebRTC: no UDP except through a proxy (there is none). TURN over TCP still connects
 *   directly (measured: a TCP connect reached a loopback listener), so page-script.ts also
 *   takes the peer-connection constructors away from every frame.
 * - Shared workers do not exist: their requests are refused by the request interception anyway, and
 *   their script request never completes as far as the page can tell, which would hold the
 *   print until RENDER_TIMEOUT. (Chromium keeps only the last --disable-blink-features.)
 * - QUIC off: WebTransport and HTTP/3 would speak UDP to hosts no request check has seen.
 */
export function lockdownArgs(socksProxyPort: number): string[] {
  const proxy = `socks5://127.0.0.1:${socksProxyPort}`;
  return [`--proxy-server=http=${proxy};https=${proxy};socks=socks5://0.0.0.0:0`, ...LOCKDOWN_ARGS];
}

/**
 * The headless shell's own switches:
 * - `--block-new-web-contents`: every new window fails to open (window.open() returns null, a
 *   link or form aimed at another window does nothing), whatever opens it, in every frame. A
 *   render has one page target; a popup is the one way a page could outlive its render
 *   (measured: a popup kept scripting its opener's next documents). Full Chromium has no such
 *   switch: its popups are closed as they appear instead (interception.ts).
 *
 * Not `--site-per-process`: the headless shell keeps a cross-site frame in its tab's process
 * (one renderer per render), and with the switch such a frame printed blank (measured: its text
 * missing from the PDF). Renders never share a renderer either way: each has its own context.
 */
const HEADLESS_SHELL_ARGS: readonly string[] = ['--block-new-web-contents'];

const LOCKDOWN_ARGS: readonly string[] = [
  '--proxy-bypass-list=<-loopback>',
  '--webrtc-ip-handling-policy=disable_non_proxied_udp',
  '--disable-blink-features=SharedWorker',
  '--disable-quic',
];

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
  /** Port of the SOCKS proxy on loopback (socks-proxy.ts). */
  socksProxyPort: number;
  /** Bounds every CDP command; renders bound themselves more tightly. */
  protocolTimeoutMs: number;
  log: Logger;
}

/** One running Chromium: its CDP connection, and the browser-level session everything else uses. */
export interface Chromium {
  /** Kills the process (SIGKILL) and settles once it has exited and its profile is gone. */
  kill(): Promise<void>;
  /** Asks Chromium to close itself (Browser.close); see kill() for one that does not. */
  close(): Promise<void>;
  /** Attached to the browser target: contexts, targets, cookies, the request interception (Fetch domain). */
  session: CdpSession;
  connection: CdpConnection;
  pid: number | null;
  version: string;
  sandboxed: boolean;
  /** Settles once the process has exited and its profile directory is gone. */
  exited: Promise<void>;
}

/** Where a launch stands between the spawn and the first CDP connection. */
export interface Spawned {
  proc: ChildProcess;
  sandboxed: boolean;
  /** The start of Chromium's stderr: why a launch failed. */
  stderr(): string;
  exited: Promise<void>;
  kill(): Promise<void>;
}

export type SpawnOptions = Pick<
  LaunchOptions,
  'chromePath' | 'sandbox' | 'javascript' | 'renderMemoryMb' | 'socksProxyPort'
>;

/**
 * Whether to try Chromium's sandbox, and the warning to log about it. Chromium refuses its
 * sandbox as root; docker's default seccomp profile refuses it to anyone (user namespaces).
 */
export function sandboxChoice(sandbox: LaunchOptions['sandbox']): { trySandbox: boolean; warning?: string } {
  const isRoot = getuid?.() === 0;
  if (sandbox === 'off') return { trySandbox: false };
  if (sandbox === 'on') return { trySandbox: true };
  if (isRoot)
    return {
      trySandbox: false,
      warning: 'running as root: Chromium sandbox disabled (--no-sandbox); run as a non-root user to enable it',
    };
  // A failed Chromium launch costs seconds of cold start; this check a few milliseconds.
  if (!userNamespacesWork())
    return {
      trySandbox: false,
      warning:
        'Chromium sandbox unavailable here (user namespaces are not permitted); running with --no-sandbox (set CHROME_SANDBOX=on to refuse)',
    };
  return { trySandbox: true };
}

/**
 * Launches Chromium. `early` is a spawn main() started before loading the rest of the
 * appliance (spawnChromium); it is adopted if it connects.
 */
export async function launchChromium(opts: LaunchOptions, early?: Promise<Spawned>): Promise<Chromium> {
  const choice = sandboxChoice(opts.sandbox);
  if (choice.warning) opts.log.warn(choice.warning);
  const first = early ?? spawnChromium(opts, choice.trySandbox);
  try {
    return await connectChromium(await first, opts);
  } catch (err) {
    const sandboxed = await first.then(
      (s) => s.sandboxed,
      () => choice.trySandbox,
    );
    if (!sandboxed || opts.sandbox === 'on') throw err;
    opts.log.warn(
      { err: errMessage(err) },
      'Chromium sandbox unavailable here; running with --no-sandbox (set CHROME_SANDBOX=on to refuse)',
    );
    return connectChromium(await spawnChromium(opts, false), opts);
  }
}

/** How long Chromium may take to answer its first command before the launch counts as failed. */
const LAUNCH_TIMEOUT_MS = 30_000;

/**
 * Starts Chromium with its DevTools pipe, before the rest of the appliance is loaded (the
 * HTTP, logging and metrics modules), so their loading overlaps Chromium's own start.
 */
export async function spawnChromium(opts: SpawnOptions, sandbox: boolean): Promise<Spawned> {
  // Synchronous (a millisecond): each await here let a cold start's module loading, which
  // blocks the event loop for 100-500 ms at a time, go first, and the spawn came that much later.
  const userDataDir = mkdtempSync(join(tmpdir(), 'pdf-appliance-profile-'));
  // Chromium may still be flushing the profile as it exits; retry, and never fail over cleanup.
  const removeProfile = (): Promise<void> =>
    rm(userDataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }).catch(() => undefined);
  mkdirSync(join(userDataDir, 'Default'));
  writeFileSync(join(userDataDir, 'Default', 'Preferences'), JSON.stringify(profilePreferences(opts.javascript)));
  const args = [
    ...BASE_ARGS,
    jsHeapFlag(opts.renderMemoryMb),
    ...scriptFlags(opts.javascript),
    ...lockdownArgs(opts.socksProxyPort),
    ...(sandbox ? [] : ['--no-sandbox']),
    ...(isHeadlessShell(opts.chromePath) ? HEADLESS_SHELL_ARGS : ['--headless=new']),
    `--user-data-dir=${userDataDir}`,
    '--remote-debugging-pipe',
    'about:blank',
  ];
  // fd 3: commands to Chromium; fd 4: its answers. Its own stdio says nothing we need, except
  // why a launch failed: the start of stderr is kept for that. Its environment is what it
  // needs, never our secrets (child-env.ts): every process it starts inherits it.
  const proc = spawnProcess(opts.chromePath, args, {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    env: chromiumEnvironment(),
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 2000) stderr += d.toString();
  });
  // An ECONNRESET on a pipe as Chromium dies must not crash the appliance (and exit non-zero).
  for (const stream of proc.stdio) stream?.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.once('error', () => resolve());
  }).then(removeProfile);
  const kill = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
  };
  return { proc, sandboxed: sandbox, stderr: () => stderr, exited, kill };
}

/** Opens the DevTools connection of a spawned Chromium; kills it if that fails. */
async function connectChromium(spawned: Spawned, opts: LaunchOptions): Promise<Chromium> {
  const { proc, kill, exited, sandboxed } = spawned;
  try {
    const { connection, version } = await connect(proc, opts, spawned.stderr);
    const { sessionId } = await connection.root.send('Target.attachToBrowserTarget');
    const session = connection.session(sessionId);
    if (!session) throw new Error('no session for the browser target');
    // Chromium opens with an about:blank tab nobody uses; its renderer costs memory.
    const { targetInfos } = await session.send('Target.getTargets');
    for (const t of targetInfos)
      if (t.type === 'page') void session.send('Target.closeTarget', { targetId: t.targetId }).catch(() => undefined);
    const close = async (): Promise<void> => {
      await session.send('Browser.close').catch(() => undefined);
    };
    return { session, connection, pid: proc.pid ?? null, version: version.product, sandboxed, exited, kill, close };
  } catch (err) {
    await kill();
    throw err;
  }
}

/** The connection, once Chromium answered on it, with that first answer (its version). */
async function connect(
  proc: ChildProcess,
  opts: LaunchOptions,
  stderr: () => string,
): Promise<{ connection: CdpConnection; version: Protocol.Browser.GetVersionResponse }> {
  const connection = new CdpConnection(
    pipeTransport(proc.stdio[3] as Writable, proc.stdio[4] as Readable),
    opts.protocolTimeoutMs,
  );
  const died = new Promise<never>((_, reject) => {
    const onExit = (code: number | null, signal: string | null): void =>
      reject(
        new Error(
          `Chromium exited during launch (${code ?? signal}): ${stderr().split('\n').filter(Boolean).slice(-3).join(' | ')}`,
        ),
      );
    proc.once('exit', onExit);
    proc.once('error', (err) => reject(err));
  });
  died.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Chromium did not answer within ${LAUNCH_TIMEOUT_MS / 1000} s`)),
      LAUNCH_TIMEOUT_MS,
    );
  });
  try {
    // The first answer says the pipe works; until then Chromium may still be starting.
    const version = await Promise.race([connection.root.send('Browser.getVersion'), died, timeout]);
    return { connection, version };
  } finally {
    clearTimeout(timer);
  }
}

/** Chromium's --remote-debugging-pipe protocol: one JSON message per NUL-terminated chunk. */
function pipeTransport(toChromium: Writable, fromChromium: Readable): Transport {
  let pending = '';
  let closed = false;
  const transport: Transport = {
    send(message) {
      if (!closed) toChromium.write(`${message}\0`);
    },
    close() {
      closed = true;
      toChromium.end();
    },
  };
  fromChromium.setEncoding('utf8');
  fromChromium.on('data', (chunk: string) => {
    let start = 0;
    for (let end = chunk.indexOf('\0'); end !== -1; end = chunk.indexOf('\0', start)) {
      const message = pending + chunk.slice(start, end);
      pending = '';
      start = end + 1;
      transport.onmessage?.(message);
    }
    pending += chunk.slice(start);
  });
  fromChromium.on('close', () => {
    closed = true;
    transport.onclose?.();
  });
  return transport;
}

export function errMessage(err: unknown): string {
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
