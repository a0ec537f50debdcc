import { test, expect } from '@playwright/test';
import {
  AssetCache,
  type AssetRequest,
  type AssetResponse,
  type CacheOutcome,
  type Fetcher,
} from '../../../src/cache/asset-cache.js';

// Everything here is in memory: a scripted fake upstream and a hand-driven clock.

const CSS = 'http://127.0.0.1:3000/assets/app.css';
const LOGO = 'http://127.0.0.1:3000/assets/logo.png';

type Handler = (headers: Record<string, string>, call: number) => AssetResponse | Promise<AssetResponse>;

interface FakeUpstream {
  fetcher: Fetcher;
  /** Upstream calls, in order, with the headers each one was sent. */
  calls: { url: string; headers: Record<string, string> }[];
  count(url?: string): number;
  /** Upstream calls that were conditional requests (revalidations). */
  conditional(): number;
}

function isConditional(headers: Record<string, string>): boolean {
  return Object.keys(headers).some((k) => ['if-none-match', 'if-modified-since'].includes(k.toLowerCase()));
}

function upstream(routes: Record<string, Handler>): FakeUpstream {
  const calls: FakeUpstream['calls'] = [];
  const fetcher: Fetcher = async (url, headers) => {
    calls.push({ url, headers: { ...headers } });
    const handler = routes[url];
    if (!handler) throw new Error(`unexpected upstream fetch ${url}`);
    // Header names are case-insensitive on the wire; handlers read them lower-cased.
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    return handler(lower, calls.filter((c) => c.url === url).length);
  };
  return {
    fetcher,
    calls,
    count: (url) => calls.filter((c) => url === undefined || c.url === url).length,
    conditional: () => calls.filter((c) => isConditional(c.headers)).length,
  };
}

function res(status: number, headers: Record<string, string>, body: string | Buffer = ''): AssetResponse {
  return { status, headers, body: Buffer.isBuffer(body) ? body : Buffer.from(body) };
}

function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (seconds: number) => void (t += seconds * 1000) };
}

/** What a stored entry for a request looks like from outside; see TestCache.probe(). */
type Held = 'fresh' | 'stale' | 'absent';

const WITNESS = 'http://127.0.0.1:3000/witness.bin';
const WITNESS_BYTES = 1000;

/**
 * The cache under test, observed only through its public API: it tallies the outcome of every
 * get() made through it, and probe()/witnessKept() tell what it holds without a getter.
 */
class TestCache extends AssetCache {
  readonly outcomes: Partial<Record<CacheOutcome, number>> = {};

  override async get(...args: Parameters<AssetCache['get']>): ReturnType<AssetCache['get']> {
    const result = await super.get(...args);
    this.outcomes[result.outcome] = (this.outcomes[result.outcome] ?? 0) + 1;
    return result;
  }

  /**
   * Whether the cache holds an entry it would use for `req` (not tallied, and its upstream is
   * not the test's): `fresh` = served without going upstream, `stale` = it sent a conditional
   * request (so it holds an entry with a validator), `absent` = it fetched the full body.
   * The probe's upstream answers 503, which stores nothing and keeps a stale entry as it was.
   * For end states only: call it when no other get() is in flight.
   */
  async probe(req: AssetRequest | string): Promise<Held> {
    let sent: Record<string, string> | undefined;
    const fetcher: Fetcher = async (_url, headers) => {
      sent = { ...headers };
      return res(503, {}, 'probe');
    };
    const { outcome } = await super.get(typeof req === 'string' ? anon(req) : req, fetcher);
    if (!sent) {
      expect(outcome, 'probe served without going upstream').toBe('hit');
      return 'fresh';
    }
    return isConditional(sent) ? 'stale' : 'absent';
  }

  /** Stores the byte-budget witness (see budgetedCache); not tallied. */
  async storeWitness(): Promise<void> {
    const body = Buffer.alloc(WITNESS_BYTES, 9);
    const { outcome } = await super.get(anon(WITNESS), async () =>
      res(200, { 'cache-control': 'public, max-age=86400' }, body),
    );
    expect(outcome, 'witness stored').toBe('stored');
  }

  /** False once the witness was evicted, i.e. once the cache held more than its allowance. */
  async witnessKept(): Promise<boolean> {
    return (await this.probe(WITNESS)) === 'fresh';
  }
}

function newCache(now: () => number, maxBytes = 1_000_000, maxEntryBytes = 100_000) {
  return new TestCache({ maxBytes, maxEntryBytes, now });
}

