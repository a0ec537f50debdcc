import { expect, type CDPSession, type Page } from '@playwright/test';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemo, type Demo, type DemoOptions } from '../../fixtures/demo.js';

export interface E2EDemo extends Demo {
  /** The appliance's own output so far, for failure messages. */
  applianceLog(): Promise<string>;
}

/** The `npm run demo` stack on free ports, with the appliance's output in a temp file. */
export async function startE2EDemo(opts: DemoOptions = {}): Promise<E2EDemo> {
  const dir = await mkdtemp(join(tmpdir(), 'pdf-e2e-'));
  const logFile = join(dir, 'appliance.log');
  const demo = await startDemo({ proxyPort: 0, mainPort: 0, appliancePort: 0, applianceLog: logFile, ...opts });
  return {
    ...demo,
    applianceLog: () => readFile(logFile, 'utf8').catch(() => ''),
    async close() {
      await demo.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Signs in through the login form, the way a person does. */
export async function signIn(page: Page, baseUrl: string, username: string, password: string): Promise<void> {
  await page.goto(`${baseUrl}/`);
  await expect(page.getByRole('heading', { name: 'Please sign in' })).toBeVisible();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText(/Signed in as/)).toBeVisible();
}

export interface CapturedPdf {
  url: string;
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Headless Chromium shows a PDF in its built-in viewer, and what Playwright then reports as the
 * response body is the viewer's HTML. So the bytes are taken where the browser receives them:
 * CDP's Fetch domain pauses each `.pdf` response, we copy the body and let it continue
 * unchanged. The request itself is the browser's own (its cookies, its navigation).
 */
export class PdfCapture {
  private readonly captured: CapturedPdf[] = [];
  private readonly waiters: Array<{ pathname: string; resolve: (c: CapturedPdf) => void }> = [];

  private constructor(private readonly cdp: CDPSession) {}

  static async attach(page: Page): Promise<PdfCapture> {
    const cdp = await page.context().newCDPSession(page);
    const capture = new PdfCapture(cdp);
    cdp.on('Fetch.requestPaused', (ev) => void capture.onPaused(ev));
    await cdp.send('Fetch.enable', { patterns: [{ urlPattern: '*.pdf*', requestStage: 'Response' }] });
    return capture;
  }

  private async onPaused(ev: {
    requestId: string;
    request: { url: string };
    responseStatusCode?: number;
    responseHeaders?: Array<{ name: string; value: string }>;
  }): Promise<void> {
    const status = ev.responseStatusCode ?? 0;
    const headers = Object.fromEntries((ev.responseHeaders ?? []).map((h) => [h.name.toLowerCase(), h.value]));
    let body = Buffer.alloc(0);
    // Redirects have no body to read; everything else does.
    if (status < 300 || status >= 400) {
      const b = await this.cdp.send('Fetch.getResponseBody', { requestId: ev.requestId }).catch(() => undefined);
      if (b) body = Buffer.from(b.body, b.base64Encoded ? 'base64' : 'utf8');
    }
    await this.cdp.send('Fetch.continueResponse', { requestId: ev.requestId }).catch(() => undefined);
    const c: CapturedPdf = { url: ev.request.url, status, headers, body };
    this.captured.push(c);
    const pathname = new URL(c.url).pathname;
    for (const w of [...this.waiters]) {
      if (w.pathname === pathname) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(c);
      }
    }
  }

  /** Every `.pdf` response the page received so far. */
  get all(): readonly CapturedPdf[] {
    return this.captured;
  }

  /** The next response for this path (call before the click, await after it). */
  next(pathname: string, timeoutMs = 60_000): Promise<CapturedPdf> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no response for ${pathname} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        pathname,
        resolve: (c) => {
          clearTimeout(t);
          resolve(c);
        },
      });
    });
  }

  async detach(): Promise<void> {
    await this.cdp.detach().catch(() => undefined);
  }
}

/** Opens the invoice list and clicks the real "Download PDF" link of one invoice. */
export async function clickInvoicePdf(
  page: Page,
  baseUrl: string,
  capture: PdfCapture,
  id: string,
): Promise<CapturedPdf> {
  await page.goto(`${baseUrl}/invoices`);
  const link = page.locator(`a[href="/invoices/${id}.pdf"]`);
  await expect(link).toHaveText('Download PDF');
  const response = capture.next(`/invoices/${id}.pdf`);
  await link.click();
  const got = await response;
  // The browser stayed on the PDF: the user sees it, not an error page or a redirect.
  await expect(page).toHaveURL(`${baseUrl}/invoices/${id}.pdf`);
  return got;
}
