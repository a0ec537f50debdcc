import type { Protocol } from 'devtools-protocol';
import type { CdpConnection, CdpSession } from './cdp.js';
import type { Identity } from '../security/credentials.js';
import {
  CONTINUE,
  REFUSE,
  type Interception,
  type InterceptionOwner,
  type PausedRequest,
  type Source,
  type Decision,
} from './interception.js';
import { InFlight, kindOf } from './in-flight.js';
import { LateReports } from './late-reports.js';
import { PAGE_SCRIPT } from './page-script.js';
import { abortable } from '../abort.js';
import type { GroupOver, MemoryGroup, MemoryWatch } from './memory-watch.js';
import type { RendererPids } from './renderer-pid.js';

/**
 * One tab in a browser context of its own, serving ONE identity for the context's whole life.
 *
 * Isolation by construction, not by reset: another identity never gets a context someone else
 * used. Clearing a context for the next user cannot be proven complete (popups, requests that
 * outlive their document, partitioned storage keys, whatever Chromium adds next); disposing it
 * takes every target, worker, storage key, cookie and pending request with it.
 * - A workspace is opened clean and kept as a spare until a render assigns it an identity
 *   (assign). From then on only that identity renders in it; retiring it is disposing it.
 * - Between two renders of its identity it is settled (settle): the document is replaced by an
 *   empty one, so none of its scripts, timers, workers or frames runs on; anything still in
 *   flight (a beacon, a keepalive fetch, a ping: they outlive their document) or any second page
 *   target retires it instead; the jar is reset to exactly the cookies the identity's requests
 *   carry.
 * - No request leaves between renders (no tenant): a redirect hop of a request a finished render
 *   started is refused, and so is a hop an earlier render started (request-policy.ts).
 *
 * Speed without sharing: a context and tab opened ahead of need (a spare) takes a render as fast
 * as a kept tab (measured here, invoice + print p50: kept tab 150 ms, spare 155 ms, a context and
 * tab opened on demand 637 ms): the renderer process of the new tab's initial empty document is
 * the one its first navigation uses.
 */

export type WorkspaceState = 'idle' | 'rendering' | 'closed';

/** What a request looks like from the tab that made it. */
export interface RequestFacts {
  source: Source;
  /** A navigation of the tab's top-level frame. */
  mainFrameNavigation: boolean;
  /** A navigation of any other frame. */
  subframeNavigation: boolean;
  /**
   * Made by the top-level frame's own document: not by a frame inside it (same-origin,
   * sandboxed or a third party's), not by a worker (whose requests Chromium pauses under its
   * owner's frame id: only the Network domain's report, on the worker's own session, tells
   * them apart). The top-level frame shows only the page asked for (its later navigations are
   * refused), so this is the page's own request. May wait briefly for that report.
   */
  fromPage(): Promise<boolean>;
}

/** The render currently using the workspace decides on its requests. */
export interface Tenant {
  onRequest(req: PausedRequest, facts: RequestFacts): Promise<Decision>;
  onDocumentResponse(req: PausedRequest, facts: RequestFacts): Promise<Decision>;
  /** A WebSocket was attempted (the launch lockdown fails it before any request check). */
  webSocketRefused(url: string): void;
  /** The top-level frame committed a document (also one without a request: about:blank, an error page). */
  mainFrameCommitted(url: string): void;
}

export interface WorkspaceDeps {
  session: CdpSession;
  connection: CdpConnection;
  interception: Interception;
  viewport: { width: number; height: number };
  /** How long a fetch or XHR still waiting for its answer holds the print (in-flight.ts). */
  dataWaitMs: number;
  /** The context's processes are held to one budget, RENDER_MEMORY_MB (memory-watch.ts). */
  memory: { watch: MemoryWatch; renderers: RendererPids; budgetBytes: number };
}

const PRINT_CHUNK = 1 << 20;
/**
 * A kept tab accumulates the garbage of the documents it showed: V8 and Blink collect it late
 * when the heap may grow (measured: 30-page reports, 48 MB after one, 160–170 MB after ten;
 * a forced collection brings it back to 56 MB in 90 ms). Past this much live-or-dead heap, a
 * collection is asked for as the render ends, off the request's path.
 */
