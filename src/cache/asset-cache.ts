import CachePolicy from 'http-cache-semantics';
import { abortable } from '../abort.js';

/**
 * One in-memory cache of public sub-resources (stylesheets, images, fonts, scripts) shared by
 * every render and every identity. Workspaces are kept per identity and their HTTP caches are
 * cleared when they change hands, so without this each user's first PDF re-downloads the
 * main app's assets.
 *
 * It behaves as a *shared* HTTP cache (RFC 9111, via http-cache-semantics) with stricter rules
 * on top: anything that might be personal is never stored, and responses only ever move between
 * requests through a stored entry that passed those rules (never handed directly from one
 * in-flight request to another). A request carrying credentials (the user's cookies,
 * Authorization, any forwarded identity header) stores, and is served, only responses whose
 * origin declared them public (`public` or `s-maxage`, RFC 9111 §3.5): a response stored from
 * an anonymous render is not what a signed-in user would have been sent.
 */

export interface AssetRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  /** True when the request carries the user's identity; credential headers imply it. */
  credentialed?: boolean;
}

export interface AssetResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export type Fetcher = (url: string, headers: Record<string, string>, signal?: AbortSignal) => Promise<AssetResponse>;

/**
 * - `hit`: served from the cache without contacting upstream (also when a concurrent request's
 *   fetch produced the entry).
 * - `revalidated`: upstream answered a conditional request with 304; the cached body was served.
 * - `stored`: fetched from upstream and stored.
 * - `miss`: fetched from upstream, not storable.
 * - `bypass`: not a cacheable request (non-GET); fetched without consulting the cache.
 */
export type CacheOutcome = 'hit' | 'miss' | 'revalidated' | 'stored' | 'bypass';

export interface AssetCacheOptions {
  /** Total stored body bytes; least recently used entries are evicted beyond it. */
  maxBytes: number;
  maxEntryBytes: number;
  /** Millisecond clock, injectable for tests. */
  now?: () => number;
}

type Headers = Record<string, string>;
type Policy = CachePolicy;
type PolicyClass = typeof CachePolicy;

interface Entry {
  readonly url: string;
  policy: Policy;
  readonly body: Buffer;
  /** Lower-cased field names from the response's Vary. */
  readonly varyFields: readonly string[];
  /** The values those fields had in the request that produced the entry. */
  readonly variant: Readonly<Record<string, string | undefined>>;
  /** The origin declared it shareable (`public`, `s-maxage`): requests with credentials may use it. */
  shareable: boolean;
}

interface Flight {
  readonly url: string;
  readonly headers: Headers;
  readonly signal: AbortSignal | undefined;
  /** Resolves to the entry this fetch stored or refreshed, if it produced a shareable one. */
  done: Promise<Entry | undefined>;
}

interface Ctx {
  readonly url: string;
  /** As given by the caller, for the upstream fetch. */
  readonly rawHeaders: Headers;
  /** Lower-cased keys, credentials included (revalidation requests go upstream as this user). */
  readonly headers: Headers;
  /** Lower-cased keys, credentials removed: what a stored policy may remember. */
  readonly sanitized: Headers;
  readonly credentialed: boolean;
}

interface Result {
  response: AssetResponse;
  outcome: CacheOutcome;
  produced?: Entry;
}

const ELIGIBLE_TYPES = new Set(['stylesheet', 'image', 'font', 'script', 'media']);
const CREDENTIAL_HEADERS = ['cookie', 'authorization', 'proxy-authorization'];
/** A response that varies on these is by definition per-user (or unmatchable). */
const FORBIDDEN_VARY = new Set(['cookie', 'authorization', 'proxy-authorization', '*']);
/** Failures worth keeping a stale entry through (the next request retries the revalidation). */
const SERVER_ERRORS = new Set([500, 502, 503, 504]);
/**
 * How many other requests' fetches a request waits for before fetching itself. More than one
 * helps when the first fetch turned out to be a different Vary variant; the bound keeps a
 * request from queueing behind an endless chain of non-matching fetches.
 */
