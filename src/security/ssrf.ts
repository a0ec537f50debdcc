// Decides whether a request made by a rendered page may leave the appliance.
//
// Pages can carry user-generated content (an <img src> someone typed, an iframe), and the
// appliance sits inside the operator's private network, so anything that would reach a
// private, loopback, link-local or otherwise special address is refused. The main app and
// operator-listed origins are the only exceptions.
//
// DNS rebinding (a name that passes with a public address, then resolves to a private one
// when connecting) is closed at the connect step: Chromium reaches the network only through the
// SOCKS proxy and the asset cache only through its pinned fetcher, and both dial only the
// addresses connectTo vetted. connectTo looks a name up once, vets every answer and hands back
// exactly those: a second lookup for the dial is where a rebinding name would get in (with a
// short cache, or none, its answer can change between two lookups of one connection).

import { lookup as dnsLookup } from 'node:dns/promises';
import { inspectIp, type IpClass } from './ip-ranges.js';

/**
 * Why a request was refused, as a short fixed label (metrics, logs). It travels with the
 * refusal as data: the reason text carries host names and addresses (an unbounded label set)
 * and may be reworded without changing a metric.
 */
export type DenyCategory = 'scheme' | 'address' | 'resolution' | 'dns' | 'invalid' | 'self';

export interface Refusal {
  allow: false;
  reason: string;
  category: DenyCategory;
}

export type Verdict = { allow: true } | Refusal;

export interface GuardOptions {
  /** The main app's origin; always allowed even though it is usually private. */
  mainOrigin: string;
  /** ALLOW_ORIGINS: exact origins that skip the address checks. */
  allowOrigins: string[];
  /** Every address (A and AAAA) a hostname resolves to. Defaults to getaddrinfo. */
  lookup?: (host: string) => Promise<string[]>;
  /** How long a resolved answer is reused; 0 disables the cache. Default 30000. */
  cacheTtlMs?: number;
  /** The clock of the cache, in milliseconds. Default Date.now. */
  now?: () => number;
  /** Upper bound on cached hostnames. Default 1000. */
  cacheMaxEntries?: number;
  /** A lookup slower than this is treated as a failure. Default 5000. */
  lookupTimeoutMs?: number;
  /** The appliance's own names and port: refused before anything else, allow-listed or not. */
  self?: SelfAddress;
}

/**
 * How the appliance itself can be reached. A page that frames or fetches the appliance would
 * have it render again (measured: one request, 7 renders, every slot held for 10 s).
 */
export interface SelfAddress {
  /** Exact host names (FLY_APP_NAME.fly.dev, .flycast, .internal). */
  names: string[];
  /** Host name suffixes (`.FLY_APP_NAME.internal`: per-machine and per-region names). */
  suffixes: string[];
  /** The port the appliance listens on, and the addresses that reach it on that port. */
  port: number;
  addresses: Set<string>;
}

/** The names and addresses a page could use to reach this appliance (see SelfAddress). */
export function selfAddress(flyAppName: string | null, port: number, listenAddresses: string[]): SelfAddress {
  const names = flyAppName ? [`${flyAppName}.fly.dev`, `${flyAppName}.flycast`, `${flyAppName}.internal`] : [];
  return { names, suffixes: flyAppName ? [`.${flyAppName}.internal`] : [], port, addresses: new Set(listenAddresses) };
}

export interface Guard {
  check(url: string): Promise<Verdict>;
  /**
   * The same decision for a connection (`host` as a name or a literal address, and a port),
   * with the addresses to connect to: those of the one lookup that was vetted, so that a name
   * cannot resolve to something else between the check and the connect (DNS rebinding). Dial
   * only these (one after the other, or happy eyeballs), never the name.
   */
  connectTo(host: string, port: number): Promise<Connect>;
}

export type Connect = { allow: true; addresses: string[] } | Refusal;

const ALLOW: Verdict = { allow: true };
const deny = (category: DenyCategory, reason: string): Refusal => ({ allow: false, reason, category });

// Schemes that never touch the network, so there is nothing to guard.
const LOCAL_SCHEMES = new Set(['data:', 'blob:', 'about:']);
// WebSockets share the http(s) host/port space, so they are vetted (and allowlisted) as http(s).
const NETWORK_SCHEMES = new Map([
  ['http:', 'http:'],
  ['https:', 'https:'],
  ['ws:', 'http:'],
  ['wss:', 'https:'],
]);

/**
 * Canonical form of an http(s) origin ('http://Host:80/' → 'http://host').
 * Throws on anything else — including values with a path, query, fragment or credentials,
 * since an allowlist entry that looks path-scoped but is not would mislead the operator.
 */
