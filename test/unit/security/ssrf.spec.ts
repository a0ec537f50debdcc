import { test, expect } from '@playwright/test';
import { createGuard, normalizeOrigin } from '../../../src/security/ssrf.js';

// Fake DNS: no real resolver is consulted, so results are deterministic and nothing leaves loopback.
const ZONE: Record<string, string[]> = {
  'example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
  'cdn.example': ['151.101.1.1'],
  'rebind.test': ['127.0.0.1'],
  'mixed.test': ['93.184.215.14', '10.1.2.3'],
  'v6-ula.test': ['2606:4700::1111', 'fdaa:0:1::3'],
  'metadata.test': ['169.254.169.254'],
  'mapped.test': ['::ffff:192.168.1.1'],
  intranet: ['192.168.0.10'],
  'empty.test': [],
  'garbage.test': ['not-an-ip'],
};

function fakeLookup(calls: string[] = []): (host: string) => Promise<string[]> {
  return async (host) => {
    calls.push(host);
    const answer = ZONE[host];
    if (answer === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return answer;
  };
}

const MAIN = 'http://127.0.0.1:3000';
const ALLOWED = ['http://10.0.0.5:8080', 'https://assets.internal'];

type Row = [url: string, allow: boolean, reasonPart?: string];

const ROWS: Row[] = [
  // IPv4 literals, one per blocked range
  ['http://0.0.0.0/', false, '(unspecified)'],
  ['http://0.1.2.3/', false, '(this-network)'],
  ['http://127.0.0.1/', false, 'private address 127.0.0.1 (loopback)'],
  ['http://127.255.255.254/', false, '(loopback)'],
  ['http://10.0.0.1/', false, 'private address 10.0.0.1 (rfc1918)'],
  ['http://172.16.0.1/', false, '(rfc1918)'],
  ['http://172.31.255.255/', false, '(rfc1918)'],
  ['http://192.168.1.1/', false, '(rfc1918)'],
  ['http://100.64.0.1/', false, '(cgnat)'],
  ['http://100.127.255.255/', false, '(cgnat)'],
  ['http://169.254.1.1/', false, '(link-local)'],
  ['http://169.254.169.254/latest/meta-data/', false, 'private address 169.254.169.254 (metadata)'],
  ['http://192.0.0.8/', false, '(ietf-protocol)'],
  ['http://192.0.2.1/', false, '(documentation)'],
  ['http://198.18.0.1/', false, '(benchmarking)'],
  ['http://198.19.255.1/', false, '(benchmarking)'],
  ['http://198.51.100.7/', false, '(documentation)'],
  ['http://203.0.113.9/', false, '(documentation)'],
  ['http://224.0.0.1/', false, '(multicast)'],
  ['http://239.255.255.250/', false, '(multicast)'],
  ['http://240.0.0.1/', false, '(reserved)'],
  ['http://255.255.255.255/', false, '(broadcast)'],
  // Just outside the blocked ranges
  ['http://172.32.0.1/', true],
  ['http://100.128.0.1/', true],
  ['http://11.0.0.1/', true],
  ['https://8.8.8.8/', true],
  // Alternative IPv4 spellings (WHATWG/Chromium normalise them to 127.0.0.1)
  ['http://2130706433/', false, '127.0.0.1 (loopback)'],
  ['http://0x7f000001/', false, '127.0.0.1 (loopback)'],
  ['http://017700000001/', false, '127.0.0.1 (loopback)'],
  ['http://127.1/', false, '127.0.0.1 (loopback)'],
  ['http://0x7f.1/', false, '127.0.0.1 (loopback)'],
  ['http://0/', false, '(unspecified)'],
  ['http://127.0.0.1./', false, '(loopback)'],
  ['http://%31%32%37.0.0.1/', false, '(loopback)'],
  // IPv6 literals
  ['http://[::]/', false, '(unspecified)'],
  ['http://[::1]:8080/', false, 'private address ::1 (loopback)'],
  ['http://[::ffff:127.0.0.1]/', false, '(loopback, embedded IPv4 127.0.0.1)'],
  ['http://[::ffff:7f00:1]/', false, '(loopback, embedded IPv4 127.0.0.1)'],
  ['http://[::127.0.0.1]/', false, '(loopback, embedded IPv4 127.0.0.1)'],
  ['http://[0:0:0:0:0:ffff:a00:1]/', false, '(rfc1918, embedded IPv4 10.0.0.1)'],
  ['http://[::ffff:0:a9fe:a9fe]/', false, '(metadata, embedded IPv4 169.254.169.254)'],
  ['http://[fdaa::3]/', false, 'private address fdaa::3 (ula)'],
  ['http://[fc00::1]/', false, '(ula)'],
  ['http://[fe80::1]/', false, '(ipv6-link-local)'],
  ['http://[febf:ffff::1]/', false, '(ipv6-link-local)'],
  ['http://[fec0::1]/', false, '(site-local)'],
  ['http://[ff02::1]/', false, '(multicast)'],
  ['http://[2001:db8::1]/', false, '(documentation)'],
  ['http://[2001::1]/', false, '(teredo)'],
  ['http://[64:ff9b::7f00:1]/', false, '(loopback, embedded IPv4 127.0.0.1)'],
  ['http://[64:ff9b::10.0.0.1]/', false, '(rfc1918, embedded IPv4 10.0.0.1)'],
  ['http://[2002:7f00:1::]/', false, '(loopback, embedded IPv4 127.0.0.1)'],
  ['http://[2002:c0a8:101::1]/', false, '(rfc1918, embedded IPv4 192.168.1.1)'],
  ['http://[100::1]/', false, '(reserved)'],
  ['http://[::ffff:8.8.8.8]/', true],
  ['http://[64:ff9b::808:808]/', true],
  ['http://[2002:808:808::1]/', true],
  ['http://[2606:4700:4700::1111]/', true],
  // Schemes
  ['file:///etc/passwd', false, 'scheme file: is never allowed'],
  ['view-source:http://x/', false, 'scheme view-source: is never allowed'],
  ['chrome://settings', false, 'scheme chrome: is never allowed'],
  ['chrome-extension://abcdef/x.js', false, 'scheme chrome-extension:'],
  ['devtools://devtools/bundled/inspector.html', false, 'scheme devtools:'],
  ['filesystem:http://x/temporary/a', false, 'scheme filesystem:'],
  ['ftp://x/', false, 'scheme ftp: is never allowed'],
  ['javascript:alert(1)', false, 'scheme javascript: is never allowed'],
  ['gopher://127.0.0.1:6379/_FLUSHALL', false, 'scheme gopher:'],
  ['data:text/html,<h1>hi</h1>', true],
  ['data:image/png;base64,iVBORw0KGgo=', true],
  ['blob:http://127.0.0.1:3000/0b3c-4d1e', true],
  ['about:blank', true],
  ['not a url', false, 'unparseable URL'],
  ['http://[::1/', false, 'unparseable URL'],
  // Main origin and allowlist
  [`${MAIN}/invoices/42`, true],
  [`${MAIN}/assets/app.css?v=1`, true],
  ['ws://127.0.0.1:3000/live', true],
  ['http://127.0.0.1:3001/', false, '(loopback)'],
  ['https://127.0.0.1:3000/', false, '(loopback)'],
  ['http://127.0.0.1:80/', false, '(loopback)'],
  ['http://10.0.0.5:8080/img/logo.png', true],
  ['http://10.0.0.5/', false, '(rfc1918)'],
  ['http://10.0.0.5:8081/', false, '(rfc1918)'],
  ['https://assets.internal/font.woff2', true],
  ['https://ASSETS.internal:443/font.woff2', true],
  ['http://assets.internal/font.woff2', false, 'cannot resolve'],
  ['ws://127.0.0.1/', false, '(loopback)'],
  ['wss://127.0.0.1/', false, '(loopback)'],
  ['http://user:pass@127.0.0.1/', false, '(loopback)'],
  ['http://user:pass@example.com/', true],
  // Hostnames through (fake) DNS
  ['https://example.com/', true],
  ['http://example.com./', true],
  ['http://EXAMPLE.COM/Path', true],
  ['wss://cdn.example/socket', true],
  ['http://rebind.test/', false, 'host rebind.test resolves to private address 127.0.0.1 (loopback)'],
  ['http://mixed.test/', false, 'host mixed.test resolves to private address 10.1.2.3 (rfc1918)'],
  ['http://v6-ula.test/', false, 'fdaa:0:1::3 (ula)'],
  ['http://metadata.test/', false, '(metadata)'],
  ['http://mapped.test/', false, '(rfc1918, embedded IPv4 192.168.1.1)'],
  ['http://intranet/', false, '(rfc1918)'],
  ['http://nope.invalid/', false, 'cannot resolve host nope.invalid: ENOTFOUND'],
  ['http://empty.test/', false, 'cannot resolve host empty.test: no addresses'],
  ['http://garbage.test/', false, 'unrecognised address not-an-ip'],
  ['http://localhost/', false, 'host localhost is loopback by definition'],
  ['http://localhost.:3000/', false, 'loopback by definition'],
  ['http://LOCALHOST/', false, 'loopback by definition'],
  ['http://api.localhost/', false, 'loopback by definition'],
];

test.describe('guard.check', () => {
  const guard = createGuard({ mainOrigin: MAIN, allowOrigins: ALLOWED, lookup: fakeLookup() });

  for (const [url, allow, reasonPart] of ROWS) {
    test(`${allow ? 'allows' : 'denies'} ${url}`, async () => {
      const verdict = await guard.check(url);
      expect(verdict.allow).toBe(allow);
      if (!verdict.allow && reasonPart !== undefined) expect(verdict.reason).toContain(reasonPart);
    });
  }

  test('table has at least 40 rows', () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(40);
  });
});

