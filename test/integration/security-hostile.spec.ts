import { test, expect } from '@playwright/test';
import { isPdf, readPdf } from '../support/pdf.js';
import { get, getWithHost } from '../support/stack.js';
import {
  LEAKY_BODY,
  Probes,
  rawRequest,
  startProbe,
  startSecurityStack,
  type Probe,
  type SecurityStack,
} from '../support/security.js';

// Hostile input: requests and main-app behaviour meant to break the appliance. Each
// row has one defined answer; the appliance stays up and serves a normal PDF afterwards; and
// a loopback listener (127.0.0.2) that some rows name as "the host" is never contacted.

interface Answer {
  /** null: the server closed the connection without answering. */
  status: number | null;
  headers: Record<string, string>;
  body: Buffer;
}

interface Ctx {
  url: string;
  probe: Probe;
  mainUrl: string;
}

interface Row {
  name: string;
  send(c: Ctx): Promise<Answer>;
  status: number | null;
  check?(a: Answer, c: Ctx): void | Promise<void>;
}

async function fetchAnswer(url: string, init: RequestInit = {}): Promise<Answer> {
  const r = await get(url, init);
  const headers: Record<string, string> = {};
  r.headers.forEach((v, k) => {
    headers[k] = v;
  });
  return { status: r.status, headers, body: r.body };
}

async function raw(c: Ctx, request: string | Buffer): Promise<Answer> {
  const a = await rawRequest(c.url, request);
  return { status: a.status, headers: a.headers, body: Buffer.from(a.body, 'latin1') };
}

const host = (c: Ctx): string => new URL(c.url).host;
const rawGet = (c: Ctx, target: string, extra = ''): string =>
  `GET ${target} HTTP/1.1\r\nHost: ${host(c)}\r\n${extra}Connection: close\r\n\r\n`;

async function pdfText(a: Answer): Promise<string> {
  expect(isPdf(a.body)).toBe(true);
  return (await readPdf(a.body)).text.join(' ');
}

/** A filename that stays short and cannot break out of the header or the directory. */
function expectBoundedDisposition(a: Answer): void {
  const cd = a.headers['content-disposition'] ?? '';
  expect(cd).toMatch(/^inline; filename="[A-Za-z0-9._ -]+\.pdf"/);
  expect(cd.length).toBeLessThan(600);
  expect(cd).not.toMatch(/[\r\n\0]/);
  const fallback = /filename="([^"]*)"/.exec(cd)![1]!;
  expect(fallback.length).toBeLessThanOrEqual(120);
}