const MAX_COALESCE_WAITS = 3;
/** How long (and for how many URLs) to remember that a URL's responses cannot be shared. */
const UNSHAREABLE_TTL_MS = 60_000;
const UNSHAREABLE_MAX_URLS = 1024;

export class AssetCache {
  private readonly maxBytes: number;
  private readonly maxEntryBytes: number;
  private readonly now: () => number;
  private readonly Policy: PolicyClass;

  /** Insertion order is recency order: first is least recently used. */
  private readonly lru = new Set<Entry>();
  private readonly byUrl = new Map<string, Entry[]>();
  private readonly flights = new Set<Flight>();
  /**
   * URL -> until when its last upstream response was not storable. Waiting on another
   * request's fetch of such a URL is pure delay (its response cannot be shared), so requests
   * fetch in parallel instead. Affects only waiting, never what is stored.
   */
  private readonly unshareable = new Map<string, number>();
  private bytes = 0;
  /** Bumped by clear() so fetches that started before it do not repopulate the cache. */
  private generation = 0;

  constructor(opts: AssetCacheOptions) {
    this.maxBytes = Math.max(0, opts.maxBytes);
    this.maxEntryBytes = Math.max(0, Math.min(opts.maxEntryBytes, opts.maxBytes));
    this.now = opts.now ?? Date.now;
    this.Policy = clockedPolicy(this.now);
  }

  /**
   * True for requests worth routing through the cache: GET, and a resource type of
   * stylesheet/image/font/script/media.
   */
  static eligible(method: string, resourceType: string): boolean {
    return method.toUpperCase() === 'GET' && ELIGIBLE_TYPES.has(resourceType.toLowerCase());
  }

  /**
   * Serve from cache, revalidate, or fetch via `fetcher`; stores what may be stored.
   * Fetcher errors (and aborts of `signal`) reject; nothing an upstream sends makes this throw.
   * A returned body may be shared with other callers: treat it as read-only.
   */
  async get(
    req: AssetRequest,
    fetcher: Fetcher,
    signal?: AbortSignal,
  ): Promise<{ response: AssetResponse; outcome: CacheOutcome }> {
    if (req.method.toUpperCase() !== 'GET') {
      return { response: await fetcher(req.url, req.headers, signal), outcome: 'bypass' };
    }
    const ctx = this.context(req);
    // A request with credentials only ever uses what the origin declared public; and only
    // such a response is stored from it (RFC 9111 §3.5).
    const usable = (e: Entry | undefined): e is Entry => e !== undefined && (!ctx.credentialed || e.shareable);

    for (let waits = 0; ; waits++) {
      const found = this.lookup(ctx);
      const entry = usable(found) ? found : undefined;
      if (entry && entry.policy.satisfiesWithoutRevalidation(this.policyRequest(ctx, ctx.headers))) {
        return this.serveHit(entry);
      }
      const flight = waits < MAX_COALESCE_WAITS ? this.findFlight(ctx) : undefined;
      if (!flight) {
        const { response, outcome } = await this.fetchUpstream(ctx, entry, fetcher, signal);
        return { response, outcome };
      }
      let produced: Entry | undefined;
      try {
        produced = await abortable(flight.done, signal);
      } catch (err) {
        // Another request's abort is not our failure: go again (likely fetching ourselves).
        if (signal?.aborted || !flight.signal?.aborted) throw err;
        continue;
      }
      // Fetched from upstream after this request arrived, so it is as fresh as our own fetch
      // would be (RFC 9111 §4 collapsed requests), even when the policy says "always revalidate".
      if (usable(produced) && variantMatches(produced, ctx.headers)) return this.serveHit(produced);
    }
  }

