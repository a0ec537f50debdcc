import type { Protocol } from 'devtools-protocol';
import type { CdpSession } from './cdp.js';
import { LateReports } from './late-reports.js';

/**
 * The one place a request leaves Chromium: a single Fetch interception on the browser target
 * sees every request of every tab, frame, worker and service worker, once (one Node round
 * trip per request; the page-level and browser-level layers it replaces cost two). Each
 * request is routed by its frame or target id to the workspace that owns it, and the
 * workspace's current render decides (render/request-policy.ts). A request nobody owns does
 * not leave.
 *
 * A render's own page is also paused at its response (status and Location decide whether
 * there is a PDF at all: `interceptResponse`, asked for that one request only; a page of 1000
 * frames would otherwise pay a second round trip per frame), and every HTTP auth challenge is
 * cancelled: the page gets its 401, nobody's
 * credentials are offered, and Chromium's per-context auth cache (which nothing can clear)
 * stays empty.
 */

export interface PausedRequest {
  /** Fetch's id for this hop. */
  id: string;
  url: string;
  method: string;
  headers: Record<string, string>;
  resourceType: Protocol.Network.ResourceType;
  frameId: string;
  /** The request's id in the Network domain: the same for every hop of a redirect chain. */
  networkId: string | undefined;
  /** Set on a redirect hop: Fetch's id of the hop that was redirected. */
  redirectedRequestId: string | undefined;
  /** Set at the response stage. */
  status?: number;
  responseHeaders?: Protocol.Fetch.HeaderEntry[];
}

export type Decision =
  | { action: 'continue'; headers?: Record<string, string>; interceptResponse?: boolean }
  | { action: 'fulfill'; status: number; headers: Record<string, string | string[]>; body: Buffer }
  | { action: 'fail'; reason: Protocol.Network.ErrorReason };

export const REFUSE: Decision = { action: 'fail', reason: 'BlockedByClient' };
export const CONTINUE: Decision = { action: 'continue' };

/** Where a request came from, as far as its owner needs to know. */
export type Source =
  /** A frame of the owner's tab (in-process with its top-level frame). */
  | { kind: 'frame' }
  /** A cross-site frame (out of process), a worker, or anything else that is a target of its own. */
  | { kind: 'target'; type: string };

export interface InterceptionOwner {
  onRequest(req: PausedRequest, source: Source): Promise<Decision>;
  onDocumentResponse(req: PausedRequest, source: Source): Promise<Decision>;
  /** A page target that is not the owner's tab appeared in its context (it is closed at once). */
  strayPage(): void;
}

interface Claim {
  owner: InterceptionOwner;
  source: Source;
}

/** How long a request from a frame we have not heard of yet waits for its frame to be announced. */
const UNKNOWN_FRAME_WAIT_MS = 250;

export interface InterceptionEvents {
  /** A request was refused because nobody owned it (counted by the caller's metrics). */
  unowned(): void;
}

export class Interception {
  /** Frame and target ids claimed, waited for briefly when a request comes first. */
  private readonly claims = new LateReports<Claim>(UNKNOWN_FRAME_WAIT_MS);
  private readonly contexts = new Map<string, InterceptionOwner>();

  private constructor(
    private readonly session: CdpSession,
    private readonly events: InterceptionEvents,
  ) {}

  static async install(session: CdpSession, events: InterceptionEvents): Promise<Interception> {
    const interception = new Interception(session, events);
    session.on('Fetch.requestPaused', (e) => void interception.onPaused(e));
    session.on('Fetch.authRequired', (e) => void interception.onAuth(e));
    session.on('Target.targetCreated', (e) => interception.onTargetCreated(e.targetInfo));
    await Promise.all([
      session.send('Fetch.enable', {
        handleAuthRequests: true,
        patterns: [{ urlPattern: '*', requestStage: 'Request' }],
      }),
      // Pages only: popups are what is watched for (the headless shell refuses them at launch,
      // see chromium.ts; a full Chromium does not, and they are closed here as they appear).
      session.send('Target.setDiscoverTargets', { discover: true, filter: [{ type: 'page' }] }),
    ]);
    return interception;
  }

  /** A browser context is owned: targets in it that no frame claim covers (workers) route here. */
  claimContext(contextId: string, owner: InterceptionOwner): void {
    this.contexts.set(contextId, owner);
  }

