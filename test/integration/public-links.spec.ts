import { test, expect } from '@playwright/test';
import { readLinks, readPdf, type PdfLink } from '../support/pdf.js';
import { get, getWithHost, startStack, type InProcess } from '../support/stack.js';

// The appliance loads the page from TARGET_URL, which may be an address only it can reach
// (here the loopback main app; compose's http://main:3000, a Flycast or .internal name on Fly).
// The links in the PDF must lead where the user is: PUBLIC_URL, or the Host of the replayed
// request. Links to other sites, mail links and jumps within the document stay as they are.

const PUBLIC = 'https://app.example.com';

let s: InProcess | undefined;
test.afterEach(async () => {
  await s?.close();
  s = undefined;
});

function urls(links: PdfLink[]): string[] {
  return links.flatMap((l) => (l.url !== undefined ? [l.url] : []));
}

/** What /t/links should carry when the user reaches the main app at `publicOrigin`. */
function expectPublicLinks(links: PdfLink[], publicOrigin: string): void {
  expect(urls(links).sort()).toEqual(
    [
      `${publicOrigin}/docs/guide`,
      `${publicOrigin}/docs/guide?x=1#intro`,
      'https://example.org/elsewhere?q=1',
      'mailto:billing@example.org',
      `${publicOrigin}/t/svg-target`,
      `${publicOrigin}/t/shadow-target`,
      `${publicOrigin}/t/frame-target`,
    ].sort(),
  );
  // "Jump to section 2" stays a jump inside the PDF (to page 2), not a link to the web page.
  expect(links.filter((l) => l.internal)).toHaveLength(1);
}

test('PUBLIC_URL set: relative links and absolute links to the main app lead there; other sites stay', async () => {
  s = await startStack({ PUBLIC_URL: PUBLIC });
  const r = await get(`${s.url}/t/links.pdf`);
  expect(r.status).toBe(200);
  const links = await readLinks(r.body);
  expectPublicLinks(links, PUBLIC);
  // Nothing in the PDF points at the address only the appliance reaches.
  expect(urls(links).filter((u) => u.startsWith(s!.main.url))).toEqual([]);
  expect((await readPdf(r.body)).text[0]).toContain('Relative link');
});

test("no PUBLIC_URL: a replayed request's Host and scheme say where the user is", async () => {
  s = await startStack();
  const replayed = { 'x-forwarded-proto': 'https', 'fly-replay-src': 'instance=m1;region=ams;t=1' };
  const r = await getWithHost(`${s.url}/t/links.pdf`, 'billing.example.com', replayed);
  expect(r.status).toBe(200);
  expectPublicLinks(await readLinks(r.body), 'https://billing.example.com');
});

test('not replayed and no PUBLIC_URL: nothing says where the user is, so links are left as the page has them', async () => {
  s = await startStack();
  const r = await getWithHost(`${s.url}/t/links.pdf`, 'billing.example.com');
  expect(r.status).toBe(200);
  const links = urls(await readLinks(r.body));
  expect(links).toContain(`${s.main.url}/docs/guide`);
  expect(links).toContain(`${s.main.url}/docs/guide?x=1#intro`);
  expect(links.some((u) => u.includes('billing.example.com'))).toBe(false);
});

test('JAVASCRIPT=false: the page runs no script, the links are pointed all the same', async () => {
  s = await startStack({ PUBLIC_URL: PUBLIC, JAVASCRIPT: 'false' });
  const r = await get(`${s.url}/t/links.pdf`);
  expect(r.status).toBe(200);
  expectPublicLinks(await readLinks(r.body), PUBLIC);
});

test('PDF/A keeps the pointed links through the Ghostscript conversion', async () => {
  test.setTimeout(90_000);
  s = await startStack({ PUBLIC_URL: PUBLIC, PDF_STANDARD: 'PDF/A-2b' });
  const r = await get(`${s.url}/t/links.pdf`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-length')).not.toBeNull();
  const links = urls(await readLinks(r.body));
  expect(links).toContain(`${PUBLIC}/docs/guide`);
  expect(links).toContain(`${PUBLIC}/docs/guide?x=1#intro`);
  expect(links).toContain('https://example.org/elsewhere?q=1');
  expect(links.filter((u) => u.startsWith(s!.main.url))).toEqual([]);
});
