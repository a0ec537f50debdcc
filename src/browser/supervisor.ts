import { spawnSync } from 'node:child_process';
import { getuid } from 'node:process';
import puppeteer, { type Browser, type BrowserContext, type Page } from 'puppeteer-core';
import type { Config } from '../config/config.js';
import { fail } from '../http/errors.js';
import type { Logger } from '../observability/log.js';
import { createLockdownProfile, LOCKDOWN_ARGS, LOCKDOWN_IGNORE_DEFAULT_ARGS } from './lockdown.js';
import type { Metrics } from '../observability/metrics.js';

/**
 * Renderer JavaScript heap cap, MB. V8 sizes it from the machine's RAM (¼ of it, up to 4 GB),
 * which in a container on a large host means "unbounded" for a 1 GB budget. With the cap a
 * runaway page script dies as a renderer crash of its own request (502) within a second or
 * two, instead of pushing the whole VM into reclaim and OOM. Printable pages use a few MB;
 * 256 leaves room for heavy client-side rendering.
 */
export const RENDERER_HEAP_MB = 256;

/**
 * Launch flags. puppeteer adds its own defaults (several overlap); the ones below are stated
 * because the appliance depends on them, whatever a puppeteer upgrade changes.
 */
export const BASE_ARGS = [
  // Memory. Docker gives /dev/shm 64 MB: renderers crash printing long pages without this.
  '--disable-dev-shm-usage',
  `--js-flags=--max-old-space-size=${RENDERER_HEAP_MB}`,
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
  '--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication,DialMediaRouteProvider,InterestFeedContentSuggestions,CertificateTransparencyComponentUpdater',
  // No keyring daemon (D-Bus) to wait for, no sound device to open.
  '--password-store=basic',
  '--mute-audio',
  // The same layout on every machine: hinting rounds glyph advances, which moves line breaks.
  '--font-render-hinting=none',
  '--hide-scrollbars',
];

/** A fresh isolated context with its page, ready for one render. */
export interface Workspace {
  context: BrowserContext;
  page: Page;
  generation: number;
  /** Closes the context (off the caller's critical path) and frees the browser for recycling. */
  release(): void;
}

interface Generation {
  id: number;
  browser: Browser;
  renders: number;
  leases: number;
  /** A workspace prepared ahead of the next request: context creation is ~half a render's cost. */
  spare: Promise<Workspace> | null;
  retired: boolean;
}

export type BrowserState = 'starting' | 'ready' | 'relaunching' | 'closed' | 'failed';

export interface SupervisorOptions {
  config: Pick<Config, 'chromePath' | 'sandbox' | 'maxRendersPerBrowser' | 'javascript' | 'renderTimeoutMs'>;
  log: Logger;
  metrics: Metrics;
  /** Prepare the next render's context while the current one runs (see Workspace). */
  prewarm?: boolean;
}

/**
 * Owns the one Chromium of this process: launch, relaunch after a crash, recycle after N
 * renders (draining the old one), and close. Renders borrow isolated workspaces from it.
 */
export class BrowserSupervisor {
  private current: Promise<Generation> | null = null;
  private generations = new Set<Generation>();
  private nextId = 1;
  private closing = false;
  private consecutiveFailures = 0;
  state: BrowserState = 'starting';
  sandboxed: boolean | null = null;
  chromeVersion: string | null = null;

  constructor(private readonly opts: SupervisorOptions) {}

  /** Starts launching now; renders that arrive meanwhile wait for it. */
  start(): Promise<void> {
    this.current = this.launch();
    return this.current.then(() => undefined);
  }

  async workspace(): Promise<Workspace> {
    // Chromium can die between our look at it and our use of it (the disconnect arrives a
    // moment after the process is gone): opening a page then fails on the dead browser, and
    // the relaunch is already under way. Such a render waits for it, once, rather than fail.
    for (let attempt = 0; ; attempt++) {
      if (this.closing) fail({ kind: 'shutting-down' });
      if (!this.current || this.state === 'failed') this.current = this.launch();
      let gen: Generation;
      try {
        gen = await this.current;
      } catch (err) {
        fail({ kind: 'browser-unavailable', reason: 'browser failed to launch' }, err);
      }
      gen.renders++;
      gen.leases++;
      if (gen.renders >= this.opts.config.maxRendersPerBrowser && !gen.retired) this.recycle(gen);

      let ws: Workspace;
      try {
        const spare = gen.spare;
        gen.spare = null;
        ws = spare ? await spare.catch(() => this.prepare(gen)) : await this.prepare(gen);
      } catch (err) {
        this.endLease(gen);
        if (attempt === 0 && !gen.browser.connected && !this.closing) continue;
        fail({ kind: 'browser-unavailable', reason: 'could not open a page' }, err);
      }
      return ws;
    }
  }