test.describe('guard DNS behaviour', () => {
  test('localhost names and IP literals never reach DNS', async () => {
    const calls: string[] = [];
    const guard = createGuard({ mainOrigin: MAIN, allowOrigins: [], lookup: fakeLookup(calls) });
    await guard.check('http://localhost/');
    await guard.check('http://a.b.localhost./');
    await guard.check('http://127.1/');
    await guard.check('http://[fdaa::3]/');
    await guard.check(`${MAIN}/x`);
    expect(calls).toEqual([]);
  });

  test('trailing dot and case are stripped before lookup', async () => {
    const calls: string[] = [];
    const guard = createGuard({ mainOrigin: MAIN, allowOrigins: [], lookup: fakeLookup(calls), cacheTtlMs: 0 });
    expect((await guard.check('http://Example.COM./')).allow).toBe(true);
    expect(calls).toEqual(['example.com']);
  });

  test('answers are cached and concurrent checks share one lookup', async () => {
    const calls: string[] = [];
    const guard = createGuard({ mainOrigin: MAIN, allowOrigins: [], lookup: fakeLookup(calls) });
    const verdicts = await Promise.all(
      Array.from({ length: 20 }, (_, i) => guard.check(`https://example.com/img/${i}.png`)),
    );
    expect(verdicts.every((v) => v.allow)).toBe(true);
    await guard.check('https://example.com/again');
    expect(calls).toEqual(['example.com']);
  });

  test('cache entries expire after cacheTtlMs', async () => {
    const calls: string[] = [];
    const guard = createGuard({ mainOrigin: MAIN, allowOrigins: [], lookup: fakeLookup(calls), cacheTtlMs: 20 });
    await guard.check('https://example.com/');
    await guard.check('https://example.com/');
    expect(calls.length).toBe(1);
    await new Promise((r) => setTimeout(r, 50));
    await guard.check('https://example.com/');
    expect(calls.length).toBe(2);
  });

  test('a changed DNS answer is seen once the cache expires', async () => {
    let answer = ['93.184.215.14'];
    const guard = createGuard({
      mainOrigin: MAIN,
      allowOrigins: [],
      lookup: async () => answer,
      cacheTtlMs: 10,
    });
    expect((await guard.check('http://flip.test/')).allow).toBe(true);
    answer = ['127.0.0.1'];
    await new Promise((r) => setTimeout(r, 30));
    const verdict = await guard.check('http://flip.test/');
    expect(verdict).toEqual({
      allow: false,
      reason: 'host flip.test resolves to private address 127.0.0.1 (loopback)',
      category: 'resolution',
    });
  });

  test('cache size is bounded (oldest entry evicted)', async () => {
    const calls: string[] = [];
    const lookup = async (host: string): Promise<string[]> => {
      calls.push(host);
      return ['93.184.215.14'];
    };
    const guard = createGuard({ mainOrigin: MAIN, allowOrigins: [], lookup, cacheMaxEntries: 3 });
    for (const h of ['a.test', 'b.test', 'c.test', 'd.test']) await guard.check(`http://${h}/`);
    await guard.check('http://d.test/'); // still cached
    await guard.check('http://a.test/'); // evicted by d.test, looked up again
    expect(calls).toEqual(['a.test', 'b.test', 'c.test', 'd.test', 'a.test']);
  });

  test('failed lookups are not cached', async () => {
    let fail = true;
    const calls: string[] = [];
    const lookup = async (host: string): Promise<string[]> => {
      calls.push(host);
      if (fail) throw Object.assign(new Error('temporary'), { code: 'EAI_AGAIN' });
      return ['93.184.215.14'];
    };
    const guard = createGuard({ mainOrigin: MAIN, allowOrigins: [], lookup });
    expect(await guard.check('http://flaky.test/')).toEqual({
      allow: false,
      reason: 'cannot resolve host flaky.test: EAI_AGAIN',
      category: 'dns',
    });
    fail = false;
    expect((await guard.check('http://flaky.test/')).allow).toBe(true);
    expect(calls.length).toBe(2);
  });

  test('a lookup that hangs is denied after lookupTimeoutMs', async () => {
    const guard = createGuard({
      mainOrigin: MAIN,
      allowOrigins: [],
      lookup: () => new Promise<string[]>(() => {}),
      lookupTimeoutMs: 30,
    });
    const verdict = await guard.check('http://slow.test/');
    expect(verdict.allow).toBe(false);
    if (!verdict.allow) expect(verdict.reason).toBe('cannot resolve host slow.test: timed out after 30ms');
  });

  test('a lookup that throws synchronously is a denial, not a crash', async () => {
    const guard = createGuard({
      mainOrigin: MAIN,
      allowOrigins: [],
      lookup: () => {
        throw new Error('boom');
      },
    });
    expect(await guard.check('http://sync.test/')).toEqual({
      allow: false,
      reason: 'cannot resolve host sync.test: boom',
      category: 'dns',
    });
  });

  test('default lookup is used when none is injected (localhost short-circuits)', async () => {
    const guard = createGuard({ mainOrigin: MAIN, allowOrigins: [] });
    expect((await guard.check('http://localhost:9/')).allow).toBe(false);
  });
});

