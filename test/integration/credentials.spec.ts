import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '@playwright/test';
import { startMainApp, type MainApp } from '../../fixtures/main-app/index.js';
import { readPdf } from '../support/pdf.js';
import { get, ROOT, startStack, type InProcess } from '../support/stack.js';

// Who gets which credential. One page of the main app makes every kind of request a page can
// make to its own app (each tagged ?case=…, recorded by the main app), rendered for a user with
// a session cookie and a bearer token. Each row below is checked against what really arrived,
// and docs/security.md carries exactly this table (the last test compares them).

type Arrives = 'yes' | 'no' | 'never sent';

interface Row {
  request: string;
  /** The `case=` values this row covers (the page itself: 'page'). */
  cases: string[];
  cookie: Arrives;
  identity: Arrives;
}

export const CREDENTIAL_ROWS: Row[] = [
  {
    request: "The page itself (the appliance's navigation), and its redirects on the main app",
    cases: ['page'],
    cookie: 'yes',
    identity: 'yes',
  },
  {
    request: "The page's stylesheets, scripts, images, fonts, `fetch()` and XHR, and their redirects on the main app",
    cases: [
      'page-stylesheet',
      'page-script',
      'page-image',
      'page-font',
      'page-fetch',
      'page-xhr',
      'page-image-same-origin-redirect',
    ],
    cookie: 'yes',
    identity: 'yes',
  },
  {
    request: "The page's `fetch()` with `credentials: 'omit'`",
    cases: ['page-fetch-omit', 'page-request-omit'],
    cookie: 'no',
    identity: 'no',
  },
  { request: "The page's beacons and `<a ping>`", cases: ['page-beacon', 'page-ping'], cookie: 'yes', identity: 'no' },
  { request: "A dedicated worker's requests", cases: ['worker-fetch'], cookie: 'yes', identity: 'no' },
  {
    request: 'A frame of the main app: its document and its requests',
    cases: ['frame', 'frame-image', 'frame-fetch', 'ping-target'],
    cookie: 'yes',
    identity: 'no',
  },
  {
    request: 'A sandboxed frame of the main app (an opaque origin): its requests',
    cases: ['sandbox-image', 'sandbox-fetch'],
    cookie: 'no',
    identity: 'no',
  },
  {
    request: "A third party's frame: its requests to the main app",
    cases: ['third-image', 'third-fetch'],
    cookie: 'no',
    identity: 'no',
  },
  {
    request: "A request that went through another site's redirect back to the main app",
    cases: ['via-third-image', 'via-third-stylesheet', 'via-third-script', 'via-third-fetch'],
    cookie: 'no',
    identity: 'no',
  },
  {
    request:
      'A later navigation of the top-level frame, from the page or from a frame (`location`, `target=_top` links and forms)',
    cases: ['steer-script', 'steer-anchor', 'steer-form'],
    cookie: 'never sent',
    identity: 'never sent',
  },
];

const USER = { cookie: 'session=cred-user', authorization: 'Bearer CRED-USER-TOKEN', 'x-request-id': 'rid-cred-1' };

/** The markdown table docs/security.md must carry. */
export function credentialTable(): string {
  const lines = [
    "| request to the main app | the user's cookies | `Authorization` and `FORWARD_HEADERS` |",
    '|---|---|---|',
  ];
  for (const r of CREDENTIAL_ROWS) lines.push(`| ${r.request} | ${r.cookie} | ${r.identity} |`);
  return lines.join('\n');
}

test.describe('who gets which credential', () => {
  test.describe.configure({ timeout: 120_000 });
  let third: MainApp;
  let s: InProcess | undefined;
  test.beforeAll(async () => {
    third = await startMainApp({ host: '127.0.0.2' });
  });
  test.afterAll(async () => {
    await third?.close();
  });
  test.afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  {
    test('every kind of request gets exactly the credentials of its row', async () => {
      s = await startStack({ ALLOW_ORIGINS: third.url, RENDER_TIMEOUT: '30s' });
      const r = await get(`${s.url}/cred/all.pdf?third=${encodeURIComponent(third.url)}`, { headers: USER });
      expect(r.status).toBe(200);
      // The page printed is the page asked for: no navigation replaced it.
      expect((await readPdf(r.body)).text.join(' ')).toContain('the page itself');
      // Late requests (a beacon, a worker) have a moment to arrive.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const arrived = (kase: string) =>
        s!.main.requests.filter((q) =>
          kase === 'page'
            ? q.path.startsWith('/cred/all')
            : q.path.includes(`case=${kase}&`) || q.path.endsWith(`case=${kase}`) || q.path === `/cred/${kase}`,
        );
      const problems: string[] = [];
      for (const row of CREDENTIAL_ROWS) {
        for (const kase of row.cases) {
          const got = arrived(kase);
          if (row.cookie === 'never sent') {
            if (got.length > 0) problems.push(`${kase}: arrived, must never be sent`);
            continue;
          }
          if (got.length === 0) {
            problems.push(`${kase}: never arrived`);
            continue;
          }
          for (const q of got) {
            const cookie = (q.headers['cookie'] ?? '').includes('session=cred-user') ? 'yes' : 'no';
            const identity =
              q.headers['authorization'] === USER.authorization
                ? 'yes'
                : q.headers['authorization'] === undefined
                  ? 'no'
                  : `other (${q.headers['authorization']})`;
            if (cookie !== row.cookie) problems.push(`${kase}: cookie ${cookie}, expected ${row.cookie}`);
            if (identity !== row.identity)
              problems.push(`${kase}: Authorization ${identity}, expected ${row.identity}`);
            // Context headers describe the request, not the user: every request to the main app.
            if (q.headers['x-request-id'] !== USER['x-request-id']) problems.push(`${kase}: no x-request-id`);
          }
        }
      }
      expect(problems).toEqual([]);
      // Not vacuous: the third party did try to steer the top frame, three ways, and was refused.
      expect(s.logs.filter((l) => l.includes('may not navigate away')).length).toBeGreaterThanOrEqual(3);
      // Nothing of the user's reached the third party.
      for (const q of third.requests) {
        expect(q.headers['cookie'] ?? '', q.path).not.toContain('cred-user');
        expect(q.headers['authorization'], q.path).toBeUndefined();
      }
    });
  }

  test('docs/security.md carries this table', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'security.md'), 'utf8');
    expect(doc).toContain(credentialTable());
  });
});

test.describe('what the print waits for', () => {
  test.describe.configure({ timeout: 120_000 });
  let s: InProcess;
  test.beforeAll(async () => {
    s = await startStack({ RENDER_TIMEOUT: '20s' });
  });
  test.afterAll(async () => {
    await s?.close();
  });

  // A third of RENDER_TIMEOUT: how long a fetch still waiting for its answer holds the print.
  const CAP_MS = 20_000 / 3;
  for (const kind of ['unread-small', 'unread-big', 'endless-body', 'eventsource', 'long-poll']) {
    test(`a page with a pending ${kind} request prints`, async () => {
      const t0 = performance.now();
      const r = await get(`${s.url}/cred/pending.pdf?kind=${kind}`);
      const ms = performance.now() - t0;
      expect(r.status).toBe(200);
      expect((await readPdf(r.body)).text.join(' ')).toContain('printed while a request is pending');
      // Only an unanswered request is waited for, and only up to its bound.
      if (kind !== 'long-poll') expect(ms).toBeLessThan(CAP_MS);
    });
  }
});