export function normalizeOrigin(s: string): string {
  const text = s.trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`not an origin: ${JSON.stringify(s)} (cannot parse)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`not an http(s) origin: ${JSON.stringify(s)}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new Error(`origin must not contain credentials: ${JSON.stringify(s)}`);
  }
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || text.endsWith('#') || text.endsWith('?')) {
    throw new Error(`origin must not have a path, query or fragment: ${JSON.stringify(s)}`);
  }
  return url.origin;
}

function defaultLookup(host: string): Promise<string[]> {
  return dnsLookup(host, { all: true, verbatim: true }).then((answers) => answers.map((a) => a.address));
}

function describe(address: string, cls: IpClass): string {
  const via = cls.embedded !== undefined ? `, embedded IPv4 ${cls.embedded}` : '';
  return cls.range === 'invalid'
    ? `unrecognised address ${address}`
    : `private address ${address} (${cls.range}${via})`;
}

/** A literal address that is not public. */
function denyAddress(address: string, cls: IpClass): Refusal {
  return deny(cls.range === 'invalid' ? 'invalid' : 'address', describe(address, cls));
}

function isLocalhostName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost');
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms}ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

interface CacheEntry {
  expires: number;
  addresses: Promise<string[]>;
}

/**
 * Caches answers per hostname. The in-flight promise is stored so a page that pulls fifty
 * images from one CDN triggers one lookup, not fifty. Failures are evicted at once: a
 * transient resolver hiccup should not deny the rest of the render.
 */
function createResolver(
  opts: Required<Pick<GuardOptions, 'cacheTtlMs' | 'cacheMaxEntries' | 'lookupTimeoutMs' | 'now'>> & {
    lookup: (host: string) => Promise<string[]>;
  },
): (host: string) => Promise<string[]> {
  const cache = new Map<string, CacheEntry>();
  return (host) => {
    const now = opts.now();
    const hit = cache.get(host);
    if (hit !== undefined && hit.expires > now) return hit.addresses;
    if (hit !== undefined) cache.delete(host);

    const addresses = withTimeout(
      Promise.resolve().then(() => opts.lookup(host)),
      opts.lookupTimeoutMs,
    );
    if (opts.cacheTtlMs <= 0) return addresses;

    const entry: CacheEntry = { expires: now + opts.cacheTtlMs, addresses };
    // Map keeps insertion order, so the first key is the oldest entry.
    while (cache.size >= opts.cacheMaxEntries) {
      const oldest = cache.keys().next().value;
      if (oldest === undefined) break;
      cache.delete(oldest);
    }
    cache.set(host, entry);
    addresses.catch(() => {
      if (cache.get(host) === entry) cache.delete(host);
    });
    return addresses;
  };
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return typeof code === 'string' ? code : err.message;
  }
  return String(err);
}

export function createGuard(opts: GuardOptions): Guard {
  return new AddressGuard(opts);
}

/** The guard: what a page may reach, and which addresses a connection may dial. */
class AddressGuard implements Guard {
  /** The main app's origin and ALLOW_ORIGINS, normalised. */
  private readonly trusted: Set<string>;
  /** The same, as host:port (what a connection names). */
  private readonly trustedHostPorts: Set<string>;
  private readonly resolve: (host: string) => Promise<string[]>;

  constructor(private readonly opts: GuardOptions) {
    // Normalising here makes a bad ALLOW_ORIGINS entry fail at startup, not per request.
    this.trusted = new Set([normalizeOrigin(opts.mainOrigin), ...opts.allowOrigins.map(normalizeOrigin)]);
    this.trustedHostPorts = new Set(
      [...this.trusted].map((o) => {
        const u = new URL(o);
        return `${u.hostname}:${u.port || (u.protocol === 'https:' ? 443 : 80)}`;
      }),
    );
    this.resolve = createResolver({
      lookup: opts.lookup ?? defaultLookup,
      cacheTtlMs: opts.cacheTtlMs ?? 30_000,
      cacheMaxEntries: Math.max(1, opts.cacheMaxEntries ?? 1000),
      lookupTimeoutMs: opts.lookupTimeoutMs ?? 5000,
      now: opts.now ?? Date.now,
    });
  }

