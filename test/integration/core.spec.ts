import { test, expect } from '@playwright/test';
import { isPdf, readPdf } from '../support/pdf.js';
import { freePort, get, getWithHost, startStack, type InProcess } from '../support/stack.js';

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

test.describe('core: a .pdf request becomes the page as a PDF', () => {
  let s: InProcess;
  test.beforeAll(async () => {
    s = await startStack({ RENDER_TIMEOUT: '3s' });
  });
  test.afterAll(async () => {
    await s?.close();
  });
  test.beforeEach(() => {
    s.main.requests.length = 0;
    s.recorder.reset();
  });

  test('renders the page at the same path without .pdf, as a real PDF with the right headers', async () => {
    const r = await get(`${s.url}/t/invoice.pdf`);
    expect(r.status).toBe(200);
    expect(isPdf(r.body)).toBe(true);
    expect(r.headers.get('content-type')).toBe('application/pdf');
    // Streamed from Chromium as it is read: no length up front, and the whole file arrives.
    expect(r.headers.get('transfer-encoding')).toBe('chunked');
    expect(r.headers.get('content-length')).toBeNull();
    expect(Buffer.from(r.body).subarray(-8).toString('latin1')).toMatch(/%%EOF\s*$/);
    expect(r.headers.get('cache-control')).toBe('private, no-store');
    expect(r.headers.get('content-disposition')).toMatch(/^inline; filename="[A-Za-z0-9._ -]+\.pdf"/);
    const pdf = await readPdf(r.body);
    expect(pdf.text.join(' ')).toContain('Invoice #T-1');
    expect(s.main.requests.some((q) => q.path === '/t/invoice')).toBe(true);
  });

  test('maps index.pdf to the folder and keeps query and percent-encoding', async () => {
    const nested = await get(`${s.url}/t/nested/index.pdf`);
    expect(nested.status).toBe(200);
    expect((await readPdf(nested.body)).text.join(' ')).toContain('Nested index');
    expect(s.main.requests.map((q) => q.path)).toContain('/t/nested/');

    await get(`${s.url}/t/echo.pdf?a=1%2F2&b=%C3%A9`);
    expect(s.main.requests.map((q) => q.path)).toContain('/t/echo?a=1%2F2&b=%C3%A9');
  });

  test('hostile paths never leave the main app origin', async () => {
    for (const p of [
      '//127.0.0.2:9/x.pdf',
      '/..%2f..%2fx.pdf',
      '/%5C%5Cevil.example/x.pdf',
      '/@evil.example/x.pdf',
      '/\\\\evil.example\\x.pdf',
    ]) {
      const r = await get(`${s.url}${p}`);
      expect([200, 302, 400, 404], p).toContain(r.status);
    }
    // Every page request reached the main app itself (the recorder never saw one).
    expect(s.recorder.requests).toHaveLength(0);
    expect(s.main.requests.length).toBeGreaterThanOrEqual(4);
  });

  test('other methods on .pdf get 405 with Allow', async () => {
    const r = await get(`${s.url}/t/invoice.pdf`, { method: 'POST', body: 'x' });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('GET, HEAD');
  });

  test('HEAD sends the headers without a body', async () => {
    const r = await get(`${s.url}/t/invoice.pdf`, { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/pdf');
    expect(r.headers.get('content-disposition')).toMatch(/^inline; filename=".+\.pdf"/);
    expect(r.body.length).toBe(0);
  });

  test('everything else redirects 302 to the same path and query on the main app', async () => {
    const r = await get(`${s.url}/invoices?page=2`);
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toBe(`${s.main.url}/invoices?page=2`);
  });

  test('credentials go to the main app origin only; never-forwarded headers stay behind', async () => {
    const r = await get(`${s.url}/t/third-party.pdf`, {
      headers: {
        cookie: 'session=secret-cookie-value',
        authorization: basic('alice', 'alice-pw'),
        'accept-language': 'pl-PL',
        'user-agent': 'UserBrowser/1.0',
        'x-forwarded-for': '6.6.6.6',
        'fly-client-ip': '6.6.6.6',
        via: '1.1 fly.io',
        'x-custom-secret': 'nope',
      },
    });
    expect(r.status).toBe(200);
    const page = s.main.requests.find((q) => q.path === '/t/third-party')!;
    expect(page.headers['cookie']).toBe('session=secret-cookie-value');
    expect(page.headers['authorization']).toBe(basic('alice', 'alice-pw'));
    expect(page.headers['accept-language']).toBe('pl-PL');
    expect(page.headers['user-agent']).toBe('UserBrowser/1.0');
    expect(page.headers['x-pdf-appliance']).toBe('1');
    // What the user asked for, so that a login redirect can lead back to the PDF.
    expect(page.headers['x-pdf-appliance-output']).toBe('/t/third-party.pdf');
    expect(page.headers['x-forwarded-for']).toBeUndefined();
    expect(page.headers['fly-client-ip']).toBeUndefined();
    expect(page.headers['via']).toBeUndefined();
    expect(page.headers['x-custom-secret']).toBeUndefined();
    // Sub-resources on the main app's origin carry them too.
    const subs = s.main.requests.filter((q) => q.path !== '/t/third-party');
    expect(subs.length).toBeGreaterThan(0);
    for (const q of subs) expect(q.headers['cookie'], q.path).toBe('session=secret-cookie-value');
    // The third origin saw requests, none with the user's identity.
    expect(s.recorder.requests.length).toBeGreaterThanOrEqual(2);
    for (const q of s.recorder.requests) {
      expect(q.headers['cookie'], q.path).toBeUndefined();
      expect(q.headers['authorization'], q.path).toBeUndefined();
      expect(q.headers['accept-language'], q.path).not.toBe('pl-PL');
      expect(q.headers['user-agent'], q.path).not.toBe('UserBrowser/1.0');
      expect(q.headers['x-pdf-appliance'], q.path).toBeUndefined();
    }
  });

  test("isolation: a cookie set during one user's render is not seen by the next", async () => {
    const alice = await get(`${s.url}/basic/page.pdf`, { headers: { authorization: basic('alice', 'alice-pw') } });
    expect(alice.status).toBe(200);
    expect((await readPdf(alice.body)).text.join(' ')).toContain('Basic page for Alice Anderson');
    const anon = await get(`${s.url}/basic/page.pdf`);
    expect(anon.status).toBe(302);
    expect(anon.headers.get('location')).toBe(`${s.main.url}/login?next=%2Fbasic%2Fpage`);
    const anonReq = s.main.requests.filter((q) => q.path === '/basic/page').at(-1)!;
    expect(anonReq.headers['cookie']).toBeUndefined();
  });

  test('the main document status decides: redirects, 401, 403/404/410, 5xx', async () => {
    const redirect = await get(`${s.url}/t/redirect.pdf`);
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe(`${s.main.url}/login`);

    // Signed out: the main app's login leads back to the PDF (returnPath), not to the page.
    const login = await get(`${s.url}/invoices/1.pdf?download`);
    expect(login.status).toBe(302);
    expect(login.headers.get('location')).toBe(
      `${s.main.url}/login?next=${encodeURIComponent('/invoices/1.pdf?download')}`,
    );
    const index = await get(`${s.url}/docs/index.pdf`);
    expect(index.headers.get('location')).toBe(`${s.main.url}/login?next=${encodeURIComponent('/docs/index.pdf')}`);

    const unauth = await get(`${s.url}/t/401.pdf`);
    expect(unauth.status).toBe(401);
    expect(unauth.headers.get('www-authenticate')).toBe('Basic realm="fixture"');

    for (const code of [403, 404, 410]) {
      const r = await get(`${s.url}/t/${code}.pdf`);
      expect(r.status).toBe(code);
      expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(r.body.length).toBeLessThan(100);
    }
    for (const code of [500, 503]) {
      const r = await get(`${s.url}/t/${code}.pdf`);
      expect(r.status).toBe(502);
      expect(r.body.toString()).not.toMatch(/at |Error|stack|\/work\//);
    }
  });

  test('not ready within RENDER_TIMEOUT answers 504 with a short body', async () => {
    const r = await get(`${s.url}/t/slow.pdf?ms=6000`);
    expect(r.status).toBe(504);
    // Short, and says which setting decides: the user can pass it on.
    expect(r.body.toString()).toMatch(/^Rendering took longer than RENDER_TIMEOUT \(3 s\)\..*\n$/);
    expect(r.body.length).toBeLessThan(200);
  });

  test('loop guard: a request carrying the appliance header gets 508', async () => {
    const r = await get(`${s.url}/t/invoice.pdf`, { headers: { 'x-pdf-appliance': '1' } });
    expect(r.status).toBe(508);
  });

  test('waits for a page built by JavaScript after a fetch', async () => {
    const r = await get(`${s.url}/t/js.pdf`);
    expect(r.status).toBe(200);
    expect((await readPdf(r.body)).text.join(' ')).toContain('Data loaded');
  });

  test('health: 200 JSON, never a redirect', async () => {
    const r = await get(`${s.url}/healthz`);
    expect(r.status).toBe(200);
    const body = JSON.parse(r.body.toString());
    expect(body.browser.state).toBe('ready');
    expect(body.running).toBe(0);
    expect(body.queued).toBe(0);
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  test('logs: one JSON line per request with timings; credentials never logged', async () => {
    await get(`${s.url}/t/invoice.pdf?token=query-secret`, {
      headers: { cookie: 'session=LOG-COOKIE-123', authorization: 'Bearer LOG-TOKEN-456' },
    });
    const line = s.logs
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg === 'render request')
      .at(-1);
    expect(line).toMatchObject({ method: 'GET', path: '/t/invoice.pdf', status: 200 });
    expect(typeof line.requestId).toBe('string');
    expect(line.target).toBe(`${s.main.url}/t/invoice?…`);
    for (const k of ['queueMs', 'navigationMs', 'printMs', 'ms', 'bytes']) expect(typeof line[k], k).toBe('number');
    const all = s.logs.join('\n');
    expect(all).not.toContain('LOG-COOKIE-123');
    expect(all).not.toContain('LOG-TOKEN-456');
    expect(all).not.toContain('query-secret');
  });
});

test.describe('core: environment options', () => {
  test('FORMAT and LANDSCAPE set the page size; CSS @page wins', async () => {
    const s = await startStack({ FORMAT: 'A4', LANDSCAPE: 'true' });
    try {
      const r = await get(`${s.url}/t/invoice.pdf`);
      const pdf = await readPdf(r.body);
      expect(pdf.sizes[0]!.width).toBeCloseTo(842, -1);
      expect(pdf.sizes[0]!.height).toBeCloseTo(595, -1);
      const css = await get(`${s.url}/print/css-page.pdf`);
      const a5 = (await readPdf(css.body)).sizes[0]!;
      expect([a5.width, a5.height].sort()).toEqual([420, 595]);
    } finally {
      await s.close();
    }
  });

  test('JAVASCRIPT=false prints at load with scripts disabled', async () => {
    const s = await startStack({ JAVASCRIPT: 'false' });
    try {
      const r = await get(`${s.url}/t/js.pdf`);
      expect(r.status).toBe(200);
      expect((await readPdf(r.body)).text.join(' ')).not.toContain('Data loaded');
      expect(s.main.requests.some((q) => q.path.startsWith('/api/data'))).toBe(false);
    } finally {
      await s.close();
    }
  });

  test('TARGET_HOSTS: a listed Host selects that host; any other Host is ignored', async () => {
    const port = await freePort();
    const t = await startStack({ TARGET_HOSTS: `localhost:${port}` }, { port });
    try {
      const listed = await getWithHost(`${t.url}/t/echo.pdf`, `localhost:${port}`);
      expect(listed.status).toBe(200);
      expect(t.main.requests.at(-1)!.headers['host']).toBe(`localhost:${port}`);
      const other = await getWithHost(`${t.url}/t/echo.pdf`, 'evil.example');
      expect(other.status).toBe(200);
      expect(t.main.requests.at(-1)!.headers['host']).toBe(`127.0.0.1:${port}`);
      const r = await getWithHost(`${t.url}/somewhere`, 'evil.example');
      expect(r.headers['location']).toBe(`${t.main.url}/somewhere`);
    } finally {
      await t.close();
    }
  });

  test('main app unreachable: 502', async () => {
    const s = await startStack({});
    await s.main.close();
    try {
      const r = await get(`${s.url}/t/invoice.pdf`);
      expect(r.status).toBe(502);
    } finally {
      await s.app.shutdown('test');
      await s.recorder.close();
    }
  });
});
