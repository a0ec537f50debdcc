import { abortable } from '../abort.js';
import { fail } from '../failure.js';
import type { Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import type { Identity } from '../security/credentials.js';
import {
  errMessage,
  launchChromium,
  spawnChromium,
  sandboxChoice,
  type Chromium,
  type Spawned,
  type SpawnOptions,
} from './chromium.js';
import { Interception } from './interception.js';
import { startSocksProxy, type SocksProxy } from './socks-proxy.js';
import type { Guard } from '../security/ssrf.js';
import { ImageMemory } from '../admission/image-memory.js';
import { MemoryWatch } from './memory-watch.js';
import { RendererPids } from './renderer-pid.js';
import { WorkspacePool, type Acquisition } from './pool.js';
import { Workspace } from './workspace.js';

/** The viewport of every render (CSS pixels); print layout uses the paper size instead. */
export const VIEWPORT = { width: 1024, height: 768 } as const;

/** How long Chromium has to exit after Browser.close before it is killed. */
const CLOSE_GRACE_MS = 5000;
/** How long a resumed Chromium has to answer before it is replaced. */
const RESUME_CHECK_MS = 3000;
/** Renders a workspace serves before it is replaced with a fresh context and renderer. */
const WORKSPACE_MAX_RENDERS = 100;
/**
 * A fetch or XHR still waiting for its answer holds the print for at most this share of
 * RENDER_TIMEOUT (a long poll would otherwise hold it to the end: in-flight.ts).
 */
const DATA_WAIT_SHARE = 3;
/**
 * Workspaces opened ahead of need. One covers a new user's click at low load (the next one is
 * opened while the first renders); more cost a renderer's memory each while idle.
 */
const SPARE_WORKSPACES = 1;

export type BrowserState = 'starting' | 'ready' | 'relaunching' | 'closed' | 'failed';

/** A workspace lent to one render. */
export interface Lease {
  ws: Workspace;
  how: Acquisition;
  /** `reusable: false` when the render did not end cleanly: the workspace is replaced. */
  release(reusable: boolean): void;
}

interface Generation {
  id: number;
  chromium: Chromium;
  interception: Interception;
  pool: WorkspacePool;
  memory: MemoryWatch;
  renders: number;
  leases: number;
  retired: boolean;
  /** The first workspace, opened as soon as Chromium is up. */
  prewarmed: Promise<void>;
}

export interface SupervisorOptions {
  /** The SSRF guard: Chromium's connections pass it at the SOCKS proxy. */
  guard: Pick<Guard, 'connectTo'>;
  /** A proxy and a Chromium main() started before loading the rest (startEarly); adopted by the first launch. */
  early?: EarlyStart;
  config: BrowserSettings;
  log: Logger;
  metrics: Metrics;
}

/** The settings the browser side reads (config.ts fills them from the environment). */
export interface BrowserSettings {
  chromePath: string;
  sandbox: 'auto' | 'on' | 'off';
  maxRendersPerBrowser: number;
  javascript: boolean;
  renderTimeoutMs: number;
  concurrency: number;
  renderMemoryBytes: number;
  /** What Chromium's whole process tree may use. */
  memoryLimitBytes: number;
  /** What image captures may use at once (IMAGE_MEMORY_MB), and how long one waits for it (QUEUE_TIMEOUT). */
  imageMemoryBytes: number;
  queueTimeoutMs: number;
  workspaceLingerMs: number;
}

/**
 * Owns the one Chromium of this process: launch, relaunch after a crash, recycle after N
 * renders (the old one finishes its renders, then closes), close. With each Chromium come the
 * request interception, the workspace pool and the memory watch, which live and die with it.
 */
export class BrowserSupervisor {
  private current: Promise<Generation> | null = null;
  private readonly generations = new Set<Generation>();
  private nextId = 1;
  private closing = false;
  private consecutiveFailures = 0;
  /** One for the life of the supervisor: every Chromium it launches connects through it. */
  private proxy: Promise<SocksProxy> | null = null;
  state: BrowserState = 'starting';
  /** The memory image captures are admitted against, across browser generations. */
  readonly images: ImageMemory;
  sandboxed: boolean | null = null;
  chromeVersion: string | null = null;

  constructor(private readonly opts: SupervisorOptions) {
    this.images = new ImageMemory(opts.config.imageMemoryBytes, opts.config.queueTimeoutMs);
  }

  /** Starts launching now; renders that arrive meanwhile wait for it. */
  start(): Promise<void> {
    this.current = this.launch();
    return this.current.then(() => undefined);
  }

  /** Settles once the current Chromium is up with a workspace open (or its launch failed for good). */
  async ready(): Promise<void> {
    const gen = await this.current?.catch(() => undefined);
    await gen?.prewarmed;
  }

  /**
   * Checks every renderer's memory now. Called as a render finishes: a page that went over
   * its budget in the last moments must not be delivered as if nothing happened.
   */
  sweepMemory(): boolean {
    return [...this.generations].some((g) => g.memory.sweep() > 0);
  }

  /**
   * A workspace for `identity`, waiting for a launch if one is under way. Bounded by the
   * caller's `signal` (the render deadline): nothing here waits longer than the render may.
   */
  async acquire(identity: Identity, origin: string, signal: AbortSignal): Promise<Lease> {
    // Chromium can die between our look at it and our use of it: such a render waits for the
    // relaunch, once, rather than fail.
    for (let attempt = 0; ; attempt++) {
      if (this.closing) fail({ kind: 'shutting-down' });
      if (!this.current || this.state === 'failed') this.current = this.launch();
      let gen: Generation;
      try {
        gen = await abortable(this.current, signal);
      } catch (err) {
        if (signal.aborted) throw err;
        fail({ kind: 'browser-unavailable', reason: 'browser failed to launch' }, err);
      }
      gen.leases++;
      const acquiring = gen.pool.acquire(identity, origin, signal);
      try {
        // Preparing a workspace (a new context, its cookies) cannot be cut short; when the render
        // gives up first, the workspace goes back to the pool as soon as it is ready.
        const { ws, how } = await abortable(acquiring, signal).catch((err: unknown) => {
          if (signal.aborted)
            acquiring.then(
              ({ ws }) => gen.pool.release(ws, true),
              () => undefined,
            );
          throw err;
        });
        gen.renders++;
        this.opts.metrics.workspaces.inc({ how });
        if (gen.renders >= this.opts.config.maxRendersPerBrowser && !gen.retired) this.recycle(gen);
        let released = false;
        return {
          ws,
          how,
          release: (reusable) => {
            if (released) return;
            released = true;
            gen.pool.release(ws, reusable);
            this.endLease(gen);
          },
        };
      } catch (err) {
        this.endLease(gen);
        if (signal.aborted) throw err;
        if (attempt === 0 && gen.chromium.connection.isClosed && !this.closing) continue;
        fail({ kind: 'browser-unavailable', reason: 'could not prepare a workspace' }, err);
      }
    }
  }

  /**
   * After a resume: the snapshot's connections (Chromium's, through the SOCKS proxy) may be
   * dead on the other side; Chromium itself may not have survived. Tunnels are dropped (Chromium
   * opens new ones), and a Chromium that does not answer within a moment is replaced.
   */
  async afterResume(): Promise<void> {
    const proxy = await this.proxy?.catch(() => null);
    proxy?.dropAll();
    const gen = await this.current?.catch(() => null);
    if (!gen || this.closing) return;
    const alive = await Promise.race([
      gen.chromium.session.send('Browser.getVersion').then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((r) => setTimeout(() => r(false), RESUME_CHECK_MS)),
    ]);
    if (alive) return;
    this.opts.log.warn({ generation: gen.id }, 'Chromium did not answer after the resume; replacing it');
    // The disconnect that follows relaunches it.
    void gen.chromium.kill();
  }

  /** A renderer was killed for memory within `ms` (a crash seen now is most likely that). */
  memoryKilledWithin(ms: number): boolean {
    return [...this.generations].some((g) => g.memory.killedWithin(ms));
  }

  /** For /healthz and metrics. */
  info(): {
    state: BrowserState;
    generation: number | null;
    sandbox: boolean | null;
    version: string | null;
    rendersOnBrowser: number;
    workspaces: number;
  } {
    const live = [...this.generations].find((g) => !g.retired);
    return {
      state: this.state,
      generation: live?.id ?? null,
      sandbox: this.sandboxed,
      version: this.chromeVersion,
      rendersOnBrowser: live?.renders ?? 0,
      workspaces: live?.pool.count ?? 0,
    };
  }

  /** PIDs of every Chromium main process this supervisor still owns (tests and memory sampling). */
  pids(): number[] {
    return [...this.generations].map((g) => g.chromium.pid).filter((p): p is number => typeof p === 'number');
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
    await this.proxy?.then(
      (p) => p.close(),
      () => undefined,
    );
  }

  private socksProxy(): Promise<SocksProxy> {
    if (!this.proxy) {
      const proxy = this.opts.early?.proxy ?? startSocksProxy({ guard: this.opts.guard });
      this.proxy = proxy.then((p) => {
        p.onRefused((host, port, reason) => {
          this.opts.metrics.blockedRequests.inc({ reason: 'connect' });
          this.opts.log.warn({ host: `${host}:${port}`, reason }, 'blocked connection');
        });
        return p;
      });
      this.proxy.catch(() => {
        this.proxy = null;
      });
    }
    return this.proxy;
  }

  private async launch(): Promise<Generation> {
    const wasCrash = this.state === 'relaunching';
    const started = performance.now();
    const { config, log, metrics } = this.opts;
    for (;;) {
      if (this.closing) fail({ kind: 'shutting-down' });
      try {
        const proxy = await this.socksProxy();
        // The Chromium main() spawned early, once: a relaunch spawns its own.
        const early = this.opts.early?.chromium;
        if (this.opts.early) this.opts.early = { proxy: this.opts.early.proxy };
        const chromium = await launchChromium(
          {
            ...spawnOptions(config, proxy.port),
            protocolTimeoutMs: config.renderTimeoutMs + 30_000,
            log,
          },
          early,
        );
        if (this.closing) {
          // Shut down while Chromium was starting: nobody will ever close this one otherwise.
          await chromium.kill();
          fail({ kind: 'shutting-down' });
        }
        const gen = await this.generationOf(chromium);
        this.generations.add(gen);
        chromium.connection.onDisconnect(() => this.onDisconnected(gen));
        this.sandboxed = chromium.sandboxed;
        this.chromeVersion = chromium.version;
        this.state = 'ready';
        this.consecutiveFailures = 0;
        metrics.browserLaunches.inc();
        log.info(
          {
            generation: gen.id,
            ms: Math.round(performance.now() - started),
            sandbox: chromium.sandboxed,
            relaunch: wasCrash,
          },
          'browser ready',
        );
        return gen;
      } catch (err) {
        if (this.closing) throw err;
        this.consecutiveFailures++;
        log.error({ err: errMessage(err), attempt: this.consecutiveFailures }, 'browser launch failed');
        if (this.consecutiveFailures >= 3) {
          this.state = 'failed';
          throw err;
        }
        await new Promise((r) => setTimeout(r, 250 * this.consecutiveFailures));
      }
    }
  }

  private async generationOf(chromium: Chromium): Promise<Generation> {
    const { config, log, metrics } = this.opts;
    const interception = await Interception.install(chromium.session, {
      unowned: () => metrics.blockedRequests.inc({ reason: 'target' }),
    }).catch(async (err: unknown) => {
      await chromium.kill();
      throw err;
    });
    const id = this.nextId++;
    const memory = new MemoryWatch({
      rootPid: chromium.pid ?? -1,
      renderBudgetBytes: config.renderMemoryBytes,
      treeBudgetBytes: config.memoryLimitBytes,
      images: this.images,
      log,
      onKill: (k) => {
        metrics.memoryKills.inc({ reason: k.reason });
        log.warn(
          { pid: k.pid, mb: Math.round(k.bytes / 2 ** 20), reason: k.reason },
          'renderer killed: over its memory budget',
        );
      },
    });
    const renderers = new RendererPids();
    const pool = new WorkspacePool({
      slots: config.concurrency,
      spares: SPARE_WORKSPACES,
      maxRenders: WORKSPACE_MAX_RENDERS,
      lingerMs: config.workspaceLingerMs,
      open: () =>
        Workspace.open({
          session: chromium.session,
          connection: chromium.connection,
          interception,
          viewport: VIEWPORT,
          dataWaitMs: Math.round(config.renderTimeoutMs / DATA_WAIT_SHARE),
          memory: { watch: memory, renderers, budgetBytes: config.renderMemoryBytes },
        }),
      onRetire: (reason) => {
        metrics.workspaceRetirements.inc();
        log.debug({ generation: id, reason }, 'workspace retired');
      },
      onSpareFailed: (err) => {
        log.warn(
          { generation: id, err: err instanceof Error ? err.message : String(err) },
          'spare workspace not opened',
        );
      },
    });
    if (chromium.pid !== null) memory.start();
    const prewarmed = pool
      .prewarm()
      .catch((err: unknown) => log.warn({ err: errMessage(err) }, 'could not open a spare workspace'));
    return { id, chromium, interception, pool, memory, renders: 0, leases: 0, retired: false, prewarmed };
  }

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
    gen.memory.stop();
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
    void gen.pool.close().catch(() => undefined);
    // Reap what is left of the old process tree.
    void gen.chromium.kill();
  }

  private async closeGeneration(gen: Generation): Promise<void> {
    this.generations.delete(gen);
    gen.retired = true;
    gen.memory.stop();
    await gen.pool.close().catch(() => undefined);
    // Browser.close lets Chromium shut down in order; one that does not within moments is killed.
    await gen.chromium.close();
    const exited = await Promise.race([
      gen.chromium.exited.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), CLOSE_GRACE_MS)),
    ]);
    if (!exited) await gen.chromium.kill();
  }
}