  async check(raw: string): Promise<Verdict> {
    let url: URL;
    try {
      // WHATWG parsing is what Chromium does, so '0x7f.1' or '2130706433' arrive here already as 127.0.0.1.
      url = new URL(raw);
    } catch {
      return deny('invalid', 'unparseable URL');
    }

    if (LOCAL_SCHEMES.has(url.protocol)) return ALLOW;
    const originScheme = NETWORK_SCHEMES.get(url.protocol);
    if (originScheme === undefined) return deny('scheme', `scheme ${url.protocol} is never allowed`);

    // 'example.com.' and 'example.com' are the same DNS name; the dot only stops search-domain expansion.
    const name = url.hostname.toLowerCase().replace(/\.$/, '');
    const addresses = this.lookupOnce(name);
    const port = Number(url.port || (originScheme === 'https:' ? 443 : 80));
    if (this.opts.self && (await this.isSelf(name, port, addresses, this.opts.self)))
      return deny('self', `host ${url.host} is this appliance`);
    if (this.trusted.has(`${originScheme}//${url.host}`)) return ALLOW;

    const host = url.hostname;
    if (host.startsWith('[')) {
      const cls = inspectIp(host);
      return cls.range === null ? ALLOW : denyAddress(host.slice(1, -1), cls);
    }
    const literal = inspectIp(host);
    if (literal.range !== 'invalid') {
      return literal.range === null ? ALLOW : denyAddress(host, literal);
    }
    if (name === '') return deny('invalid', 'empty host');
    // RFC 6761: these always mean this machine; no need to ask DNS to find that out.
    if (isLocalhostName(name)) return deny('address', `host ${host} is loopback by definition`);
    let answer: string[];
    try {
      answer = await addresses();
    } catch (err) {
      return deny('dns', `cannot resolve host ${host}: ${errorText(err)}`);
    }
    return vet(host, answer) ?? ALLOW;
  }

  async connectTo(rawHost: string, port: number): Promise<Connect> {
    const host = rawHost
      .toLowerCase()
      .replace(/\.$/, '')
      .replace(/^\[(.*)\]$/, '$1');
    const bracketed = host.includes(':') ? `[${host}]` : host;
    if (host === '') return deny('invalid', 'empty host');
    const addresses = this.lookupOnce(host);
    if (this.opts.self && (await this.isSelf(host, port, addresses, this.opts.self)))
      return deny('self', `host ${bracketed}:${port} is this appliance`);
    const trustedHere = this.trustedHostPorts.has(`${bracketed}:${port}`);
    const literal = inspectIp(host);
    if (literal.range !== 'invalid') {
      if (trustedHere || literal.range === null) return { allow: true, addresses: [host] };
      return denyAddress(host, literal);
    }
    if (!trustedHere && isLocalhostName(host)) return deny('address', `host ${host} is loopback by definition`);
    let answer: string[];
    try {
      answer = await addresses();
    } catch (err) {
      return deny('dns', `cannot resolve host ${host}: ${errorText(err)}`);
    }
    // A trusted origin skips the address checks, but is dialled at what was looked up all the same.
    const refused = trustedHere
      ? answer.length === 0
        ? deny('dns', `cannot resolve host ${host}: no addresses`)
        : null
      : vet(host, answer);
    return refused ?? { allow: true, addresses: answer };
  }

  /** One lookup per decision: what the self check and the address check see is what is dialled. */
  private lookupOnce(name: string): () => Promise<string[]> {
    let answer: Promise<string[]> | undefined;
    return () => (answer ??= this.resolve(name).then((a) => [...a]));
  }

  /**
   * By name, or by port plus an address (literal, or what the name resolves to) that reaches
   * us. `name` is lower case, without a trailing dot (an IPv6 literal may keep its brackets). A
   * name that does not resolve is not us (the address check refuses it where it matters).
   */
  private async isSelf(
    name: string,
    port: number,
    addresses: () => Promise<string[]>,
    self: SelfAddress,
  ): Promise<boolean> {
    if (self.names.includes(name) || self.suffixes.some((s) => name.endsWith(s))) return true;
    if (port !== self.port) return false;
    const bare = name.replace(/^\[(.*)\]$/, '$1');
    if (self.addresses.has(bare) || isLocalhostName(bare)) return true;
    if (inspectIp(bare).range !== 'invalid') return false;
    const answer = await addresses().catch(() => [] as string[]);
    return answer.some((a) => self.addresses.has(a));
  }
}

/** Every answer of one lookup must be public: Chromium may pick any of them (happy eyeballs, fallback). */
function vet(display: string, addresses: string[]): Refusal | null {
  if (addresses.length === 0) return deny('dns', `cannot resolve host ${display}: no addresses`);
  for (const address of addresses) {
    const cls = inspectIp(address);
    if (cls.range !== null) return deny('resolution', `host ${display} resolves to ${describe(address, cls)}`);
  }
  return null;
}
