import { test, expect } from '@playwright/test';
import { createGuard } from '../../src/security/ssrf.js';
import { isPdf, readPdf } from '../support/pdf.js';
import { get } from '../support/stack.js';
import {
  blockedCount,
  hostsFileLoopbackName,
  LEAKY_BODY,
  Probes,
  startProbe,
  startSecurityStack,
  type Probe,
  type SecurityStack,
} from '../support/security.js';

// The appliance loads pages that may carry user-generated content from inside the
// operator's network. Every row below is a page that tries to make real Chromium reach a
// loopback listener that is neither the main app nor an allowed origin, in one particular
// way. Each row has a defined answer, and no listener may ever see a connection.

interface Targets {
  /** Listener on 127.0.0.2. */
  p2: Probe;
  /** Listener on 127.0.0.1 (another port than the main app): what localhost names and IPv4 spellings reach. */
  p1: Probe;
  /** Listener on [::1]. */
  p6: Probe;
  /** The allowed origin (ALLOW_ORIGINS), on 127.0.0.4. */
  cdn: string;
}

interface Row {
  name: string;
  path(t: Targets): string;
  status: number;
  /** The page writes what happened to it ("Outcome: ...") into the printed text. */
  text?: RegExp;
  notText?: RegExp;
  location?(t: Targets): string;
}

// Fire-and-forget probes (prefetch, beacon, ...) give the browser this long to act before the
// page declares itself ready. Probes that report their own outcome (onerror, a rejected
// fetch) wait for it, with a fallback long enough for a busy machine.
const FIRE_AND_FORGET_WAIT_MS = 1000;
const REPORT_WAIT_MS = 8000;

const embed = (kind: string, src: string, wait = FIRE_AND_FORGET_WAIT_MS): string =>
  `/hostile/embed.pdf?kind=${kind}&src=${encodeURIComponent(src)}&wait=${wait}`;
const portOf = (p: Probe): number => p.port;
const ws = (p: Probe, scheme = 'ws'): string =>
  `${scheme}://${p.host.includes(':') ? `[${p.host}]` : p.host}:${p.port}/socket`;

const FAILED = /Outcome: failed/;