  /** Drops every entry (after a resume: freshness was judged by a clock that stood still). */
  clear(): void {
    this.lru.clear();
    this.byUrl.clear();
    this.bytes = 0;
    this.unshareable.clear();
    this.generation++;
  }

  private context(req: AssetRequest): Ctx {
    const headers = lowerCaseKeys(req.headers);
    const sanitized = { ...headers };
    for (const name of CREDENTIAL_HEADERS) delete sanitized[name];
    // The flag comes from the caller, but a credential header is proof enough on its own.
    const credentialed = req.credentialed || CREDENTIAL_HEADERS.some((name) => name in headers);
    return { url: req.url, rawHeaders: req.headers, headers, sanitized, credentialed };
  }

  private policyRequest(ctx: Ctx, headers: Headers): CachePolicy.Request {
    return { url: ctx.url, method: 'GET', headers };
  }

  /** The most recently stored entry for this URL whose Vary selection matches the request. */
  private lookup(ctx: Ctx): Entry | undefined {
    const list = this.byUrl.get(ctx.url);
    if (!list) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      if (variantMatches(list[i], ctx.headers)) return list[i];
    }
    return undefined;
  }

  private findFlight(ctx: Ctx): Flight | undefined {
    const until = this.unshareable.get(ctx.url);
    if (until !== undefined && until > this.now()) return undefined;
    // Before any response is known the Vary fields are unknown, so any fetch of the URL is a
    // candidate; once entries exist, their Vary fields tell which fetches are another variant.
    const known = new Set<string>();
    for (const entry of this.byUrl.get(ctx.url) ?? []) for (const f of entry.varyFields) known.add(f);
    for (const flight of this.flights) {
      if (flight.url !== ctx.url) continue;
      if ([...known].every((f) => flight.headers[f] === ctx.headers[f])) return flight;
    }
    return undefined;
  }

  private serveHit(entry: Entry): { response: AssetResponse; outcome: CacheOutcome } {
    this.touch(entry);
    return { response: this.cachedResponse(entry.policy, entry.body), outcome: 'hit' };
  }

  /** Stored headers minus hop-by-hop ones, with Age/Date brought up to date. */
  private cachedResponse(policy: Policy, body: Buffer): AssetResponse {
    const headers = stringHeaders(policy.responseHeaders());
    delete headers['set-cookie'];
    return { status: 200, headers, body };
  }

  private fetchUpstream(
    ctx: Ctx,
    entry: Entry | undefined,
    fetcher: Fetcher,
    signal: AbortSignal | undefined,
  ): Promise<Result> {
    const generation = this.generation;
    const flight: Flight = { url: ctx.url, headers: ctx.headers, signal, done: Promise.resolve(undefined) };
    // Registered before the fetcher runs, so the `finally` below always finds it to remove.
    this.flights.add(flight);
    const work = (async (): Promise<Result> => {
      try {
        if (entry && hasValidators(entry.policy)) {
          return await this.revalidate(ctx, entry, fetcher, signal, generation);
        }
        return await this.fetchFull(ctx, fetcher, signal, generation);
      } finally {
        this.flights.delete(flight);
      }
    })();
    flight.done = work.then((r) => r.produced);
    // Nobody may be waiting on this flight; its failure is reported through `work`.
    flight.done.catch(() => {});
    return work;
  }

  private async fetchFull(
    ctx: Ctx,
    fetcher: Fetcher,
    signal: AbortSignal | undefined,
    generation: number,
  ): Promise<Result> {
    const response = await fetcher(ctx.url, ctx.rawHeaders, signal);
    const produced = this.store(ctx, response, generation);
    if (!produced) this.markUnshareable(ctx.url);
    return { response, outcome: produced ? 'stored' : 'miss', produced };
  }

  private async revalidate(
    ctx: Ctx,
    entry: Entry,
    fetcher: Fetcher,
    signal: AbortSignal | undefined,
    generation: number,
  ): Promise<Result> {
    const conditional = stringHeaders(entry.policy.revalidationHeaders(this.policyRequest(ctx, ctx.headers)));
    const response = await fetcher(ctx.url, conditional, signal);
    const status = response.status;
    const resHeaders = lowerCaseKeys(response.headers ?? {});

    if (status === 304 || SERVER_ERRORS.has(status)) {
      let update: CachePolicy.RevalidationPolicy | undefined;
      try {
        update = entry.policy.revalidatedPolicy(this.policyRequest(ctx, ctx.sanitized), {
          status,
          headers: resHeaders,
        });
      } catch {
        update = undefined;
      }
      if (update && status !== 304 && !update.modified) {
        // stale-if-error: the origin allowed serving this copy while it is failing.
        return this.serveHit(entry);
      }
      if (update && status === 304 && update.matches) {
        return this.applyNotModified(ctx, entry, update.policy, generation);
      }
      if (status === 304) {
        // A 304 whose validator is not the one we hold says nothing about our body.
        this.remove(entry);
        return this.fetchFull(ctx, fetcher, signal, generation);
      }
      // Plain upstream failure: keep the stale entry for the next attempt, pass the error on.
      return { response, outcome: 'miss' };
    }

    const produced = this.store(ctx, response, generation);
    // Whatever came back supersedes the stale copy, stored or not.
    if (!produced) {
      this.remove(entry);
      this.markUnshareable(ctx.url);
    }
    return { response, outcome: produced ? 'stored' : 'miss', produced };
  }

  private applyNotModified(ctx: Ctx, entry: Entry, policy: Policy, generation: number): Result {
    const response = this.cachedResponse(policy, entry.body);
    // The 304 may have changed what the headers allow (e.g. now `private`): the body is still
    // right for this requester, but it stays cached only if the merged response passes the rules.
    const merged = policy.toObject().resh;
    const keep =
      generation === this.generation &&
      this.lru.has(entry) &&
      this.mayStore(policy, 200, stringHeaders(merged), entry.body.length) &&
      (!ctx.credentialed || declaresPublic(stringHeaders(merged)));
    if (!keep) {
      this.remove(entry);
      this.markUnshareable(ctx.url);
      return { response, outcome: 'revalidated' };
    }
    entry.policy = policy;
    entry.shareable = declaresPublic(stringHeaders(merged));
    this.touch(entry);
    return { response, outcome: 'revalidated', produced: entry };
  }

  /** Stores the response if every rule allows it; returns the new entry. */
  private store(ctx: Ctx, response: AssetResponse, generation: number): Entry | undefined {
    if (generation !== this.generation) return undefined;
    try {
      const headers = lowerCaseKeys(response.headers ?? {});
      const body = response.body;
      if (!Buffer.isBuffer(body)) return undefined;
      const policy = new this.Policy(
        this.policyRequest(ctx, ctx.sanitized),
        { status: response.status, headers },
        { shared: true },
      );
      if (!this.mayStore(policy, response.status, headers, body.length)) return undefined;
      if (ctx.credentialed && !declaresPublic(headers)) return undefined;
      // Fresh for no time and nothing to revalidate with: storing would only cost memory.
      if (policy.timeToLive() <= 0 && !hasValidators(policy)) return undefined;

      const varyFields = parseVary(headers['vary']);
      const variant: Record<string, string | undefined> = {};
      for (const f of varyFields) variant[f] = ctx.headers[f];
      const entry: Entry = {
        url: ctx.url,
        policy,
        body: ownBuffer(body),
        varyFields,
        variant,
        shareable: declaresPublic(headers),
      };

      // The new response replaces whatever this request would have selected.
      for (const old of [...(this.byUrl.get(ctx.url) ?? [])]) {
        if (variantMatches(old, ctx.headers)) this.remove(old);
      }
      this.insert(entry);
      this.unshareable.delete(ctx.url);
      return this.lru.has(entry) ? entry : undefined;
    } catch {
      // Headers odd enough to trip the policy parser: just do not cache.
      return undefined;
    }
  }

  private mayStore(policy: Policy, status: number, headers: Headers, size: number): boolean {
    if (status !== 200 || !policy.storable()) return false;
    if (size > this.maxEntryBytes) return false;
    if ('set-cookie' in headers) return false;
    const directives = cacheControl(headers['cache-control']);
    // http-cache-semantics already refuses these for a shared cache; restated so no option or
    // library change can ever let a personal response in.
    if (directives.has('private') || directives.has('no-store')) return false;
    if (parseVary(headers['vary']).some((f) => FORBIDDEN_VARY.has(f))) return false;
    return true;
  }

  private markUnshareable(url: string): void {
    this.unshareable.delete(url);
    this.unshareable.set(url, this.now() + UNSHAREABLE_TTL_MS);
    if (this.unshareable.size > UNSHAREABLE_MAX_URLS) {
      const oldest = this.unshareable.keys().next().value;
      if (oldest !== undefined) this.unshareable.delete(oldest);
    }
  }

  private insert(entry: Entry): void {
    const list = this.byUrl.get(entry.url);
    if (list) list.push(entry);
    else this.byUrl.set(entry.url, [entry]);
    this.lru.add(entry);
    this.bytes += entry.body.length;
    for (const victim of this.lru) {
      if (this.bytes <= this.maxBytes) break;
      this.remove(victim);
    }
  }

  private remove(entry: Entry): void {
    if (!this.lru.delete(entry)) return;
    this.bytes -= entry.body.length;
    const list = this.byUrl.get(entry.url);
    if (!list) return;
    const rest = list.filter((e) => e !== entry);
    if (rest.length) this.byUrl.set(entry.url, rest);
    else this.byUrl.delete(entry.url);
  }

  private touch(entry: Entry): void {
    if (this.lru.delete(entry)) this.lru.add(entry);
  }
}