  releaseContext(contextId: string): void {
    this.contexts.delete(contextId);
  }

  /** A frame or target id is owned; requests carrying it go to `owner`. */
  claim(id: string, owner: InterceptionOwner, source: Source): void {
    this.claims.set(id, { owner, source });
  }

  release(id: string, owner: InterceptionOwner): void {
    if (this.claims.peek(id)?.owner === owner) this.claims.delete(id);
  }

  private async onPaused(e: Protocol.Fetch.RequestPausedEvent): Promise<void> {
    const req: PausedRequest = {
      id: e.requestId,
      url: e.request.url,
      method: e.request.method,
      headers: e.request.headers as Record<string, string>,
      resourceType: e.resourceType,
      frameId: e.frameId,
      networkId: e.networkId,
      redirectedRequestId: e.redirectedRequestId,
    };
    const atResponse = e.responseStatusCode !== undefined || e.responseErrorReason !== undefined;
    if (atResponse) {
      req.status = e.responseStatusCode;
      req.responseHeaders = e.responseHeaders;
    }
    let verdict: Decision;
    try {
      const claim = await this.ownerOf(e.frameId);
      if (!claim) {
        this.events.unowned();
        verdict = REFUSE;
      } else {
        verdict = atResponse
          ? await claim.owner.onDocumentResponse(req, claim.source)
          : await claim.owner.onRequest(req, claim.source);
      }
    } catch {
      // Fail closed: a request we could not decide on does not leave.
      verdict = REFUSE;
    }
    await this.apply(e.requestId, verdict, atResponse).catch(() => undefined); // the request may be gone (tab closed)
  }

  private apply(requestId: string, v: Decision, atResponse: boolean): Promise<unknown> {
    switch (v.action) {
      case 'continue':
        if (atResponse) return this.session.send('Fetch.continueResponse', { requestId });
        return this.session.send('Fetch.continueRequest', {
          requestId,
          ...(v.headers ? { headers: toEntries(v.headers) } : {}),
          ...(v.interceptResponse ? { interceptResponse: true } : {}),
        });
      case 'fulfill':
        return this.session.send('Fetch.fulfillRequest', {
          requestId,
          responseCode: v.status,
          responseHeaders: toEntries(v.headers),
          body: v.body.toString('base64'),
        });
      case 'fail':
        return this.session.send('Fetch.failRequest', { requestId, errorReason: v.reason });
    }
  }

  /**
   * A window of an owned context that is not its tab: a render has one page target, so it is
   * closed the moment it appears and its context is never used again. (Announced before its
   * own tab is claimed, a new context's tab is not owned yet and is left alone.)
   */
  private onTargetCreated(t: Protocol.Target.TargetInfo): void {
    if (t.type !== 'page' || t.browserContextId === undefined) return;
    const owner = this.contexts.get(t.browserContextId);
    if (!owner || this.claims.peek(t.targetId)?.owner === owner) return;
    owner.strayPage();
    void this.session.send('Target.closeTarget', { targetId: t.targetId }).catch(() => undefined);
  }

  private async onAuth(e: Protocol.Fetch.AuthRequiredEvent): Promise<void> {
    await this.session
      .send('Fetch.continueWithAuth', { requestId: e.requestId, authChallengeResponse: { response: 'CancelAuth' } })
      .catch(() => undefined);
  }

  /**
   * The frame announcement (from the tab's own session) and the paused request (from the
   * browser session) travel separately, so a frame's first request can arrive first: it waits
   * briefly. Ids that are targets of their own (workers, service workers) are looked up.
   */
  private async ownerOf(id: string): Promise<Claim | undefined> {
    const claimed = await this.claims.get(id);
    if (claimed) return claimed;
    const info = await this.session.send('Target.getTargetInfo', { targetId: id }).then(
      (r) => r.targetInfo,
      () => undefined,
    );
    const owner = info?.browserContextId !== undefined ? this.contexts.get(info.browserContextId) : undefined;
    return owner && info ? { owner, source: { kind: 'target', type: info.type } } : undefined;
  }
}

function toEntries(h: Record<string, string | string[]>): Protocol.Fetch.HeaderEntry[] {
  const out: Protocol.Fetch.HeaderEntry[] = [];
  for (const [name, value] of Object.entries(h)) {
    if (Array.isArray(value)) for (const v of value) out.push({ name, value: v });
    else out.push({ name, value });
  }
  return out;
}