/** A resolver whose answers change from one lookup to the next (a rebinding name). */
function sequence(
  answers: string[][],
  calls: string[] = [],
  onLookup?: () => Promise<void> | void,
): (host: string) => Promise<string[]> {
  let i = 0;
  return async (host) => {
    calls.push(host);
    await onLookup?.();
    return answers[Math.min(i++, answers.length - 1)]!;
  };
}

test.describe('guard.connectTo dials only what it vetted', () => {
  // A name that answers a public address first and a private one after (DNS rebinding): the
  // connection must go to an address that was checked, never to a later, unchecked answer.
  const PUBLIC = ['93.184.215.14'];
  const PRIVATE = ['10.1.2.3'];

  test('without a cache (cacheTtlMs: 0): one lookup, and the vetted answer is the one dialled', async () => {
    const calls: string[] = [];
    const guard = createGuard({
      mainOrigin: MAIN,
      allowOrigins: [],
      lookup: sequence([PUBLIC, PRIVATE], calls),
      cacheTtlMs: 0,
    });
    expect(await guard.connectTo('rebind.test', 443)).toEqual({ allow: true, addresses: PUBLIC });
    expect(calls).toEqual(['rebind.test']);
    // The next connection looks again, and the private answer is refused, not dialled.
    expect(await guard.connectTo('rebind.test', 443)).toEqual({
      allow: false,
      reason: 'host rebind.test resolves to private address 10.1.2.3 (rfc1918)',
      category: 'resolution',
    });
  });

  test('a cache entry that expires while the name is vetted is not looked up again for the dial', async () => {
    // The lookup takes longer than the entry lives (20 ms against 5 ms), as a slow resolver can.
    let clock = 1_000_000;
    const calls: string[] = [];
    const slow = async (): Promise<void> => {
      await new Promise((r) => setTimeout(r, 20));
      clock += 20;
    };
    const guard = createGuard({
      mainOrigin: MAIN,
      allowOrigins: [],
      lookup: sequence([PUBLIC, PRIVATE], calls, slow),
      cacheTtlMs: 5,
      now: () => clock,
    });
    expect(await guard.connectTo('rebind.test', 443)).toEqual({ allow: true, addresses: PUBLIC });
    expect(calls).toEqual(['rebind.test']);
  });

  test('with an expiring cache: the cached answer is reused while fresh, and a new answer is vetted again', async () => {
    let clock = 1_000_000;
    const calls: string[] = [];
    const guard = createGuard({
      mainOrigin: MAIN,
      allowOrigins: [],
      lookup: sequence([PUBLIC, PRIVATE], calls),
      cacheTtlMs: 1000,
      now: () => clock,
    });
    expect(await guard.connectTo('rebind.test', 443)).toEqual({ allow: true, addresses: PUBLIC });
    clock += 999;
    expect(await guard.connectTo('rebind.test', 443)).toEqual({ allow: true, addresses: PUBLIC });
    expect(calls.length).toBe(1);
    clock += 1;
    const verdict = await guard.connectTo('rebind.test', 443);
    expect(verdict.allow).toBe(false);
    expect(calls.length).toBe(2);
  });

  test('the self check and the address check share that one lookup', async () => {
    const calls: string[] = [];
    const self = { names: [], suffixes: [], port: 443, addresses: new Set(['127.0.0.1']) };
    const guard = createGuard({
      mainOrigin: MAIN,
      allowOrigins: [],
      lookup: sequence([PUBLIC, ['127.0.0.1']], calls),
      cacheTtlMs: 0,
      self,
    });
    expect(await guard.connectTo('rebind.test', 443)).toEqual({ allow: true, addresses: PUBLIC });
    expect(calls).toEqual(['rebind.test']);
    expect(await guard.connectTo('rebind.test', 443)).toMatchObject({ allow: false, category: 'self' });
  });

  test('every vetted address is offered (IPv4 and IPv6, for happy eyeballs); one private answer refuses them all', async () => {
    const guard = createGuard({ mainOrigin: MAIN, allowOrigins: [], lookup: fakeLookup(), cacheTtlMs: 0 });
    expect(await guard.connectTo('example.com', 443)).toEqual({ allow: true, addresses: ZONE['example.com'] });
    expect(await guard.connectTo('mixed.test', 443)).toMatchObject({ allow: false, category: 'resolution' });
  });

  test('a check that passed does not let a later private answer through at connect', async () => {
    const guard = createGuard({
      mainOrigin: MAIN,
      allowOrigins: [],
      lookup: sequence([PUBLIC, PRIVATE]),
      cacheTtlMs: 0,
    });
    expect(await guard.check('https://rebind.test/x.png')).toEqual({ allow: true });
    expect(await guard.connectTo('rebind.test', 443)).toMatchObject({ allow: false, category: 'resolution' });
  });

  test('literals, trusted origins and refusals', async () => {
    const guard = createGuard({
      mainOrigin: MAIN,
      allowOrigins: ['http://assets.test:8080'],
      lookup: sequence([['10.0.0.7', '10.0.0.8']]),
      cacheTtlMs: 0,
    });
    expect(await guard.connectTo('8.8.8.8', 443)).toEqual({ allow: true, addresses: ['8.8.8.8'] });
    expect(await guard.connectTo('[2606:4700::1111]', 443)).toEqual({ allow: true, addresses: ['2606:4700::1111'] });
    expect(await guard.connectTo('127.0.0.1', 3000)).toEqual({ allow: true, addresses: ['127.0.0.1'] });
    // A trusted name skips the address checks, but is still dialled only at what was looked up.
    expect(await guard.connectTo('assets.test', 8080)).toEqual({ allow: true, addresses: ['10.0.0.7', '10.0.0.8'] });
    expect(await guard.connectTo('127.0.0.1', 3001)).toMatchObject({ allow: false, category: 'address' });
    expect(await guard.connectTo('localhost', 80)).toMatchObject({ allow: false, category: 'address' });
    expect(await guard.connectTo('', 80)).toMatchObject({ allow: false, category: 'invalid' });
  });
});