  /** For /healthz and metrics. */
  info(): { state: BrowserState; generation: number | null; sandbox: boolean | null; version: string | null; rendersOnBrowser: number } {
    const live = [...this.generations].find((g) => !g.retired);
    return {
      state: this.state,
      generation: live?.id ?? null,
      sandbox: this.sandboxed,
      version: this.chromeVersion,
      rendersOnBrowser: live?.renders ?? 0,
    };
  }

  /** PIDs of every Chromium main process this supervisor still owns (tests and memory sampling). */
  pids(): number[] {
    return [...this.generations].map((g) => g.browser.process()?.pid).filter((p): p is number => typeof p === 'number');
  }

  async close(): Promise<void> {
    this.closing = true;
    this.state = 'closed';
    const gens = [...this.generations];
    this.generations.clear();
    // A launch still under way closes its own browser when it sees `closing`; wait for it so
    // no Chromium outlives close().
    const launching = this.current?.catch(() => undefined);
    await Promise.all([...gens.map((g) => this.closeGeneration(g)), launching]);
  }

  private async launch(): Promise<Generation> {
    const wasCrash = this.state === 'relaunching';
    const started = performance.now();
    for (;;) {
      if (this.closing) fail({ kind: 'shutting-down' });
      try {
        const browser = await this.launchOnce();
        if (this.closing) {
          // Shut down while Chromium was starting: nobody will ever close this one otherwise.
          await browser.close().catch(() => undefined);
          fail({ kind: 'shutting-down' });
        }
        const gen: Generation = { id: this.nextId++, browser, renders: 0, leases: 0, spare: null, retired: false };
        this.generations.add(gen);
        browser.on('disconnected', () => this.onDisconnected(gen));
        this.state = 'ready';
        this.consecutiveFailures = 0;
        this.opts.metrics.browserLaunches.inc();
        this.opts.log.info({ generation: gen.id, ms: Math.round(performance.now() - started), sandbox: this.sandboxed, relaunch: wasCrash }, 'browser ready');
        if (this.opts.prewarm !== false) this.prepareSpare(gen);
        return gen;
      } catch (err) {
        if (this.closing) throw err;
        this.consecutiveFailures++;
        this.opts.log.error({ err: errMessage(err), attempt: this.consecutiveFailures }, 'browser launch failed');
        if (this.consecutiveFailures >= 3) {
          this.state = 'failed';
          throw err;
        }
        await new Promise((r) => setTimeout(r, 250 * this.consecutiveFailures));
      }
    }
  }

  private async launchOnce(): Promise<Browser> {
    const { sandbox, chromePath } = this.opts.config;
    const isRoot = getuid?.() === 0;
    // Chromium refuses its sandbox as root. Fly Machines are VMs where a non-root user gets a
    // working sandbox; docker's default seccomp profile does not allow it. `auto` tries it
    // and falls back with a warning; `on` insists; `off` never tries.
    let trySandbox = sandbox === 'on' || (sandbox === 'auto' && !isRoot);
    if (trySandbox && sandbox === 'auto' && !userNamespacesWork()) {
      // The sandbox needs user namespaces; docker's default seccomp profile forbids them. A
      // failed Chromium launch costs seconds of cold start, this check a few milliseconds.
      this.opts.log.warn('Chromium sandbox unavailable here (user namespaces are not permitted); running with --no-sandbox (set CHROME_SANDBOX=on to refuse)');
      trySandbox = false;
    } else if (trySandbox) {
      try {
        const b = await this.spawn(chromePath, true);
        this.sandboxed = true;
        return b;
      } catch (err) {
        if (sandbox === 'on') throw err;
        this.opts.log.warn({ err: errMessage(err) }, 'Chromium sandbox unavailable here; running with --no-sandbox (set CHROME_SANDBOX=on to refuse)');
      }
    } else if (sandbox === 'auto' && isRoot) {
      this.opts.log.warn('running as root: Chromium sandbox disabled (--no-sandbox); run as a non-root user to enable it');
    }
    const b = await this.spawn(chromePath, false);
    this.sandboxed = false;
    return b;
  }