const TIDY_HEAP_BYTES = 48 * 1024 * 1024;
/**
 * How long a paused request waits for the Network domain to say who made it. The report almost
 * always comes first; without one, the request is nobody's in particular.
 */
const MAKER_WAIT_MS = 250;
/** Bounds settling a workspace between two renders; past it the workspace is retired. */
const SETTLE_MS = 2000;
/**
 * After the empty document committed, the old one's ordinary requests are reported cancelled
 * within moments; what is still in flight after this long outlives its document by design.
 */
const ORPHAN_WAIT_MS = 200;

export class Workspace implements InterceptionOwner {
  state: WorkspaceState = 'idle';
  /** Identity.key of the one identity this workspace serves; null while it is a spare. */
  identityKey: string | null = null;
  renders = 0;
  /** Set when the workspace must not be used again (crash, cut-off command, a second page). */
  retired: string | null = null;
  readonly inFlight: InFlight;
  /** Called when a renderer of this tab dies (crash or memory kill) while it is in use. */
  onCrash: (() => void) | null = null;
  /** Called when the memory watch acts on this context (over its budget, or the machine's). */
  onMemory: ((over: GroupOver) => void) | null = null;
  private memoryGroup: MemoryGroup | null = null;

  private tenant: Tenant | null = null;
  private mediaChanged = false;
  private viewportChanged = false;
  /** Frames of the tab's own process (requests carrying their ids are this tab's). */
  private readonly frames = new Set<string>();
  /** Frames inside cross-site frames: never the main app's own. */
  private readonly foreignFrames = new Set<string>();
  private readonly children = new Map<string, CdpSession>();
  /** Children that are cross-site frames (their renderers count in this context's budget). */
  private readonly crossSiteFrames = new Set<string>();
  private mainLoaderId: string | undefined;
  /** Who made each request, by Network request id, as the Network domain reported it. */
  private readonly makers = new LateReports<'page' | 'other'>(MAKER_WAIT_MS);
  /** The loader whose document fired `load` last (Page.loadEventFired is the top frame's only). */
  private loadedLoaderId: string | undefined;
  private loadWaiters: Array<() => void> = [];

  private constructor(
    private readonly deps: WorkspaceDeps,
    readonly contextId: string,
    readonly targetId: string,
    private readonly page: CdpSession,
  ) {
    this.inFlight = new InFlight(deps.dataWaitMs);
  }

  static async open(deps: WorkspaceDeps): Promise<Workspace> {
    const { session } = deps;
    const { browserContextId } = await session.send('Target.createBrowserContext', { disposeOnDetach: true });
    try {
      const { targetId } = await session.send('Target.createTarget', { url: 'about:blank', browserContextId });
      const { sessionId } = await session.send('Target.attachToTarget', { targetId, flatten: true });
      const page = deps.connection.session(sessionId);
      if (!page) throw new Error('no session for the new tab');
      const ws = new Workspace(deps, browserContextId, targetId, page);
      await ws.setUp();
      return ws;
    } catch (err) {
      await session.send('Target.disposeBrowserContext', { browserContextId }).catch(() => undefined);
      throw err;
    }
  }