/**
 * Byte accounting through behaviour: a cache with room for `bytes` bytes besides a witness entry
 * stored first. Nothing ever reads the witness before witnessKept(), so it stays the least
 * recently used entry and is the first one evicted the moment the cache holds more than `bytes`
 * other bytes. Any single entry up to WITNESS_BYTES + `bytes` is small enough to be stored, so a
 * rule that refuses an entry is never masked by the size limit.
 */
async function budgetedCache(now: () => number, bytes: number) {
  const budget = WITNESS_BYTES + bytes;
  const cache = new TestCache({ maxBytes: budget, maxEntryBytes: budget, now });
  await cache.storeWitness();
  return cache;
}

function anon(url: string, headers: Record<string, string> = {}): AssetRequest {
  return { url, method: 'GET', headers, credentialed: false };
}

function asUser(url: string, user: string, headers: Record<string, string> = {}): AssetRequest {
  return { url, method: 'GET', headers: { cookie: `session=${user}`, ...headers }, credentialed: true };
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

test.describe('AssetCache.eligible', () => {
  test('only GET sub-resources of cacheable types go through the cache', () => {
    for (const type of ['stylesheet', 'image', 'font', 'script', 'media']) {
      expect(AssetCache.eligible('GET', type), type).toBe(true);
    }
    expect(AssetCache.eligible('get', 'Stylesheet')).toBe(true);
    for (const method of ['POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS']) {
      expect(AssetCache.eligible(method, 'stylesheet'), method).toBe(false);
    }
    for (const type of ['document', 'xhr', 'fetch', 'websocket', 'other']) {
      expect(AssetCache.eligible('GET', type), type).toBe(false);
    }
  });

  test('a non-GET request that reaches get() is fetched straight through and never stored', async () => {
    const clk = clock();
    const up = upstream({ [CSS]: () => res(200, { 'cache-control': 'public, max-age=600' }, 'x') });
    const cache = newCache(clk.now);
    for (let i = 0; i < 2; i++) {
      const { outcome } = await cache.get({ ...anon(CSS), method: 'POST' }, up.fetcher);
      expect(outcome).toBe('bypass');
    }
    expect(up.count()).toBe(2);
    // Nothing was stored: the next GET goes upstream for the full body.
    expect(await cache.probe(CSS)).toBe('absent');
  });
});

test.describe('storing and serving', () => {
  test('a public stylesheet is fetched once across 20 gets', async () => {
    const clk = clock();
    const up = upstream({
      [CSS]: () =>
        res(200, { 'content-type': 'text/css', 'cache-control': 'public, max-age=3600', etag: '"v1"' }, 'body{}'),
    });
    const cache = await budgetedCache(clk.now, 6);
    const outcomes: string[] = [];
    for (let i = 0; i < 20; i++) {
      clk.advance(1);
      const { response, outcome } = await cache.get(anon(CSS), up.fetcher);
      outcomes.push(outcome);
      expect(response.status).toBe(200);
      expect(response.body.toString()).toBe('body{}');
      expect(response.headers['content-type']).toBe('text/css');
    }
    expect(up.count()).toBe(1);
    expect(outcomes[0]).toBe('stored');
    expect(outcomes.slice(1)).toEqual(Array(19).fill('hit'));
    expect(cache.outcomes).toEqual({ stored: 1, hit: 19 });
    expect(up.conditional()).toBe(0);
    // One entry of 6 bytes and nothing else held (the witness fits beside exactly 6 bytes).
    expect(await cache.probe(CSS)).toBe('fresh');
    expect(await cache.witnessKept()).toBe(true);
  });

  test('served copies carry an up-to-date Age and no hop-by-hop headers', async () => {
    const clk = clock();
    const up = upstream({
      [CSS]: () =>
        res(
          200,
          {
            'Cache-Control': 'public, max-age=3600',
            Age: '10',
            Connection: 'keep-alive, x-trace',
            'Keep-Alive': 'timeout=5',
            'Transfer-Encoding': 'chunked',
            'X-Trace': 'abc',
            'Content-Type': 'text/css',
          },
          'a{}',
        ),
    });
    const cache = newCache(clk.now);
    await cache.get(anon(CSS), up.fetcher);
    clk.advance(30);
    const { response, outcome } = await cache.get(anon(CSS), up.fetcher);
    expect(outcome).toBe('hit');
    expect(response.headers['age']).toBe('40');
    expect(response.headers['content-type']).toBe('text/css');
    expect(response.headers['cache-control']).toBe('public, max-age=3600');
    for (const name of ['connection', 'keep-alive', 'transfer-encoding', 'x-trace', 'set-cookie']) {
      expect(response.headers[name], name).toBeUndefined();
    }
  });

  test('Cache-Control: private is never served from the cache', async () => {
    const clk = clock();
    const up = upstream({
      [CSS]: (h) => res(200, { 'cache-control': 'private, max-age=3600' }, `for ${h['cookie'] ?? 'nobody'}`),
    });
    const cache = newCache(clk.now);
    const a = await cache.get(asUser(CSS, 'alice'), up.fetcher);
    const b = await cache.get(asUser(CSS, 'bob'), up.fetcher);
    const c = await cache.get(anon(CSS), up.fetcher);
    expect([a.outcome, b.outcome, c.outcome]).toEqual(['miss', 'miss', 'miss']);
    expect(b.response.body.toString()).toBe('for session=bob');
    expect(c.response.body.toString()).toBe('for nobody');
    expect(up.count()).toBe(3);
    expect(await cache.probe(CSS)).toBe('absent');
  });

  test('a response with Set-Cookie is never stored, even when public', async () => {
    const clk = clock();
    const up = upstream({
      [CSS]: () => res(200, { 'cache-control': 'public, max-age=3600', 'set-cookie': 'tracking=1; Path=/' }, 'a{}'),
    });
    const cache = newCache(clk.now);
    for (let i = 0; i < 3; i++) expect((await cache.get(anon(CSS), up.fetcher)).outcome).toBe('miss');
    expect(up.count()).toBe(3);
    expect(await cache.probe(CSS)).toBe('absent');
  });

  test('Vary: Cookie, Authorization or * is never stored', async () => {
    for (const vary of ['Cookie', 'accept-encoding, cookie', 'Authorization', '*']) {
      const clk = clock();
      const up = upstream({ [CSS]: () => res(200, { 'cache-control': 'public, max-age=3600', vary }, 'a{}') });
      const cache = newCache(clk.now);
      await cache.get(anon(CSS), up.fetcher);
      const second = await cache.get(anon(CSS), up.fetcher);
      expect(second.outcome, vary).toBe('miss');
      expect(up.count(), vary).toBe(2);
      expect(await cache.probe(CSS), vary).toBe('absent');
    }
  });

  test('a credentialed request is stored only when the response says public or s-maxage', async () => {
    const clk = clock();
    const up = upstream({
      [CSS]: (h) => res(200, { 'cache-control': 'max-age=3600' }, `css for ${h['cookie']}`),
      [LOGO]: () => res(200, { 'cache-control': 'public, max-age=3600' }, 'PNG'),
      'http://127.0.0.1:3000/font.woff2': () => res(200, { 'cache-control': 's-maxage=600' }, 'WOFF'),
    });
    const cache = newCache(clk.now);

    const first = await cache.get(asUser(CSS, 'alice'), up.fetcher);
    const second = await cache.get(asUser(CSS, 'bob'), up.fetcher);
    expect([first.outcome, second.outcome]).toEqual(['miss', 'miss']);
    expect(second.response.body.toString()).toBe('css for session=bob');

    expect((await cache.get(asUser(LOGO, 'alice'), up.fetcher)).outcome).toBe('stored');
    const bobLogo = await cache.get(asUser(LOGO, 'bob'), up.fetcher);
    expect(bobLogo.outcome).toBe('hit');
    expect(bobLogo.response.body.toString()).toBe('PNG');

    const font = 'http://127.0.0.1:3000/font.woff2';
    expect((await cache.get(asUser(font, 'alice'), up.fetcher)).outcome).toBe('stored');
    expect((await cache.get(anon(font), up.fetcher)).outcome).toBe('hit');

    expect(up.count(CSS)).toBe(2);
    expect(up.count(LOGO)).toBe(1);
    expect(up.count(font)).toBe(1);
  });

  test('a credential header counts as credentialed even if the flag says otherwise', async () => {
    const clk = clock();
    const up = upstream({
      [CSS]: (h) => res(200, { 'cache-control': 'max-age=3600' }, `css for ${h['Authorization']}`),
    });
    const cache = newCache(clk.now);
    const req = { ...anon(CSS), headers: { Authorization: 'Bearer alice' } };
    expect((await cache.get(req, up.fetcher)).outcome).toBe('miss');
    expect(await cache.probe(CSS)).toBe('absent');
    const other = await cache.get(anon(CSS), up.fetcher);
    expect(other.response.body.toString()).toBe('css for undefined');
    expect(up.count()).toBe(2);
  });

  test('Cache-Control: no-store is never stored', async () => {
    const clk = clock();
    const up = upstream({ [CSS]: () => res(200, { 'cache-control': 'public, no-store', etag: '"v1"' }, 'a{}') });
    const cache = newCache(clk.now);
    await cache.get(anon(CSS), up.fetcher);
    expect((await cache.get(anon(CSS), up.fetcher)).outcome).toBe('miss');
    expect(up.count()).toBe(2);
    // It carries an ETag, so even a stale entry would show up as a conditional request.
    expect(await cache.probe(CSS)).toBe('absent');
  });

  test('a request with Cache-Control: no-store is not stored', async () => {
    const clk = clock();
    const up = upstream({ [CSS]: () => res(200, { 'cache-control': 'public, max-age=3600' }, 'a{}') });
    const cache = newCache(clk.now);
    expect((await cache.get(anon(CSS, { 'cache-control': 'no-store' }), up.fetcher)).outcome).toBe('miss');
    expect(await cache.probe(CSS)).toBe('absent');
  });

  test('error and non-200 responses are not stored', async () => {
    for (const status of [500, 503, 404, 301, 206]) {
      const clk = clock();
      const up = upstream({ [CSS]: () => res(status, { 'cache-control': 'public, max-age=3600' }, 'oops') });
      const cache = newCache(clk.now);
      const first = await cache.get(anon(CSS), up.fetcher);
      expect(first.response.status, String(status)).toBe(status);
      expect(first.outcome, String(status)).toBe('miss');
      expect((await cache.get(anon(CSS), up.fetcher)).outcome, String(status)).toBe('miss');
      expect(up.count(), String(status)).toBe(2);
      expect(await cache.probe(CSS), String(status)).toBe('absent');
    }
  });

  test('header names from upstream are matched case-insensitively', async () => {
    const clk = clock();
    const up = upstream({
      [CSS]: () => res(200, { 'Cache-Control': 'PRIVATE, max-age=3600' }, 'a{}'),
      [LOGO]: () => res(200, { 'Cache-Control': 'public, max-age=3600', 'Set-Cookie': 'a=b' }, 'PNG'),
    });
    const cache = newCache(clk.now);
    await cache.get(anon(CSS), up.fetcher);
    await cache.get(anon(LOGO), up.fetcher);
    expect(await cache.probe(CSS)).toBe('absent');
    expect(await cache.probe(LOGO)).toBe('absent');
  });

  test('a response with no freshness and no validator is not kept', async () => {
    const clk = clock();
    const up = upstream({ [CSS]: () => res(200, { 'content-type': 'text/css' }, 'a{}') });
    // Such an entry would be stale with nothing to revalidate, so no lookup could reveal it;
    // only the bytes it occupied would: the cache has room for nothing beside the witness.
    const cache = await budgetedCache(clk.now, 0);
    expect((await cache.get(anon(CSS), up.fetcher)).outcome).toBe('miss');
    expect(await cache.witnessKept()).toBe(true);
  });
});

test.describe('freshness and revalidation', () => {
  test('an expired entry with an ETag is revalidated; 304 serves the cached body', async () => {
    const clk = clock();
    const up = upstream({
      [CSS]: (h, call) =>
        call === 1
          ? res(
              200,
              { 'cache-control': 'public, max-age=60', etag: '"v1"', 'content-type': 'text/css' },
              'body{color:red}',
            )
          : h['if-none-match'] === '"v1"'
            ? res(304, { 'cache-control': 'public, max-age=120', etag: '"v1"' })
            : res(200, { 'cache-control': 'public, max-age=60', etag: '"v1"' }, 'body{color:red}'),
    });
    const cache = newCache(clk.now);
    await cache.get(asUser(CSS, 'alice', { accept: 'text/css' }), up.fetcher);
    clk.advance(59);
    expect((await cache.get(anon(CSS), up.fetcher)).outcome).toBe('hit');
    clk.advance(2);

    const { response, outcome } = await cache.get(asUser(CSS, 'bob', { accept: 'text/css' }), up.fetcher);
    expect(outcome).toBe('revalidated');
    expect(up.count()).toBe(2);
    const conditional = up.calls[1].headers;
    expect(conditional['if-none-match']).toBe('"v1"');
    // The revalidation goes upstream as the requester, like the request it stands for.
    expect(conditional['cookie']).toBe('session=bob');
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe('body{color:red}');
    expect(response.headers['content-type']).toBe('text/css');
    expect(response.headers['cache-control']).toBe('public, max-age=120');
    expect(response.headers['age']).toBe('0');

    // The 304 refreshed the policy: max-age=120 from now.
    clk.advance(119);
    expect((await cache.get(anon(CSS), up.fetcher)).outcome).toBe('hit');
    expect(up.count()).toBe(2);
    expect(cache.outcomes).toEqual({ stored: 1, hit: 2, revalidated: 1 });
    expect(up.conditional()).toBe(1);
    expect(await cache.probe(CSS)).toBe('fresh');
  });

  test('an expired entry with only Last-Modified is revalidated with If-Modified-Since', async () => {
    const clk = clock();
    const lastModified = new Date(clk.now() - 86_400_000).toUTCString();
    const up = upstream({
      [LOGO]: (_h, call) =>
        call === 1
          ? res(200, { 'cache-control': 'public, max-age=10', 'last-modified': lastModified }, 'PNG')
          : res(304, { 'last-modified': lastModified }),
    });
    const cache = newCache(clk.now);
    await cache.get(anon(LOGO), up.fetcher);
    clk.advance(11);
    const { response, outcome } = await cache.get(anon(LOGO), up.fetcher);
    expect(outcome).toBe('revalidated');
    expect(up.calls[1].headers['if-modified-since']).toBe(lastModified);
    expect(response.body.toString()).toBe('PNG');
  });

  test('revalidation answered with 200 replaces the entry', async () => {
    const clk = clock();
    const up = upstream({
      [CSS]: (_h, call) => res(200, { 'cache-control': 'public, max-age=60', etag: `"v${call}"` }, `version ${call}`),
    });
    const cache = await budgetedCache(clk.now, 9);
    await cache.get(anon(CSS), up.fetcher);
    clk.advance(61);
    const second = await cache.get(anon(CSS), up.fetcher);
    expect(second.outcome).toBe('stored');
    expect(up.calls[1].headers['if-none-match']).toBe('"v1"');
    expect(second.response.body.toString()).toBe('version 2');
    const third = await cache.get(anon(CSS), up.fetcher);
    expect(third.outcome).toBe('hit');
    expect(third.response.body.toString()).toBe('version 2');
    // Replaced, not kept beside it: room for one 9-byte body is all the cache had.
    expect(await cache.witnessKept()).toBe(true);
  });

  test('an expired entry without validators is refetched unconditionally', async () => {
    const clk = clock();
    const up = upstream({
      [CSS]: (_h, call) => res(200, { 'cache-control': 'public, max-age=60' }, `version ${call}`),
    });
    const cache = await budgetedCache(clk.now, 9);
    await cache.get(anon(CSS), up.fetcher);
    clk.advance(61);
    const { response, outcome } = await cache.get(anon(CSS), up.fetcher);
    expect(outcome).toBe('stored');
    expect(up.count()).toBe(2);
    expect(up.calls[1].headers['if-none-match']).toBeUndefined();
    expect(up.calls[1].headers['if-modified-since']).toBeUndefined();
    expect(response.body.toString()).toBe('version 2');
    expect((await cache.get(anon(CSS), up.fetcher)).response.body.toString()).toBe('version 2');
    // One entry: the stale copy was replaced (room for one 9-byte body besides the witness).
    expect(await cache.witnessKept()).toBe(true);
  });

  test('Cache-Control: no-cache is stored but revalidated on every use', async () => {
    const clk = clock();
    const up = upstream({
      [CSS]: (h) =>
        h['if-none-match'] === '"v1"'
          ? res(304, { etag: '"v1"' })
          : res(200, { 'cache-control': 'public, no-cache', etag: '"v1"' }, 'a{}'),
    });
    const cache = newCache(clk.now);
    expect((await cache.get(anon(CSS), up.fetcher)).outcome).toBe('stored');
    for (let i = 0; i < 3; i++) {
      const { response, outcome } = await cache.get(anon(CSS), up.fetcher);
      expect(outcome).toBe('revalidated');
      expect(response.body.toString()).toBe('a{}');
    }
    expect(up.count()).toBe(4);
    expect(up.calls.slice(1).every((c) => c.headers['if-none-match'] === '"v1"')).toBe(true);
  });

  test('a 304 that turns the response private serves this requester but drops the entry', async () => {
    const clk = clock();
    const up = upstream({
      [CSS]: (_h, call) =>
        call === 1
          ? res(200, { 'cache-control': 'public, max-age=10', etag: '"v1"' }, 'a{}')
          : call === 2
            ? res(304, { 'cache-control': 'private, max-age=10', etag: '"v1"' })
            : res(200, { 'cache-control': 'private, max-age=10', etag: '"v1"' }, 'a{}'),
    });
    const cache = newCache(clk.now);
    await cache.get(anon(CSS), up.fetcher);
    clk.advance(11);
    const second = await cache.get(anon(CSS), up.fetcher);
    expect(second.outcome).toBe('revalidated');
    expect(second.response.body.toString()).toBe('a{}');
    expect(await cache.probe(CSS)).toBe('absent');
    expect((await cache.get(anon(CSS), up.fetcher)).outcome).toBe('miss');
  });

  test('a failed revalidation passes the error on and keeps the stale entry for the next try', async () => {
    const clk = clock();
    const up = upstream({
      [CSS]: (_h, call) =>
        call === 1
          ? res(200, { 'cache-control': 'public, max-age=10', etag: '"v1"' }, 'a{}')
          : call === 2
            ? res(503, {}, 'down')
            : res(304, { etag: '"v1"' }),
    });
    const cache = newCache(clk.now);
    await cache.get(anon(CSS), up.fetcher);
    clk.advance(11);
    const failed = await cache.get(anon(CSS), up.fetcher);
    expect(failed.outcome).toBe('miss');
    expect(failed.response.status).toBe(503);
    expect(await cache.probe(CSS)).toBe('stale');
    const retried = await cache.get(anon(CSS), up.fetcher);
    expect(retried.outcome).toBe('revalidated');
    expect(up.calls[2].headers['if-none-match']).toBe('"v1"');
  });

  test('stale-if-error lets a stale copy stand in for a failing origin', async () => {
    const clk = clock();
    const up = upstream({
      [CSS]: (_h, call) =>
        call === 1
          ? res(200, { 'cache-control': 'public, max-age=10, stale-if-error=300', etag: '"v1"' }, 'a{}')
          : res(500, {}, 'boom'),
    });
    const cache = newCache(clk.now);
    await cache.get(anon(CSS), up.fetcher);
    clk.advance(100);
    const { response, outcome } = await cache.get(anon(CSS), up.fetcher);
    expect(outcome).toBe('hit');
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe('a{}');
    clk.advance(300);
    expect((await cache.get(anon(CSS), up.fetcher)).response.status).toBe(500);
  });

  test('a request with Cache-Control: no-cache revalidates a fresh entry', async () => {
    const clk = clock();
    const up = upstream({
      [CSS]: (h) =>
        h['if-none-match']
          ? res(304, { etag: '"v1"' })
          : res(200, { 'cache-control': 'public, max-age=600', etag: '"v1"' }, 'a{}'),
    });
    const cache = newCache(clk.now);
    await cache.get(anon(CSS), up.fetcher);
    expect((await cache.get(anon(CSS, { 'cache-control': 'no-cache' }), up.fetcher)).outcome).toBe('revalidated');
    expect(up.count()).toBe(2);
  });
});

test.describe('Vary', () => {
  test('Vary: Accept-Language keeps one entry per language', async () => {
    const clk = clock();
    const up = upstream({
      [CSS]: (h) =>
        res(
          200,
          { 'cache-control': 'public, max-age=600', vary: 'Accept-Language' },
          `lang=${h['accept-language'] ?? 'none'}`,
        ),
    });
    const cache = newCache(clk.now);
    const en = await cache.get(anon(CSS, { 'accept-language': 'en' }), up.fetcher);
    const de = await cache.get(anon(CSS, { 'Accept-Language': 'de' }), up.fetcher);
    expect([en.outcome, de.outcome]).toEqual(['stored', 'stored']);
    expect(await cache.probe(anon(CSS, { 'accept-language': 'en' }))).toBe('fresh');
    expect(await cache.probe(anon(CSS, { 'accept-language': 'de' }))).toBe('fresh');

    const en2 = await cache.get(anon(CSS, { 'accept-language': 'en' }), up.fetcher);
    const de2 = await cache.get(asUser(CSS, 'bob', { 'accept-language': 'de' }), up.fetcher);
    const none = await cache.get(anon(CSS), up.fetcher);
    expect([en2.outcome, de2.outcome, none.outcome]).toEqual(['hit', 'hit', 'stored']);
    expect(en2.response.body.toString()).toBe('lang=en');
    expect(de2.response.body.toString()).toBe('lang=de');
    expect(none.response.body.toString()).toBe('lang=none');
    expect(up.count()).toBe(3);
  });
});

test.describe('memory bounds', () => {
  test('least recently used entries are evicted by bytes', async () => {
    const clk = clock();
    const urls = ['a', 'b', 'c', 'd'].map((n) => `http://127.0.0.1:3000/${n}.png`);
    const routes: Record<string, Handler> = {};
    for (const url of urls)
      routes[url] = () => res(200, { 'cache-control': 'public, max-age=600' }, Buffer.alloc(100, 1));
    const up = upstream(routes);
    const cache = newCache(clk.now, 250, 200);
    const [a, b, c, d] = urls;

    await cache.get(anon(a), up.fetcher);
    await cache.get(anon(b), up.fetcher);
    expect((await cache.get(anon(a), up.fetcher)).outcome).toBe('hit'); // a is now the most recent
    await cache.get(anon(c), up.fetcher); // over budget: b goes
    expect(await cache.probe(b)).toBe('absent');
    expect((await cache.get(anon(a), up.fetcher)).outcome).toBe('hit');
    expect((await cache.get(anon(c), up.fetcher)).outcome).toBe('hit');
    expect((await cache.get(anon(b), up.fetcher)).outcome).toBe('stored'); // evicts a (LRU after c was read)
    expect((await cache.get(anon(c), up.fetcher)).outcome).toBe('hit');
    expect((await cache.get(anon(a), up.fetcher)).outcome).toBe('stored');
    await cache.get(anon(d), up.fetcher); // evicts c
    // Two 100-byte entries fit in 250 bytes: exactly a and d are held.
    expect(await cache.probe(c)).toBe('absent');
    expect(await cache.probe(b)).toBe('absent');
    expect(await cache.probe(a)).toBe('fresh');
    expect(await cache.probe(d)).toBe('fresh');
  });

  test('a body larger than maxEntryBytes is served but not stored', async () => {
    const clk = clock();
    const up = upstream({
      [LOGO]: () => res(200, { 'cache-control': 'public, max-age=600' }, Buffer.alloc(1001)),
      [CSS]: () => res(200, { 'cache-control': 'public, max-age=600' }, Buffer.alloc(1000)),
    });
    const cache = newCache(clk.now, 10_000, 1000);
    const big = await cache.get(anon(LOGO), up.fetcher);
    expect(big.outcome).toBe('miss');
    expect(big.response.body.length).toBe(1001);
    expect((await cache.get(anon(CSS), up.fetcher)).outcome).toBe('stored');
    expect(await cache.probe(LOGO)).toBe('absent');
    expect(await cache.probe(CSS)).toBe('fresh');
  });

  test('a small view into a large buffer is stored as its own copy', async () => {
    const clk = clock();
    const slab = Buffer.alloc(64 * 1024, 7);
    const up = upstream({ [CSS]: () => res(200, { 'cache-control': 'public, max-age=600' }, slab.subarray(100, 110)) });
    const cache = await budgetedCache(clk.now, 10);
    await cache.get(anon(CSS), up.fetcher);
    const { response } = await cache.get(anon(CSS), up.fetcher);
    expect(response.body.length).toBe(10);
    expect(response.body.buffer.byteLength).toBe(10);
    // Charged 10 bytes against the budget, not the slab's 64 KiB.
    expect(await cache.witnessKept()).toBe(true);
  });

  test('clear() drops every entry and frees their bytes', async () => {
    const clk = clock();
    const up = upstream({ [CSS]: () => res(200, { 'cache-control': 'public, max-age=600' }, 'a{}') });
    // Room for exactly this one 3-byte body: bytes still counted after clear() would leave none.
    const cache = newCache(clk.now, 3, 3);
    expect((await cache.get(anon(CSS), up.fetcher)).outcome).toBe('stored');
    expect((await cache.get(anon(CSS), up.fetcher)).outcome).toBe('hit');
    cache.clear();
    expect((await cache.get(anon(CSS), up.fetcher)).outcome).toBe('stored');
    expect(up.count()).toBe(2);
    expect((await cache.get(anon(CSS), up.fetcher)).outcome).toBe('hit');
  });
});

test.describe('concurrency', () => {
  test('concurrent misses for the same URL coalesce into one fetch', async () => {
    const clk = clock();
    const gate = deferred<void>();
    const up = upstream({
      [CSS]: async () => {
        await gate.promise;
        return res(200, { 'cache-control': 'public, max-age=600' }, 'shared');
      },
    });
    const cache = newCache(clk.now);
    const pending = Array.from({ length: 20 }, (_, i) => cache.get(asUser(CSS, `user${i}`), up.fetcher));
    await Promise.resolve();
    gate.resolve();
    const results = await Promise.all(pending);
    expect(up.count()).toBe(1);
    expect(results.filter((r) => r.outcome === 'stored')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'hit')).toHaveLength(19);
    expect(results.every((r) => r.response.body.toString() === 'shared')).toBe(true);
  });

  test("concurrent requests never receive another user's unshareable response", async () => {
    const clk = clock();
    const gates = [deferred<void>()];
    const up = upstream({
      [CSS]: async (h) => {
        await gates[0].promise;
        return res(200, { 'cache-control': 'max-age=600' }, `css for ${h['cookie']}`);
      },
    });
    const cache = newCache(clk.now);
    const users = ['alice', 'bob', 'carol', 'dave'];
    const pending = users.map((u) => cache.get(asUser(CSS, u), up.fetcher));
    await Promise.resolve();
    gates[0].resolve();
    const results = await Promise.all(pending);
    results.forEach((r, i) => {
      expect(r.outcome).toBe('miss');
      expect(r.response.body.toString()).toBe(`css for session=${users[i]}`);
    });
    expect(up.count()).toBe(users.length);
    expect(await cache.probe(CSS)).toBe('absent');
  });

  test('concurrent requests for different Vary variants each get their own', async () => {
    const clk = clock();
    const gate = deferred<void>();
    const up = upstream({
      [CSS]: async (h) => {
        await gate.promise;
        return res(
          200,
          { 'cache-control': 'public, max-age=600', vary: 'accept-language' },
          `lang=${h['accept-language']}`,
        );
      },
    });
    // Room for one 7-byte body per language besides the witness.
    const cache = await budgetedCache(clk.now, 3 * 7);
    const langs = ['en', 'de', 'en', 'de', 'fr', 'en'];
    const pending = langs.map((l) => cache.get(anon(CSS, { 'accept-language': l }), up.fetcher));
    gate.resolve();
    const results = await Promise.all(pending);
    results.forEach((r, i) => expect(r.response.body.toString()).toBe(`lang=${langs[i]}`));
    expect(up.count()).toBeLessThanOrEqual(4);
    // Exactly three entries: one per language, no duplicate kept beside another.
    for (const lang of ['en', 'de', 'fr']) {
      expect(await cache.probe(anon(CSS, { 'accept-language': lang })), lang).toBe('fresh');
    }
    expect(await cache.witnessKept()).toBe(true);
  });

  test('concurrent revalidations of a stale entry coalesce too', async () => {
    const clk = clock();
    const up = upstream({
      [CSS]: async (h) => {
        if (!h['if-none-match']) return res(200, { 'cache-control': 'public, max-age=10', etag: '"v1"' }, 'a{}');
        await new Promise((r) => setTimeout(r, 10));
        return res(304, { 'cache-control': 'public, max-age=10', etag: '"v1"' });
      },
    });
    const cache = newCache(clk.now);
    await cache.get(anon(CSS), up.fetcher);
    clk.advance(11);
    const results = await Promise.all(Array.from({ length: 10 }, () => cache.get(anon(CSS), up.fetcher)));
    expect(up.count()).toBe(2);
    expect(results.filter((r) => r.outcome === 'revalidated')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'hit')).toHaveLength(9);
    expect(results.every((r) => r.response.body.toString() === 'a{}')).toBe(true);
  });

  test('fetcher errors propagate to the caller and to requests waiting on the same fetch', async () => {
    const clk = clock();
    const gate = deferred<void>();
    let fail = true;
    const up = upstream({
      [CSS]: async () => {
        await gate.promise;
        if (fail) throw new Error('ECONNREFUSED');
        return res(200, { 'cache-control': 'public, max-age=600' }, 'a{}');
      },
    });
    const cache = newCache(clk.now);
    const pending = [cache.get(anon(CSS), up.fetcher), cache.get(anon(CSS), up.fetcher)];
    gate.resolve();
    const settled = await Promise.allSettled(pending);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(up.count()).toBe(1);
    expect(await cache.probe(CSS)).toBe('absent');
    fail = false;
    expect((await cache.get(anon(CSS), up.fetcher)).outcome).toBe('stored');
  });

  test('one waiter aborting does not disturb the fetch others depend on', async () => {
    const clk = clock();
    const gate = deferred<void>();
    const up = upstream({
      [CSS]: async () => {
        await gate.promise;
        return res(200, { 'cache-control': 'public, max-age=600' }, 'a{}');
      },
    });
    const cache = newCache(clk.now);
    const first = cache.get(anon(CSS), up.fetcher);
    const controller = new AbortController();
    const aborted = cache.get(anon(CSS), up.fetcher, controller.signal);
    const third = cache.get(anon(CSS), up.fetcher);
    controller.abort(new Error('client gone'));
    await expect(aborted).rejects.toThrow('client gone');
    gate.resolve();
    expect((await first).outcome).toBe('stored');
    expect((await third).outcome).toBe('hit');
    expect(up.count()).toBe(1);
  });

  test('when the fetching request is aborted, its waiters fetch for themselves', async () => {
    const clk = clock();
    const fetcher: Fetcher = (url, _headers, signal) =>
      new Promise((resolve, reject) => {
        if (signal) {
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
          return;
        }
        setTimeout(() => resolve(res(200, { 'cache-control': 'public, max-age=600' }, `from ${url}`)), 5);
      });
    const cache = newCache(clk.now);
    const controller = new AbortController();
    const leader = cache.get(anon(CSS), fetcher, controller.signal);
    const follower = cache.get(anon(CSS), fetcher);
    controller.abort(new Error('render cancelled'));
    await expect(leader).rejects.toThrow('render cancelled');
    const { outcome, response } = await follower;
    expect(outcome).toBe('stored');
    expect(response.body.toString()).toBe(`from ${CSS}`);
  });
});