const ROWS: Row[] = [
  // Sizes.
  {
    name: 'request target over 8 KiB (.pdf) → 414',
    send: (c) => fetchAnswer(`${c.url}/t/${'a'.repeat(9000)}.pdf`),
    status: 414,
  },
  {
    name: 'request target over 8 KiB (other path) → 414',
    send: (c) => fetchAnswer(`${c.url}/${'a'.repeat(9000)}`),
    status: 414,
  },
  {
    name: 'query string over 8 KiB → 414',
    send: (c) => fetchAnswer(`${c.url}/t/invoice.pdf?q=${'q'.repeat(9000)}`),
    status: 414,
  },
  {
    name: 'header block over 32 KiB → 431',
    send: (c) => raw(c, rawGet(c, '/t/invoice.pdf', `X-Big: ${'b'.repeat(40_000)}\r\n`)),
    status: 431,
  },
  // Bytes that do not belong in a request line.
  { name: 'CR inside the path → 400', send: (c) => raw(c, rawGet(c, '/t/inv\roice.pdf')), status: 400 },
  { name: 'LF inside the path → 400', send: (c) => raw(c, rawGet(c, '/t/inv\noice.pdf')), status: 400 },
  { name: 'NUL inside the path → 400', send: (c) => raw(c, rawGet(c, '/t/inv\0oice.pdf')), status: 400 },
  {
    name: 'percent-encoded CRLF in the path → rendered, nothing injected into the answer',
    send: (c) => fetchAnswer(`${c.url}/hostile/any/a%0d%0aSet-Cookie:%20evil=1%0d%0a.pdf`),
    status: 200,
    check: (a) => {
      expect(a.headers['set-cookie']).toBeUndefined();
      expectBoundedDisposition(a);
    },
  },
  {
    // Node's parser accepts only ASCII in a request target; browsers percent-encode the rest.
    name: 'raw non-UTF-8 bytes in the path → 400',
    send: (c) =>
      raw(
        c,
        Buffer.concat([
          Buffer.from('GET /hostile/any/'),
          Buffer.from([0xff, 0xfe, 0xc3]),
          Buffer.from(`.pdf HTTP/1.1\r\nHost: ${host(c)}\r\nConnection: close\r\n\r\n`),
        ]),
      ),
    status: 400,
  },
  {
    name: 'percent-encoded non-UTF-8 bytes in the path → rendered, filename stays ASCII-safe',
    send: (c) => fetchAnswer(`${c.url}/hostile/any/%ff%fe%c3.pdf`),
    status: 200,
    check: (a) => expectBoundedDisposition(a),
  },
  {
    name: 'malformed percent-escapes in the path → rendered',
    send: (c) => fetchAnswer(`${c.url}/hostile/any/%zz%.pdf`),
    status: 200,
    check: (a) => expectBoundedDisposition(a),
  },
  // Paths and targets that try to change the host: the page always comes from the main app.
  {
    name: "//127.0.0.2:port/x.pdf → the main app's own 404",
    send: (c) => fetchAnswer(`${c.url}//127.0.0.2:${c.probe.port}/x.pdf`),
    status: 404,
  },
  {
    name: "/\\127.0.0.2:port/x.pdf (raw backslashes) → the main app's own 404",
    send: (c) => raw(c, rawGet(c, `/\\127.0.0.2:${c.probe.port}/x.pdf`)),
    status: 404,
  },
  {
    name: "/@127.0.0.2:port/x.pdf → the main app's own 404",
    send: (c) => fetchAnswer(`${c.url}/@127.0.0.2:${c.probe.port}/x.pdf`),
    status: 404,
  },
  {
    name: "/..%2f..%2f127.0.0.2/x.pdf → the main app's own 404",
    send: (c) => fetchAnswer(`${c.url}/..%2f..%2f127.0.0.2:${c.probe.port}/x.pdf`),
    status: 404,
  },
  {
    name: 'absolute-form target naming 127.0.0.2 → that path on the main app',
    send: (c) => raw(c, rawGet(c, `http://127.0.0.2:${c.probe.port}/hostile/ok.pdf`)),
    status: 200,
    check: async (a) => expect(await pdfText(a)).toContain('Still serving'),
  },
  {
    name: 'Host header naming 127.0.0.2 → ignored, the main app renders',
    send: async (c) => {
      const r = await getWithHost(`${c.url}/hostile/ok.pdf`, `127.0.0.2:${c.probe.port}`);
      return { status: r.status, headers: {}, body: Buffer.alloc(0) };
    },
    status: 200,
  },
  // Names.
  {
    name: 'very long file name in the path → bounded Content-Disposition',
    send: (c) => fetchAnswer(`${c.url}/hostile/any/${'n'.repeat(7000)}.pdf`),
    status: 200,
    check: (a) => expectBoundedDisposition(a),
  },
  {
    name: '20 000-character title with separators and bidi controls → bounded, safe file name',
    send: (c) => fetchAnswer(`${c.url}/hostile/long-title.pdf?n=20000`),
    status: 200,
    check: (a) => {
      expectBoundedDisposition(a);
      // Separators are replaced, so a name can neither climb directories nor pick one.
      const cd = decodeURIComponent(a.headers['content-disposition']!.replace(/^.*filename\*=UTF-8''/, ''));
      expect(cd).not.toMatch(/[/\\:*?"<>|]/);
    },
  },
  // Methods.
  ...['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'].map((method): Row => ({
    name: `${method} on a .pdf → 405`,
    send: (c) => fetchAnswer(`${c.url}/t/invoice.pdf`, { method, body: method === 'OPTIONS' ? undefined : 'x' }),
    status: 405,
    check: (a) => expect(a.headers['allow']).toBe('GET, HEAD'),
  })),
  {
    name: 'TRACE on a .pdf → 405',
    send: (c) => raw(c, `TRACE /t/invoice.pdf HTTP/1.1\r\nHost: ${host(c)}\r\nConnection: close\r\n\r\n`),
    status: 405,
  },
  {
    name: 'CONNECT to 127.0.0.2 → connection closed, no tunnel',
    send: (c) => raw(c, `CONNECT 127.0.0.2:${c.probe.port} HTTP/1.1\r\nHost: 127.0.0.2:${c.probe.port}\r\n\r\n`),
    status: null,
  },
  // A main app that behaves badly.
  {
    name: 'main app never answers → 504 within RENDER_TIMEOUT',
    send: (c) => fetchAnswer(`${c.url}/hostile/hang.pdf`),
    status: 504,
  },
  {
    name: 'main app streams a body forever → 504',
    send: (c) => fetchAnswer(`${c.url}/hostile/stream.pdf`),
    status: 504,
  },
  {
    name: 'main document redirects to itself → passed on to the client as that redirect',
    send: (c) => fetchAnswer(`${c.url}/hostile/loop.pdf`),
    status: 302,
    check: (a, c) => expect(a.headers['location']).toBe(`${c.mainUrl}/hostile/loop`),
  },
  {
    name: 'sub-resource redirecting in a loop → printed without it',
    send: (c) => fetchAnswer(`${c.url}/hostile/loop-image.pdf`),
    status: 200,
    check: async (a) => expect(await pdfText(a)).toContain('Looping image'),
  },
  {
    name: 'redirect loop the page starts after it answered 200 → refused, the page prints',
    send: (c) => fetchAnswer(`${c.url}/hostile/loop-after.pdf`),
    status: 200,
    check: async (a) => expect(await pdfText(a)).toContain('Loop after load'),
  },
  {
    name: '10 MB page → rendered',
    send: (c) => fetchAnswer(`${c.url}/hostile/big.pdf?mb=10`),
    status: 200,
    check: async (a) => expect(await pdfText(a)).toContain('Big page of 10 MB'),
  },
  {
    name: 'upstream 500 with a stack trace in its body → 502, none of it passed on',
    send: (c) => fetchAnswer(`${c.url}/hostile/error.pdf`),
    status: 502,
  },
  {
    name: 'upstream 404 with a body → 404, none of it passed on',
    send: (c) => fetchAnswer(`${c.url}/hostile/not-found.pdf`),
    status: 404,
  },
  {
    name: "a request carrying the appliance's own header → 508",
    send: (c) => fetchAnswer(`${c.url}/t/invoice.pdf`, { headers: { 'x-pdf-appliance': '1' } }),
    status: 508,
  },
];

test.describe('hostile input: every case has a defined answer and the appliance keeps serving', () => {
  let s: SecurityStack;
  let probes: Probes;
  let c: Ctx;

  test.beforeAll(async () => {
    const probe = await startProbe('127.0.0.2');
    probes = new Probes([probe]);
    s = await startSecurityStack({ RENDER_TIMEOUT: '6s' });
    c = { url: s.url, probe, mainUrl: s.main.url };
  });
  test.afterAll(async () => {
    await s?.close();
    await probes?.close();
  });

  for (const row of ROWS) {
    test(row.name, async () => {
      const a = await row.send(c);
      const body = a.body.toString('latin1');
      expect(a.status, a.status === 200 ? 'a PDF' : body.slice(0, 200)).toBe(row.status);
      if (a.status !== null && a.status >= 400) {
        // One short fixed sentence: no stack trace, no path, nothing from upstream.
        expect(body.length).toBeLessThan(100);
        expect(body).not.toMatch(LEAKY_BODY);
      }
      await row.check?.(a, c);
      expect(probes.total(), 'no listener named in a request may be contacted').toEqual([]);
      // Still up after each one.
      expect((await get(`${s.url}/healthz`)).status).toBe(200);
    });
  }

  test('after the table: a normal page still renders, nothing reached the listener, nothing leaked to the log', async () => {
    const r = await get(`${s.url}/t/invoice.pdf`);
    expect(r.status).toBe(200);
    expect((await readPdf(r.body)).text.join(' ')).toContain('Invoice #T-1');
    expect(probes.total()).toEqual([]);
    const all = s.logs.join('\n');
    expect(all).not.toContain('hunter2');
    expect(all).not.toContain('UPSTREAM-ERROR-BODY');
    // Every failure was logged once, as a warning with a reason, never as an unexpected error.
    expect(s.logs.some((l) => l.includes('"msg":"unexpected error"'))).toBe(false);
  });
});