const ROWS: Row[] = [
  // Sub-resources of every kind, straight at a private address.
  {
    name: 'img to 127.0.0.2',
    path: (t) => embed('img', `${t.p2.url}/img.png`, REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  },
  {
    name: 'img srcset to 127.0.0.2',
    path: (t) => embed('srcset', `${t.p2.url}/srcset.png`, REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  },
  { name: 'iframe to 127.0.0.2', path: (t) => embed('iframe', `${t.p2.url}/frame`), status: 200 },
  {
    name: 'stylesheet to 127.0.0.2',
    path: (t) => embed('css', `${t.p2.url}/style.css`, REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  },
  { name: 'CSS @import to 127.0.0.2', path: (t) => embed('css-import', `${t.p2.url}/import.css`), status: 200 },
  {
    name: 'CSS background-image to 127.0.0.2',
    path: (t) => embed('css-background', `${t.p2.url}/bg.png`),
    status: 200,
  },
  { name: '@font-face to 127.0.0.2', path: (t) => embed('font', `${t.p2.url}/font.woff2`), status: 200 },
  {
    name: 'script to 127.0.0.2',
    path: (t) => embed('script', `${t.p2.url}/app.js`, REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  },
  { name: 'object to 127.0.0.2', path: (t) => embed('object', `${t.p2.url}/object`), status: 200 },
  { name: 'embed to 127.0.0.2', path: (t) => embed('embed', `${t.p2.url}/embed`), status: 200 },
  { name: 'video to 127.0.0.2', path: (t) => embed('video', `${t.p2.url}/video.mp4`), status: 200 },
  { name: 'SVG image to 127.0.0.2', path: (t) => embed('svg-image', `${t.p2.url}/svg.png`), status: 200 },
  {
    name: 'fetch() to 127.0.0.2',
    path: (t) => embed('fetch', `${t.p2.url}/api`, REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  },
  {
    name: 'XMLHttpRequest to 127.0.0.2',
    path: (t) => embed('xhr', `${t.p2.url}/xhr`, REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  },
  {
    name: 'EventSource to 127.0.0.2',
    path: (t) => embed('eventsource', `${t.p2.url}/events`, REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  },
  { name: 'sendBeacon to 127.0.0.2', path: (t) => embed('beacon', `${t.p2.url}/beacon`), status: 200 },
  { name: 'form POST to 127.0.0.2', path: (t) => embed('form', `${t.p2.url}/form`), status: 200 },
  // Things request interception does not see by itself. (Chromium does not always hand a
  // refused request back to a dedicated worker: its fetch() may never settle, hence "done".)
  {
    name: 'dedicated worker fetch() to 127.0.0.2',
    path: (t) => embed('worker', `${t.p2.url}/worker`, 3000),
    status: 200,
    text: /Outcome: (worker failed|done)/,
  },
  {
    name: 'shared worker fetch() to 127.0.0.2',
    path: (t) => embed('shared', `${t.p2.url}/shared`, REPORT_WAIT_MS),
    status: 200,
    text: /Outcome: (no shared workers|shared worker failed)/,
  },
  {
    name: 'service worker fetch() to 127.0.0.2',
    path: (t) => embed('sw', `${t.p2.url}/sw`, REPORT_WAIT_MS),
    status: 200,
    text: /Outcome: service worker refused/,
  },
  {
    name: 'WebSocket ws:// to 127.0.0.2',
    path: (t) => embed('websocket', ws(t.p2), REPORT_WAIT_MS),
    status: 200,
    text: /Outcome: websocket failed/,
  },
  {
    name: 'WebSocket wss:// to 127.0.0.2',
    path: (t) => embed('websocket', ws(t.p2, 'wss'), REPORT_WAIT_MS),
    status: 200,
    text: /Outcome: websocket failed/,
  },
  {
    name: 'WebSocket to [::1]',
    path: (t) => embed('websocket', ws(t.p6), REPORT_WAIT_MS),
    status: 200,
    text: /Outcome: websocket failed/,
  },
  { name: 'link rel=prefetch to 127.0.0.2', path: (t) => embed('prefetch', `${t.p2.url}/prefetch`), status: 200 },
  {
    name: 'link rel=preconnect and dns-prefetch to 127.0.0.2',
    path: (t) => embed('preconnect', t.p2.url),
    status: 200,
  },
  {
    name: 'speculation rules prefetch and prerender of 127.0.0.2',
    path: (t) => embed('speculation', `${t.p2.url}/speculative`),
    status: 200,
  },
  { name: 'window.open() of 127.0.0.2', path: (t) => embed('popup', `${t.p2.url}/popup`), status: 200 },
  // Spellings of loopback that are not "127.0.0.1".
  {
    name: 'IPv4-mapped IPv6 http://[::ffff:127.0.0.1]',
    path: (t) => embed('fetch', `http://[::ffff:127.0.0.1]:${portOf(t.p1)}/mapped`, REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  },
  {
    name: 'IPv4-mapped IPv6 in hex http://[::ffff:7f00:1]',
    path: (t) => embed('fetch', `http://[::ffff:7f00:1]:${portOf(t.p1)}/mapped-hex`, REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  },
  {
    name: 'decimal IPv4 http://2130706433',
    path: (t) => embed('fetch', `http://2130706433:${portOf(t.p1)}/decimal`, REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  },
  {
    name: 'hex IPv4 http://0x7f000001',
    path: (t) => embed('fetch', `http://0x7f000001:${portOf(t.p1)}/hex`, REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  },
  {
    name: 'octal IPv4 http://0177.0.0.1',
    path: (t) => embed('fetch', `http://0177.0.0.1:${portOf(t.p1)}/octal`, REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  },
  {
    name: 'short IPv4 http://127.1',
    path: (t) => embed('fetch', `http://127.1:${portOf(t.p1)}/short`, REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  },
  {
    name: 'unspecified http://0.0.0.0',
    path: (t) => embed('img', `http://0.0.0.0:${portOf(t.p1)}/zero.png`, REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  },
  {
    name: 'IPv6 loopback http://[::1]',
    path: (t) => embed('img', `${t.p6.url}/v6.png`, REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  },
  {
    name: 'IPv6 unspecified http://[::]',
    path: (t) => embed('img', `http://[::]:${portOf(t.p6)}/v6-zero.png`, REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  },
  {
    name: 'public-looking hostname resolving to loopback: probe.localhost',
    path: (t) => embed('img', `http://probe.localhost:${portOf(t.p1)}/name.png`, REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  },
  {
    name: 'LOCALHOST. (case, trailing dot)',
    path: (t) => embed('img', `http://LOCALHOST.:${portOf(t.p1)}/dot.png`, REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  },
  {
    name: 'credentials and a token in the URL',
    path: (t) =>
      embed('img', `http://user:URL-PASSWORD@127.0.0.2:${portOf(t.p2)}/creds.png?token=URL-TOKEN`, REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  },
  // Schemes that never go anywhere.
  {
    name: 'iframe of file:///etc/passwd',
    path: () => embed('iframe', 'file:///etc/passwd'),
    status: 200,
    notText: /root:/,
  },
  {
    name: 'img of file:///etc/passwd',
    path: () => embed('img', 'file:///etc/passwd', REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  },
  {
    name: 'fetch() of file:///etc/passwd',
    path: () => embed('fetch', 'file:///etc/passwd', REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  },
  { name: 'iframe of view-source:', path: (t) => embed('iframe', `view-source:${t.p2.url}/`), status: 200 },
  {
    name: 'iframe of chrome://version',
    path: () => embed('iframe', 'chrome://version'),
    status: 200,
    notText: /Command Line|--no-sandbox|Executable/,
  },
  { name: 'iframe of ftp://127.0.0.2', path: (t) => embed('iframe', `ftp://127.0.0.2:${portOf(t.p2)}/`), status: 200 },
  // Redirects: every hop is judged again.
  {
    name: 'main app sub-resource redirecting to 127.0.0.2',
    path: (t) => embed('img', `/hostile/redirect?to=${encodeURIComponent(`${t.p2.url}/via-main.png`)}`, REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  },
  {
    name: 'allowed origin redirecting an image to 127.0.0.2',
    path: (t) =>
      embed('img', `${t.cdn}/hostile/redirect?to=${encodeURIComponent(`${t.p2.url}/via-cdn.png`)}`, REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  },
  {
    name: 'allowed origin redirecting an iframe (307) to 127.0.0.2',
    path: (t) =>
      embed('iframe', `${t.cdn}/hostile/redirect?status=307&to=${encodeURIComponent(`${t.p2.url}/via-cdn-frame`)}`),
    status: 200,
  },
  // An allowed origin's own (out-of-process) frame is guarded as strictly.
  {
    name: 'allowed cross-site iframe fetching 127.0.0.2',
    path: (t) =>
      embed('iframe', `${t.cdn}/hostile/embed?kind=fetch&src=${encodeURIComponent(`${t.p2.url}/from-cdn`)}`, 2500),
    status: 200,
  },
  {
    name: 'allowed cross-site iframe with an image of [::1]',
    path: (t) =>
      embed('iframe', `${t.cdn}/hostile/embed?kind=img&src=${encodeURIComponent(`${t.p6.url}/from-cdn.png`)}`, 2500),
    status: 200,
  },
  {
    name: 'allowed cross-site iframe opening a WebSocket',
    path: (t) => embed('iframe', `${t.cdn}/hostile/embed?kind=websocket&src=${encodeURIComponent(ws(t.p2))}`, 2500),
    status: 200,
  },
  {
    name: 'allowed cross-site iframe registering a service worker',
    path: (t) =>
      embed('iframe', `${t.cdn}/hostile/embed?kind=sw&src=${encodeURIComponent(`${t.p2.url}/cdn-sw`)}`, 2500),
    status: 200,
  },
  // The main frame stays home.
  {
    name: 'first response redirects to 127.0.0.2: passed to the client, not followed',
    path: (t) => `/hostile/redirect.pdf?to=${encodeURIComponent(`${t.p2.url}/first`)}`,
    status: 302,
    location: (t) => `${t.p2.url}/first`,
  },
  // A later navigation of the top-level frame is refused: the page prints as it stands.
  {
    name: 'main frame: location= to 127.0.0.2',
    path: (t) => embed('location', `${t.p2.url}/location`),
    status: 200,
    text: /Outcome: done/,
  },
  {
    name: 'main frame: location= to the allowed origin',
    path: (t) => embed('location', `${t.cdn}/hostile/ok`),
    status: 200,
    text: /Outcome: done/,
  },
  {
    name: 'main frame: meta refresh to 127.0.0.2',
    path: (t) => embed('meta', `${t.p2.url}/meta`),
    status: 200,
    text: /Outcome: done/,
  },
  {
    name: 'main frame: same-origin page whose server redirects to 127.0.0.2',
    path: (t) => embed('hop', `${t.p2.url}/hop`),
    status: 200,
    text: /Outcome: done/,
  },
  // A navigation that needs no request (about:blank) is not refused by the network: it fails the render.
  { name: 'main frame: about:blank after load', path: () => embed('blank', ''), status: 502 },
  {
    name: 'main frame: redirect loop after a 200',
    path: () => '/hostile/loop-after.pdf',
    status: 200,
    text: /Loop after load/,
  },
];

const hostsName = hostsFileLoopbackName();
if (hostsName) {
  // Only the resolver knows this name is loopback: the guard must resolve, then refuse.
  ROWS.push({
    name: `hostname from the hosts file resolving to 127.0.0.1 (${hostsName})`,
    path: (t) => embed('img', `http://${hostsName}:${portOf(t.p1)}/hosts.png`, REPORT_WAIT_MS),
    status: 200,
    text: FAILED,
  });
}

test.describe('SSRF: nothing a page does reaches a private address', () => {
  let s: SecurityStack;
  let t: Targets;
  let probes: Probes;

  test.beforeAll(async () => {
    const [p2, p1, p6] = await Promise.all([startProbe('127.0.0.2'), startProbe('127.0.0.1'), startProbe('::1')]);
    probes = new Probes([p2, p1, p6]);
    s = await startSecurityStack({ RENDER_TIMEOUT: '10s' });
    t = { p2, p1, p6, cdn: s.cdn.url };
  });
  test.afterAll(async () => {
    await s?.close();
    await probes?.close();
  });

  test(`the table has at least 30 probes (${ROWS.length})`, () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(30);
  });

  for (const row of ROWS) {
    test(row.name, async () => {
      const mark = probes.mark();
      const r = await get(`${s.url}${row.path(t)}`);
      const body = r.body.toString('latin1');
      expect(r.status, r.status === 200 ? 'a PDF' : body).toBe(row.status);
      if (row.status === 200) {
        expect(isPdf(r.body)).toBe(true);
        const text = (await readPdf(r.body)).text.join(' ');
        if (row.text) expect(text).toMatch(row.text);
        if (row.notText) expect(text).not.toMatch(row.notText);
      } else {
        expect(body.length).toBeLessThan(100);
        expect(body).not.toMatch(LEAKY_BODY);
      }
      if (row.location) expect(r.headers.get('location')).toBe(row.location(t));
      // Late arrivals (a speculative fetch, a preconnect) get a moment to show up.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(probes.since(mark), 'no loopback listener may see a connection').toEqual([]);
    });
  }

  test('after the table: no listener was ever reached, blocks were logged and counted, rendering goes on', async () => {
    expect(probes.total()).toEqual([]);
    const counts = await blockedCount(s.app);
    expect(counts['address'] ?? 0).toBeGreaterThan(10);
    expect(counts['worker'] ?? 0).toBeGreaterThanOrEqual(1);
    expect(counts['websocket'] ?? 0).toBeGreaterThanOrEqual(3);
    const blocked = s.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'blocked request');
    expect(blocked.length).toBeGreaterThan(10);
    for (const line of blocked) {
      expect(line.level).toBe('warn');
      expect(typeof line.reason).toBe('string');
      expect(typeof line.requestId).toBe('string');
    }
    expect(blocked.some((l) => String(l.reason).includes('127.0.0.2 (loopback)'))).toBe(true);
    expect(blocked.some((l) => l.source === 'service_worker')).toBe(true);
    expect(blocked.some((l) => l.type === 'websocket')).toBe(true);

    const ok = await get(`${s.url}/hostile/ok.pdf`);
    expect(ok.status).toBe(200);
    expect((await readPdf(ok.body)).text.join(' ')).toContain('Still serving');
  });

  test('credentials never reach another origin, not even through a redirect from the main app', async () => {
    s.main.requests.length = 0;
    s.cdn.requests.length = 0;
    const cookie = 'session=SCOPE-COOKIE-1';
    const authorization = `Basic ${Buffer.from('alice:alice-pw').toString('base64')}`;
    const hop = (to: string) => `/hostile/redirect?to=${encodeURIComponent(`${s.cdn.url}${to}`)}`;
    for (const [kind, to] of [
      ['img', '/assets/logo.png?via=img'],
      ['iframe', '/hostile/ok?via=iframe'],
      ['css', '/assets/invoice.css?via=css'],
    ] as const) {
      const r = await get(`${s.url}${embed(kind, hop(to), 500)}`, {
        headers: { cookie, authorization, 'accept-language': 'pl-PL' },
      });
      expect(r.status, kind).toBe(200);
    }
    // The main app's hop carried the user's identity (an iframe's navigation gets the cookies
    // the jar gives it, not the identity headers: a frame cannot tell who navigated it)...
    const hops = s.main.requests.filter((q) => q.path.startsWith('/hostile/redirect'));
    expect(hops).toHaveLength(3);
    for (const q of hops) {
      expect(q.headers['cookie']).toBe(cookie);
      if (q.path.includes('via%3Diframe')) expect(q.headers['authorization']).toBeUndefined();
      else expect(q.headers['authorization']).toBe(authorization);
    }
    // ...and lost it on the way to the other origin.
    const arrived = s.cdn.requests.filter((q) => /via=/.test(q.path));
    expect(arrived.map((q) => q.path).sort()).toEqual([
      '/assets/invoice.css?via=css',
      '/assets/logo.png?via=img',
      '/hostile/ok?via=iframe',
    ]);
    for (const q of arrived) {
      expect(q.headers['cookie'], q.path).toBeUndefined();
      expect(q.headers['authorization'], q.path).toBeUndefined();
      expect(q.headers['accept-language'], q.path).not.toBe('pl-PL');
      expect(q.headers['x-pdf-appliance'], q.path).toBeUndefined();
    }
  });

  test('logs and error bodies never carry credentials', async () => {
    const secrets = ['LOG-COOKIE-7f3a', 'LOG-BEARER-91c2', 'LOG-QUERY-5d8e', 'URL-PASSWORD', 'URL-TOKEN'];
    const headers = { cookie: 'session=LOG-COOKIE-7f3a', authorization: 'Bearer LOG-BEARER-91c2' };
    // (Chromium itself refuses sub-resources and frames with user:password in the URL, before
    // interception; the table's credentials row covers that. Here: the query token.)
    const r = await get(
      `${s.url}${embed('img', `http://127.0.0.2:${t.p2.port}/x.png?token=URL-TOKEN`, REPORT_WAIT_MS)}&t=LOG-QUERY-5d8e`,
      { headers },
    );
    expect(r.status).toBe(200);
    const failed = await get(`${s.url}/hostile/error.pdf?t=LOG-QUERY-5d8e`, { headers });
    expect(failed.status).toBe(502);
    expect(failed.body.toString()).toBe('The page could not be rendered\n');
    const all = s.logs.join('\n');
    for (const secret of secrets) expect(all, secret).not.toContain(secret);
    // The block itself was logged, with the URL reduced to origin and path.
    expect(all).toContain(`"url":"http://127.0.0.2:${t.p2.port}/x.png?…"`);
  });
});

test.describe('SSRF guard: hostnames are resolved first, then judged', () => {
  // No Chromium, no DNS: a fake resolver stands for names a real one would map to private
  // addresses. (The Chromium table covers *.localhost and, where present, a hosts-file name.)
  const answers: Record<string, string[]> = {
    'intranet.example.com': ['127.0.0.1'],
    'metadata.example.com': ['169.254.169.254'],
    'fly-private.example.com': ['fdaa:0:1:a7b::3'],
    'mapped.example.com': ['::ffff:10.0.0.5'],
    'cgnat.example.com': ['100.64.1.1'],
    'split.example.com': ['93.184.216.34', '192.168.1.10'],
    'public.example.com': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
  };
  const guard = createGuard({
    mainOrigin: 'http://127.0.0.1:3000',
    allowOrigins: [],
    lookup: async (host) => {
      const a = answers[host];
      if (!a) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      return a;
    },
  });

  for (const [host, expected] of [
    ['intranet.example.com', /resolves to private address 127\.0\.0\.1 \(loopback\)/],
    ['metadata.example.com', /169\.254\.169\.254 \(metadata\)/],
    ['fly-private.example.com', /\(ula\)/],
    ['mapped.example.com', /embedded IPv4 10\.0\.0\.5/],
    ['cgnat.example.com', /\(cgnat\)/],
    ['split.example.com', /192\.168\.1\.10 \(rfc1918\)/],
    ['unknown.example.com', /cannot resolve host/],
  ] as const) {
    test(`${host} is refused`, async () => {
      const verdict = await guard.check(`https://${host}/image.png`);
      expect(verdict.allow).toBe(false);
      if (!verdict.allow) expect(verdict.reason).toMatch(expected);
    });
  }

  test('a name that resolves only to public addresses is allowed', async () => {
    expect(await guard.check('https://public.example.com/image.png')).toEqual({ allow: true });
  });
});