  private async setUp(): Promise<void> {
    const { interception, memory } = this.deps;
    // Every renderer of the context counts against one budget: the tab's, and those of its
    // cross-site frames where Chromium runs them apart (full Chromium does; the headless shell
    // keeps them in the tab's process). Looked up again as such frames come and go.
    this.memoryGroup = memory.watch.register(this.contextId, memory.budgetBytes, (over) => {
      this.retire(`memory: ${over.reason}`);
      this.onMemory?.(over);
    });
    interception.claimContext(this.contextId, this);
    interception.claim(this.targetId, this, { kind: 'frame' });
    this.frames.add(this.targetId);
    this.listen(this.page, true);
    await Promise.all([
      this.page.send('Page.enable'),
      this.page.send('Network.enable', { maxTotalBufferSize: 0, maxResourceBufferSize: 0 }),
      this.page.send('Inspector.enable'),
      this.page.send('Page.addScriptToEvaluateOnNewDocument', { source: PAGE_SCRIPT }),
      this.page.send('Emulation.setDeviceMetricsOverride', {
        ...this.deps.viewport,
        deviceScaleFactor: 1,
        mobile: false,
      }),
      this.page.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: true, flatten: true }),
    ]);
    // Until a cross-site frame attaches, the context's one renderer is the tab's: the watch
    // holds a renderer in no group to the same budget, so no lookup is needed yet.
  }

  /** Off the request path: a lookup is a short trace (renderer-pid.ts), ~17 ms. */
  private findRenderers(): void {
    this.deps.memory.renderers.of(this.page).then(
      (pids) => {
        if (this.state !== 'closed') this.memoryGroup?.setPids(pids);
      },
      () => undefined, // the tab went away, or tracing failed: its renderers stay watched one by one
    );
  }

  /** Events of the tab's own session (`top`) or of a cross-site frame's or worker's session. */
  private listen(s: CdpSession, top: boolean): void {
    // Network request ids are unique across the browser, and one request's events may come on
    // two sessions (a frame's navigation starts in its parent's, finishes in its own).
    s.on('Network.requestWillBeSent', (e: Protocol.Network.RequestWillBeSentEvent) => {
      // A redirect continues the same request; data: URLs never touch the network.
      if (e.redirectResponse || e.request.url.startsWith('data:')) return;
      this.inFlight.start(e.requestId, kindOf(e.type));
      this.makers.set(e.requestId, top && e.frameId === this.targetId ? 'page' : 'other');
    });
    s.on('Network.webSocketCreated', (e: Protocol.Network.WebSocketCreatedEvent) =>
      this.tenant?.webSocketRefused(e.url),
    );
    // An auth challenge is cancelled (interception.ts) and the page gets its 401; Chromium then never
    // reports the end of that response's body if the page does not read it (measured), which
    // would hold the print until RENDER_TIMEOUT. Its headers are its end for us.
    s.on('Network.responseReceived', (e: Protocol.Network.ResponseReceivedEvent) => {
      if (e.response.status === 401 || e.response.status === 407) this.inFlight.finish(e.requestId);
      else this.inFlight.answered(e.requestId);
    });
    s.on('Network.loadingFinished', (e: Protocol.Network.LoadingFinishedEvent) => this.inFlight.finish(e.requestId));
    s.on('Network.loadingFailed', (e: Protocol.Network.LoadingFailedEvent) => this.inFlight.finish(e.requestId));
    s.on('Inspector.targetCrashed', () => {
      this.retire('renderer crashed');
      this.onCrash?.();
    });
    s.on('Target.attachedToTarget', (e: Protocol.Target.AttachedToTargetEvent) => void this.adopt(e));
    s.on('Target.detachedFromTarget', (e: Protocol.Target.DetachedFromTargetEvent) => {
      const id = e.targetId ?? [...this.children].find(([, child]) => child.sessionId === e.sessionId)?.[0];
      if (id !== undefined) {
        if (this.crossSiteFrames.delete(id)) this.findRenderers();
        this.children.delete(id);
        this.deps.interception.release(id, this);
      }
    });
    if (top) {
      s.on('Page.frameAttached', (e: Protocol.Page.FrameAttachedEvent) => {
        this.frames.add(e.frameId);
        this.deps.interception.claim(e.frameId, this, { kind: 'frame' });
      });
      s.on('Page.frameNavigated', (e: Protocol.Page.FrameNavigatedEvent) => {
        if (e.frame.id !== this.targetId) return;
        this.mainLoaderId = e.frame.loaderId;
        this.tenant?.mainFrameCommitted(e.frame.url);
      });
      s.on('Page.frameDetached', (e: Protocol.Page.FrameDetachedEvent) => {
        // A frame swapped out of the process keeps its id: the cross-site target claims it.
        if (e.reason === 'swap') return;
        this.frames.delete(e.frameId);
        this.deps.interception.release(e.frameId, this);
      });
      s.on('Page.loadEventFired', () => this.loaded());
      // A document whose own navigation of the top-level frame was refused stops loading where
      // the navigation began (measured: parsing stops there) and never fires `load`.
      s.on('Page.frameStoppedLoading', (e: Protocol.Page.FrameStoppedLoadingEvent) => {
        if (e.frameId === this.targetId) this.loaded();
      });
    } else {
      // Frames inside a cross-site frame: route their requests here, as foreign frames.
      s.on('Page.frameAttached', (e: Protocol.Page.FrameAttachedEvent) => {
        this.foreignFrames.add(e.frameId);
        this.deps.interception.claim(e.frameId, this, { kind: 'target', type: 'iframe' });
      });
    }
  }

  /** The top-level frame's current document finished loading. */
  private loaded(): void {
    this.loadedLoaderId = this.mainLoaderId;
    const waiters = this.loadWaiters;
    this.loadWaiters = [];
    for (const w of waiters) w();
  }

  /** A cross-site frame or a worker of this tab: set it up before it may run, then let it go. */
  private async adopt(e: Protocol.Target.AttachedToTargetEvent): Promise<void> {
    const child = this.deps.connection.session(e.sessionId);
    const { targetId, type } = e.targetInfo;
    if (!child) return;
    this.children.set(targetId, child);
    this.deps.interception.claim(targetId, this, { kind: 'target', type });
    this.listen(child, false);
    // Cross-site frames and dedicated workers are the page's: watched like it. Anything else
    // (a service worker the page registers) is let go at once; its requests are refused by
    // type (request-policy.ts), which makes the registration fail.
    const setUp: Array<Promise<unknown>> = [];
    if (type === 'iframe') {
      setUp.push(
        child.send('Page.enable'),
        child.send('Inspector.enable'),
        child.send('Page.addScriptToEvaluateOnNewDocument', { source: PAGE_SCRIPT }),
      );
    }
    if (type === 'iframe' || type === 'worker') {
      setUp.push(
        child.send('Network.enable', { maxTotalBufferSize: 0, maxResourceBufferSize: 0 }),
        child.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: true, flatten: true }),
      );
    }
    await Promise.all(setUp).catch(() => undefined);
    await child.send('Runtime.runIfWaitingForDebugger').catch(() => undefined);
    if (type === 'iframe') {
      this.crossSiteFrames.add(targetId);
      this.findRenderers();
    }
  }

  // --- interception ----------------------------------------------------------------------

  async onRequest(req: PausedRequest, source: Source): Promise<Decision> {
    const tenant = this.tenant;
    if (!tenant) return REFUSE; // nothing may leave between renders
    return tenant.onRequest(req, this.factsOf(req, source));
  }

  async onDocumentResponse(req: PausedRequest, source: Source): Promise<Decision> {
    const tenant = this.tenant;
    if (!tenant) return CONTINUE; // its request was refused; nothing to decide
    return tenant.onDocumentResponse(req, this.factsOf(req, source));
  }

  private factsOf(req: PausedRequest, source: Source): RequestFacts {
    const navigation = req.resourceType === 'Document';
    const topFrame = source.kind === 'frame' && req.frameId === this.targetId;
    return {
      source,
      mainFrameNavigation: navigation && topFrame,
      subframeNavigation: navigation && !topFrame,
      fromPage: async () =>
        topFrame && !navigation && req.networkId !== undefined && (await this.makers.get(req.networkId)) === 'page',
    };
  }

  // --- the render's view -------------------------------------------------------------

  begin(tenant: Tenant): void {
    this.state = 'rendering';
    this.tenant = tenant;
    this.renders++;
  }

  end(): void {
    // Commands on a session run in order: this reset lands before the next render's first.
    if (this.mediaChanged) void this.page.send('Emulation.setEmulatedMedia', { media: '' }).catch(() => undefined);
    this.mediaChanged = false;
    if (this.viewportChanged)
      void this.page
        .send('Emulation.setDeviceMetricsOverride', { ...this.deps.viewport, deviceScaleFactor: 1, mobile: false })
        .catch(() => undefined);
    this.viewportChanged = false;
    this.tenant = null;
    this.onCrash = null;
    this.onMemory = null;
    this.inFlight.abandon();
    if (this.state === 'rendering') this.state = 'idle';
  }

  private async tidy(): Promise<void> {
    const h = await this.page.send('Runtime.getHeapUsage').catch(() => null);
    if (h && h.totalSize + h.embedderHeapUsedSize > TIDY_HEAP_BYTES)
      await this.page.send('HeapProfiler.collectGarbage').catch(() => undefined);
  }

  retire(reason: string): void {
    this.retired ??= reason;
  }

  /** Navigates the top-level frame and resolves once the resulting document fired `load`. */
  async navigate(url: string): Promise<void> {
    this.inFlight.clear();
    this.makers.clear();
    await this.load(url);
  }

  /**
   * Loads `url` in the top-level frame and waits for that document's own `load` (by its loader
   * id: events of the document before it can still be arriving). The top-level frame shows no
   * other document of the page's choosing: its later navigations are refused (request-policy.ts).
   */
  private async load(url: string): Promise<void> {
    const r = await this.page.send('Page.navigate', { url });
    if (r.errorText) throw new NavigationError(r.errorText);
    const loader = r.loaderId;
    while (this.loadedLoaderId !== loader) await new Promise<void>((resolve) => this.loadWaiters.push(resolve));
  }

  /** Runs `expression` in the top-level frame; the page's own script settings do not apply. */
  async evaluate<T>(expression: string, awaitPromise = false): Promise<T> {
    const r = await this.page.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise });
    if (r.exceptionDetails) throw new Error(r.exceptionDetails.exception?.description ?? r.exceptionDetails.text);
    return r.result.value as T;
  }

  /** CSS media for the rest of this render (`screen` for pages that print their screen styles). */
  async emulateMedia(media: 'screen' | 'print'): Promise<void> {
    this.mediaChanged = true;
    await this.page.send('Emulation.setEmulatedMedia', { media });
  }

  /** Viewport (CSS px) and device scale factor for the rest of this render (images). */
  async setViewport(viewport: { width: number; height: number }, deviceScaleFactor: number): Promise<void> {
    this.viewportChanged = true;
    await this.page.send('Emulation.setDeviceMetricsOverride', { ...viewport, deviceScaleFactor, mobile: false });
  }

  async layoutMetrics(): Promise<Protocol.Page.GetLayoutMetricsResponse> {
    return this.page.send('Page.getLayoutMetrics');
  }

  /** An image of the page, encoded by Chromium. */
  async capture(params: Protocol.Page.CaptureScreenshotRequest): Promise<Buffer> {
    const { data } = await this.page.send('Page.captureScreenshot', params);
    return Buffer.from(data, 'base64');
  }

  /** Prints and yields the PDF as Chromium streams it: the document is never held whole here. */
  async print(params: Omit<Protocol.Page.PrintToPDFRequest, 'transferMode'>): Promise<AsyncIterable<Buffer>> {
    const { stream } = await this.page.send('Page.printToPDF', { ...params, transferMode: 'ReturnAsStream' });
    if (!stream) throw new Error('printToPDF returned no stream');
    return readStream(this.page, stream);
  }

  // --- identity ----------------------------------------------------------------------

  /** Gives this spare to `identity` for good: its cookies go into the jar of `origin`. */
  async assign(identity: Identity, origin: string): Promise<void> {
    if (this.identityKey !== null) throw new Error('a workspace serves one identity');
    this.identityKey = identity.key;
    await setJarCookies(this.deps.session, this.contextId, origin, identity);
  }

  /**
   * Readies the workspace for its identity's next render, or throws (the caller retires it):
   * the document goes, nothing of it may still be in flight, the render's page is the context's
   * only page, and the jar holds exactly the identity's cookies again.
   */
  async settle(identity: Identity, origin: string): Promise<void> {
    if (identity.key !== this.identityKey) throw new Error('a workspace serves one identity');
    const timer = new AbortController();
    const t = setTimeout(() => timer.abort(), SETTLE_MS);
    try {
      await abortable(this.settleSteps(identity, origin), timer.signal).catch((err: unknown) => {
        throw timer.signal.aborted ? new Error(`not settled within ${SETTLE_MS} ms`) : err;
      });
    } finally {
      clearTimeout(t);
    }
  }

  private async settleSteps(identity: Identity, origin: string): Promise<void> {
    const { session } = this.deps;
    // 1. A script still running (a loop started after the print) would hold the navigation.
    void this.page.send('Runtime.terminateExecution').catch(() => undefined);
    // 2. The empty document: the old one's timers, workers, frames and requests end with it.
    //    Waiting for its `load` also means no event of it can reach the next render.
    await this.load('about:blank');
    await this.tidy();
    // 3. What outlives its document by design (sendBeacon, keepalive fetch, <a ping>) must not
    //    land in this context later: such a context is disposed, its requests with it.
    if (!(await this.inFlight.quietWithin(ORPHAN_WAIT_MS))) throw new Error('requests of the last page outlived it');
    // 4. One page target: a window the render did not account for retires the context.
    const { targetInfos } = await session.send('Target.getTargets');
    const others = targetInfos.filter(
      (t) => t.browserContextId === this.contextId && t.targetId !== this.targetId && t.type === 'page',
    );
    if (others.length > 0) throw new Error(`${others.length} other page(s) in the context`);
    // 5. The jar: exactly what this identity's requests carry, whatever the page set.
    await session.send('Storage.clearCookies', { browserContextId: this.contextId });
    await setJarCookies(session, this.contextId, origin, identity);
  }

  /** A page target other than the tab appeared in this context (a popup the launch flags did not stop). */
  strayPage(): void {
    this.retire('a second page appeared in the context');
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.tenant = null;
    this.inFlight.abandon();
    const { interception, session } = this.deps;
    this.memoryGroup?.release();
    interception.releaseContext(this.contextId);
    interception.release(this.targetId, this);
    for (const id of this.frames.keys()) interception.release(id, this);
    for (const id of this.foreignFrames) interception.release(id, this);
    for (const id of this.children.keys()) interception.release(id, this);
    await session.send('Target.disposeBrowserContext', { browserContextId: this.contextId }).catch(() => undefined);
  }
}