/** http-cache-semantics reads the time from `now()`; tests need it to follow the injected clock. */
function clockedPolicy(now: () => number): PolicyClass {
  return class ClockedCachePolicy extends CachePolicy {
    now(): number {
      return now();
    }
  };
}

function declaresPublic(headers: Headers): boolean {
  const d = cacheControl(headers['cache-control']);
  return d.has('public') || d.has('s-maxage');
}

function hasValidators(policy: Policy): boolean {
  const headers = policy.toObject().resh;
  return headers['etag'] !== undefined || headers['last-modified'] !== undefined;
}

function variantMatches(entry: Entry, headers: Headers): boolean {
  return entry.varyFields.every((f) => entry.variant[f] === headers[f]);
}

function parseVary(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(',')
    .map((f) => f.trim().toLowerCase())
    .filter((f) => f.length > 0);
}

function cacheControl(value: string | undefined): Set<string> {
  const names = new Set<string>();
  for (const part of (value ?? '').split(',')) {
    const name = part.split('=')[0].trim().toLowerCase();
    if (name) names.add(name);
  }
  return names;
}

function lowerCaseKeys(headers: Record<string, unknown>): Headers {
  const out: Headers = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || value === null) continue;
    const key = name.toLowerCase();
    const text = Array.isArray(value) ? value.map(String).join(', ') : String(value);
    out[key] = key in out ? `${out[key]}, ${text}` : text;
  }
  return out;
}

function stringHeaders(headers: CachePolicy.Headers): Headers {
  return lowerCaseKeys(headers);
}

/**
 * A Buffer can be a small view into a much larger allocation (a pooled slab, a whole socket
 * read); keeping the view would pin all of it and defeat the byte budget.
 */
function ownBuffer(body: Buffer): Buffer {
  if (body.byteOffset === 0 && body.buffer.byteLength === body.length) return body;
  // Not Buffer.from(): small copies would land in Node's shared pool slab again.
  const own = Buffer.allocUnsafeSlow(body.length);
  body.copy(own);
  return own;
}
