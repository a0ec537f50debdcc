import { test, expect, type Browser } from '@playwright/test';
import { readPdf, isPdf } from '../support/pdf.js';
import { clickInvoicePdf, PdfCapture, signIn, startE2EDemo, type E2EDemo } from '../support/e2e-demo.js';

// A person's path through the demo in a real (Debian) Chromium: main app and appliance behind
// the local Fly-proxy emulator, the appliance stopped until the first PDF click.
// Playwright already passes --no-sandbox (chromiumSandbox defaults to false), which root needs.

let demo: E2EDemo | undefined;
test.afterEach(async ({}, testInfo) => {
  if (demo && testInfo.status !== testInfo.expectedStatus) {
    await testInfo.attach('appliance.log', { body: await demo.applianceLog(), contentType: 'text/plain' });
  }
  await demo?.close();
  demo = undefined;
});

async function pdfText(body: Buffer): Promise<string> {
  expect(isPdf(body), body.subarray(0, 200).toString()).toBe(true);
  return (await readPdf(body)).text.join(' ');
}

async function newPage(browser: Browser) {
  const context = await browser.newContext();
  return { context, page: await context.newPage() };
}

test('a signed-in click on an invoice PDF link opens that invoice as the user; an anonymous one gets the login page', async ({
  browser,
}) => {
  test.setTimeout(180_000);
  demo = await startE2EDemo({ idleTimeout: '120s' });
  const d = demo;

  const alice = await newPage(browser);
  await signIn(alice.page, d.url, 'alice', 'alice-pw');
  const aliceCapture = await PdfCapture.attach(alice.page);
  const got = await clickInvoicePdf(alice.page, d.url, aliceCapture, '42');
  expect(got.status).toBe(200);
  expect(got.headers['content-type']).toBe('application/pdf');
  expect(got.headers['content-disposition']).toMatch(/^inline;/);
  const text = await pdfText(got.body);
  expect(text).toContain('Invoice #42');
  expect(text).toContain('Alice Anderson');
  expect(text).not.toContain('Bob Brown');

  // Same link, another user: the PDF is rendered as whoever clicked.
  const bob = await newPage(browser);
  await signIn(bob.page, d.url, 'bob', 'bob-pw');
  const bobCapture = await PdfCapture.attach(bob.page);
  const bobs = await clickInvoicePdf(bob.page, d.url, bobCapture, '43');
  expect(bobs.headers['content-type']).toBe('application/pdf');
  const bobText = await pdfText(bobs.body);
  expect(bobText).toContain('Invoice #43');
  expect(bobText).toContain('Bob Brown');
  expect(bobText).not.toContain('Alice Anderson');

  // Anonymous: a fresh context that never signed in follows a PDF link (say, from an email).
  const anon = await newPage(browser);
  await anon.page.goto(`${d.url}/login`);
  const anonCapture = await PdfCapture.attach(anon.page);
  await anon.page.evaluate(() => {
    const a = document.createElement('a');
    a.href = '/invoices/42.pdf';
    a.textContent = 'Invoice 42 (PDF)';
    document.querySelector('main')!.append(a);
  });
  const redirected = anonCapture.next('/invoices/42.pdf');
  await anon.page.getByRole('link', { name: 'Invoice 42 (PDF)' }).click();
  const first = await redirected;
  expect(first.status).toBe(302);
  // The login leads back to the PDF, not to the page (sign-in-to-pdf.spec.ts follows it through).
  await expect(anon.page).toHaveURL(`${d.url}/login?next=${encodeURIComponent('/invoices/42.pdf')}`);
  await expect(anon.page.getByRole('heading', { name: 'Please sign in' })).toBeVisible();
  expect(anonCapture.all.filter((c) => c.headers['content-type'] === 'application/pdf')).toEqual([]);

  // All three clicks were served by the one auto-started appliance.
  expect(d.starts()).toBe(1);
  for (const p of [alice, bob, anon]) await p.context.close();
});

test('the stopped appliance is started by the first click, exits after IDLE_TIMEOUT, and the next click starts it again', async ({
  page,
}) => {
  test.setTimeout(180_000);
  demo = await startE2EDemo({ idleTimeout: '3s' });
  const d = demo;
  const applianceListening = async () => (await d.status()).machines.find((m) => m.app === 'pdf')!.listening;

  expect(d.starts()).toBe(0);
  expect(await applianceListening()).toBe(false);

  // Signing in and browsing is the main app alone: the appliance stays stopped.
  await signIn(page, d.url, 'alice', 'alice-pw');
  await page.goto(`${d.url}/invoices`);
  expect(d.starts()).toBe(0);

  const capture = await PdfCapture.attach(page);
  const first = await clickInvoicePdf(page, d.url, capture, '42');
  expect(first.headers['content-type']).toBe('application/pdf');
  expect(await pdfText(first.body)).toContain('Invoice #42');
  expect(d.starts()).toBe(1);

  // Idle: the appliance exits by itself, with status 0 (Fly would just mark the machine stopped).
  const stopped = () => d.proxy.log.filter((e) => e.type === 'stop' && e.app === 'pdf');
  await expect
    .poll(() => stopped().length, { timeout: 60_000, message: 'appliance did not exit after IDLE_TIMEOUT' })
    .toBe(1);
  expect(stopped()[0].detail).toBe('exited with code 0');
  expect(await d.applianceLog()).toContain('idle: shutting down');
  expect(await applianceListening()).toBe(false);

  const second = await clickInvoicePdf(page, d.url, capture, '43');
  expect(second.status).toBe(200);
  expect(second.headers['content-type']).toBe('application/pdf');
  const text = await pdfText(second.body);
  expect(text).toContain('Invoice #43');
  expect(text).toContain('Alice Anderson');
  expect(d.starts()).toBe(2);
});