/** What a spawn of Chromium takes from the settings (a launch, and startEarly's spawn). */
function spawnOptions(config: BrowserSettings, socksProxyPort: number): SpawnOptions {
  return {
    chromePath: config.chromePath,
    sandbox: config.sandbox,
    javascript: config.javascript,
    renderMemoryMb: Math.round(config.renderMemoryBytes / 2 ** 20),
    socksProxyPort,
  };
}

/** A cold start's first moves, made before the rest of the appliance is even loaded. */
export interface EarlyStart {
  proxy: Promise<SocksProxy>;
  chromium?: Promise<Spawned>;
}

/**
 * Starts the SOCKS proxy and spawns Chromium at once, with nothing but the config and the
 * guard: Chromium then boots while Node loads the logger, the metrics and the HTTP
 * side (measured: process start → Chromium spawned, 580–1590 ms before).
 */
export function startEarly(config: SupervisorOptions['config'], guard: Pick<Guard, 'connectTo'>): EarlyStart {
  const proxy = startSocksProxy({ guard });
  const chromium = proxy.then((p) =>
    spawnChromium(spawnOptions(config, p.port), sandboxChoice(config.sandbox).trySandbox),
  );
  chromium.catch(() => undefined);
  return { proxy, chromium };
}

/** Chromium's launch is the slowest part of a cold start: callers begin it before anything else. */
export function launchBrowser(opts: SupervisorOptions): BrowserSupervisor {
  const browser = new BrowserSupervisor(opts);
  browser.start().catch(() => undefined);
  return browser;
}