test.describe('refusals carry their category as data', () => {
  const self = { names: ['me-pdf.fly.dev'], suffixes: [], port: 3100, addresses: new Set(['127.0.0.1']) };
  const guard = createGuard({ mainOrigin: MAIN, allowOrigins: [], lookup: fakeLookup(), self });
  const CATEGORIES: Array<[url: string, category: string]> = [
    ['file:///etc/passwd', 'scheme'],
    ['not a url', 'invalid'],
    ['http://10.0.0.1/', 'address'],
    ['http://[fdaa::3]/', 'address'],
    ['http://localhost/', 'address'],
    ['http://rebind.test/', 'resolution'],
    ['http://garbage.test/', 'resolution'],
    ['http://nope.invalid/', 'dns'],
    ['http://empty.test/', 'dns'],
    ['https://me-pdf.fly.dev/', 'self'],
    ['http://127.0.0.1:3100/', 'self'],
  ];
  for (const [url, category] of CATEGORIES) {
    test(`${url} → ${category}`, async () => {
      expect(await guard.check(url)).toMatchObject({ allow: false, category });
    });
  }
});

test.describe('createGuard options', () => {
  test('rejects an invalid allowOrigins entry at construction', () => {
    expect(() => createGuard({ mainOrigin: MAIN, allowOrigins: ['cdn.example'] })).toThrow();
    expect(() => createGuard({ mainOrigin: 'ftp://x', allowOrigins: [] })).toThrow();
  });

  test('allowOrigins and mainOrigin are compared in normalised form', async () => {
    const guard = createGuard({
      mainOrigin: 'HTTP://127.0.0.1:3000/',
      allowOrigins: ['https://Assets.Internal:443'],
      lookup: fakeLookup(),
    });
    expect((await guard.check('http://127.0.0.1:3000/x')).allow).toBe(true);
    expect((await guard.check('https://assets.internal/y')).allow).toBe(true);
    expect((await guard.check('wss://assets.internal/z')).allow).toBe(true);
  });

  test('an IPv6 main origin is matched', async () => {
    const guard = createGuard({ mainOrigin: 'http://[fdaa:0:1::2]:3000', allowOrigins: [], lookup: fakeLookup() });
    expect((await guard.check('http://[fdaa:0:1:0:0:0:0:2]:3000/invoices/1')).allow).toBe(true);
    expect((await guard.check('http://[fdaa:0:1::2]:3001/')).allow).toBe(false);
  });
});

