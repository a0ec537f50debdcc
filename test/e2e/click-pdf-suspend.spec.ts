import { test, expect } from '@playwright/test';
import { readPdf, isPdf } from '../support/pdf.js';
import { clickInvoicePdf, PdfCapture, signIn, startE2EDemo, type E2EDemo } from '../support/e2e-demo.js';

// The demo in suspend mode (DEMO_IDLE_ACTION=suspend): when idle, the appliance asks the
// emulator's Machines API to suspend it, and the emulator freezes its processes (Chromium
// included) the way a Fly suspend freezes the VM. The next click resumes it, warm.

let demo: E2EDemo | undefined;
test.afterEach(async ({}, testInfo) => {
  if (demo && testInfo.status !== testInfo.expectedStatus) {
    await testInfo.attach('appliance.log', { body: await demo.applianceLog(), contentType: 'text/plain' });
  }
  await demo?.close();
  demo = undefined;
});

test('click, wait for the suspend, click again: the second PDF comes from the resumed appliance', async ({ page }) => {
  test.setTimeout(180_000);
  demo = await startE2EDemo({ idleTimeout: '3s', idleAction: 'suspend' });
  const d = demo;
  const machine = async () => (await d.status()).machines.find((m) => m.app === 'pdf')!;

  await signIn(page, d.url, 'alice', 'alice-pw');
  const capture = await PdfCapture.attach(page);
  const first = await clickInvoicePdf(page, d.url, capture, '42');
  expect(first.headers['content-type']).toBe('application/pdf');

  await expect
    .poll(async () => (await machine()).state, {
      timeout: 60_000,
      message: 'appliance was not suspended after IDLE_TIMEOUT',
    })
    .toBe('suspended');
  expect(await d.applianceLog()).toContain('idle: asking the Machines API to suspend this Machine');

  const second = await clickInvoicePdf(page, d.url, capture, '43');
  expect(second.status).toBe(200);
  expect(isPdf(second.body)).toBe(true);
  const text = (await readPdf(second.body)).text.join(' ');
  expect(text).toContain('Invoice #43');
  expect(text).toContain('Alice Anderson');
  const m = await machine();
  expect(m.starts).toBe(1);
  expect(m.resumes).toBe(1);
  await expect.poll(() => d.applianceLog(), { timeout: 10_000 }).toContain('resumed after suspend');
});
