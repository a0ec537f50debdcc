import { test, expect } from '@playwright/test';
import { isPdf, readPdf } from '../support/pdf.js';
import { PdfCapture, startE2EDemo, type E2EDemo } from '../support/e2e-demo.js';

// A PDF link clicked while signed out (from an email, say): the main app sends the user to its
// login page, and after signing in the user gets the PDF they clicked, not the HTML page it is
// printed from. Real Chromium through the Fly-proxy emulator, the appliance started on demand.

let demo: E2EDemo | undefined;
test.afterEach(async ({}, testInfo) => {
  if (demo && testInfo.status !== testInfo.expectedStatus) {
    await testInfo.attach('appliance.log', { body: await demo.applianceLog(), contentType: 'text/plain' });
  }
  await demo?.close();
  demo = undefined;
});

test('signed out: click the PDF link → the login page → sign in → the PDF', async ({ page }) => {
  test.setTimeout(180_000);
  demo = await startE2EDemo({ idleTimeout: '120s' });
  const d = demo;

  await page.goto(`${d.url}/login`);
  await page.evaluate(() => {
    const a = document.createElement('a');
    a.href = '/invoices/42.pdf';
    a.textContent = 'Invoice 42 (PDF)';
    document.querySelector('main')!.append(a);
  });
  const capture = await PdfCapture.attach(page);
  await page.getByRole('link', { name: 'Invoice 42 (PDF)' }).click();
  await expect(page).toHaveURL(`${d.url}/login?next=${encodeURIComponent('/invoices/42.pdf')}`);
  await expect(page.getByRole('heading', { name: 'Please sign in' })).toBeVisible();

  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('alice-pw');
  const pdf = capture.next('/invoices/42.pdf');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const got = await pdf;
  expect(got.status).toBe(200);
  expect(got.headers['content-type']).toBe('application/pdf');
  expect(got.headers['content-disposition']).toMatch(/^inline;/);
  const text = (await readPdf(got.body)).text.join(' ');
  expect(isPdf(got.body)).toBe(true);
  expect(text).toContain('Invoice #42');
  expect(text).toContain('Alice Anderson');
  // The browser shows the PDF, at the address the user clicked.
  await expect(page).toHaveURL(`${d.url}/invoices/42.pdf`);
  expect(d.starts()).toBe(1);
});