  private async spawn(executablePath: string, sandbox: boolean): Promise<Browser> {
    const profile = await createLockdownProfile();
    let browser: Browser;
    try {
      browser = await this.launchWith(executablePath, sandbox, profile.userDataDir);
    } catch (err) {
      await profile.remove();
      throw err;
    }
    // The profile goes when the process does (crash, recycle or close alike); close() waits for it.
    const proc = browser.process();
    // puppeteer leaves errors on Chromium's stdio pipes unhandled; an ECONNRESET there as
    // Chromium dies would crash the appliance (and exit non-zero: Fly would restart it).
    for (const stream of proc?.stdio ?? []) stream?.on('error', () => undefined);
    const removed = proc && proc.exitCode === null
      ? new Promise<void>((resolve) => proc.once('exit', () => void profile.remove().then(resolve)))
      : profile.remove();
    profileRemoval.set(browser, removed);
    this.chromeVersion ??= await browser.version().catch(() => null);
    // Chromium opens with an about:blank tab nobody uses; it holds renderer processes worth
    // ~80 MB (measured: idle footprint 377 → 297 MB once closed). Renders use their own
    // contexts, so close it off the cold-start path.
    void browser.pages().then((pages) => Promise.all(pages.map((p) => p.close())), () => undefined).catch(() => undefined);
    return browser;
  }

  private launchWith(executablePath: string, sandbox: boolean, userDataDir: string): Promise<Browser> {
    return puppeteer.launch({
      executablePath,
      headless: true,
      userDataDir,
      args: [...BASE_ARGS, ...LOCKDOWN_ARGS, ...(sandbox ? [] : ['--no-sandbox'])],
      ignoreDefaultArgs: [...LOCKDOWN_IGNORE_DEFAULT_ARGS],
      // The process owns signals: a SIGTERM must drain renders first, not kill Chromium.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      pipe: true,
      protocolTimeout: this.opts.config.renderTimeoutMs + 30_000,
      defaultViewport: { width: 1024, height: 768 },
      timeout: 30_000,
    });
  }

  private prepareSpare(gen: Generation): void {
    if (gen.spare || this.closing) return;
    const spare = this.prepare(gen);
    spare.catch(() => undefined); // observed when taken; a dead browser surfaces there
    gen.spare = spare;
  }

  private async prepare(gen: Generation): Promise<Workspace> {
    const context = await gen.browser.createBrowserContext();
    try {
      const page = await context.newPage();
      await Promise.all([
        page.setRequestInterception(true),
        this.opts.config.javascript ? Promise.resolve() : page.setJavaScriptEnabled(false),
      ]);
      let released = false;
      return {
        context,
        page,
        generation: gen.id,
        release: () => {
          if (released) return;
          released = true;
          context.close().catch(() => undefined).finally(() => {
            this.endLease(gen);
            // The next render's workspace is prepared now, once this render is done: preparing
            // it while a render runs measurably slows that render down (they share the CPU).
            if (this.opts.prewarm !== false && !gen.retired && gen.browser.connected) this.prepareSpare(gen);
          });
        },
      };
    } catch (err) {
      await context.close().catch(() => undefined);
      throw err;
    }
  }

  /** A spare that was prepared but never leased still holds a context; count it out. */
  private endLease(gen: Generation): void {
    gen.leases--;
    if (gen.retired && gen.leases <= 0) void this.closeGeneration(gen);
  }

  /** Starts a fresh browser for new renders; the old one finishes its renders, then closes. */
  private recycle(gen: Generation): void {
    gen.retired = true;
    this.opts.metrics.browserRecycles.inc();
    this.opts.log.info({ generation: gen.id, renders: gen.renders }, 'recycling browser');
    this.current = this.launch();
    this.current.catch(() => undefined);
  }

  private onDisconnected(gen: Generation): void {
    const expected = gen.retired || this.closing || !this.generations.has(gen);
    this.generations.delete(gen);
    if (expected) return;
    // Chromium died under us (killed, OOM): in-flight renders on it fail on their own; new
    // renders wait for the relaunch instead of failing.
    gen.retired = true;
    this.opts.metrics.browserCrashes.inc();
    this.opts.log.error({ generation: gen.id }, 'browser disconnected unexpectedly; relaunching');
    this.state = 'relaunching';
    this.current = this.launch();
    this.current.catch(() => undefined);
    // Reap what is left of the old process tree.
    void gen.browser.close().catch(() => undefined);
  }

  private async closeGeneration(gen: Generation): Promise<void> {
    this.generations.delete(gen);
    gen.retired = true;
    const spare = gen.spare;
    gen.spare = null;
    if (spare) await spare.then((ws) => ws.context.close()).catch(() => undefined);
    await gen.browser.close().catch(() => undefined);
    await profileRemoval.get(gen.browser);
  }
}

/** Each browser's profile directory removal, settled once its process exited. */
const profileRemoval = new WeakMap<Browser, Promise<void>>();

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

/** Chromium's launch is the slowest part of a cold start: callers begin it before anything else. */
export function launchBrowser(opts: SupervisorOptions): BrowserSupervisor {
  const browser = new BrowserSupervisor(opts);
  browser.start().catch(() => undefined);
  return browser;
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