export class NavigationError extends Error {}

async function* readStream(session: CdpSession, handle: string): AsyncGenerator<Buffer> {
  try {
    for (;;) {
      const r = await session.send('IO.read', { handle, size: PRINT_CHUNK });
      if (r.data.length > 0) yield Buffer.from(r.data, r.base64Encoded ? 'base64' : 'utf8');
      if (r.eof) return;
    }
  } finally {
    await session.send('IO.close', { handle }).catch(() => undefined);
  }
}

/**
 * The user's cookies, as the main app's own: host-only, path /, strict, HttpOnly (the page's
 * script never saw them in the user's browser either), Secure on https. One at a time when the
 * jar refuses the batch, so one odd cookie does not cost the user their session.
 */
async function setJarCookies(
  session: CdpSession,
  browserContextId: string,
  origin: string,
  identity: Identity,
): Promise<void> {
  const u = new URL(origin);
  const secure = u.protocol === 'https:';
  // With origin-bound cookies the jar matches scheme and port too; it does not infer them from `url`.
  const sourcePort = Number(u.port || (secure ? 443 : 80));
  const sourceScheme = secure ? ('Secure' as const) : ('NonSecure' as const);
  if (identity.cookies.length === 0) return;
  const cookies = identity.cookies.map((c) => ({
    name: c.name,
    value: c.value,
    url: `${origin}/`,
    path: '/',
    sameSite: 'Strict' as const,
    httpOnly: true,
    secure,
    sourcePort,
    sourceScheme,
  }));
  const ok = await session.send('Storage.setCookies', { browserContextId, cookies }).then(
    () => true,
    () => false,
  );
  if (ok) return;
  for (const c of cookies)
    await session.send('Storage.setCookies', { browserContextId, cookies: [c] }).catch(() => undefined);
}