test.describe('normalizeOrigin', () => {
  const GOOD: Array<[string, string]> = [
    ['http://10.0.0.5:8080', 'http://10.0.0.5:8080'],
    ['https://cdn.example', 'https://cdn.example'],
    ['https://CDN.Example/', 'https://cdn.example'],
    ['https://cdn.example:443', 'https://cdn.example'],
    ['http://cdn.example:80/', 'http://cdn.example'],
    ['  http://127.0.0.1:3000  ', 'http://127.0.0.1:3000'],
    ['http://[FDAA::0003]:8080', 'http://[fdaa::3]:8080'],
    ['http://2130706433', 'http://127.0.0.1'],
    ['https://bücher.example', 'https://xn--bcher-kva.example'],
  ];
  for (const [input, output] of GOOD) {
    test(`accepts ${JSON.stringify(input)}`, () => {
      expect(normalizeOrigin(input)).toBe(output);
    });
  }

  const BAD = [
    '',
    'cdn.example',
    '//cdn.example',
    'ftp://cdn.example',
    'ws://cdn.example',
    'file:///etc',
    'data:text/plain,x',
    'null',
    'https://cdn.example/path',
    'https://cdn.example/?q=1',
    'https://cdn.example/#frag',
    'https://cdn.example#',
    'https://user:pw@cdn.example',
    'http://[::1',
  ];
  for (const input of BAD) {
    test(`rejects ${JSON.stringify(input)}`, () => {
      expect(() => normalizeOrigin(input)).toThrow();
    });
  }
});
