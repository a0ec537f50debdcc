import { test, expect } from '@playwright/test';
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';
import { get, startStack, type InProcess } from '../support/stack.js';

// Documents of any size: a 1,000-page report within the RENDER_TIMEOUT the operator chose,
// streamed; and when a render will not fit (time, memory), a short page saying what to do.
// The report (fixtures/main-app/test-pages.ts) has one numbered section per printed page.

const BROWSER = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

/** Page count and the text of the last page, without reading the other 999. */
async function lastPage(body: Buffer): Promise<{ pages: number; text: string }> {
  const doc = await getDocument({ data: new Uint8Array(body), isEvalSupported: false, verbosity: 0 }).promise;
  try {
    const page = await doc.getPage(doc.numPages);
    const text = (await page.getTextContent()).items
      .map((it) => ('str' in it ? it.str : ''))
      .join(' ')
      .replace(/\s+/g, ' ');
    return { pages: doc.numPages, text };
  } finally {
    await doc.destroy();
  }
}

test.describe('a 1,000-page report', () => {
  let s: InProcess;
  test.beforeAll(async () => {
    // What an operator printing long reports sets: a long deadline, memory for one big layout
    // (measured: the renderer peaks near 600 MB for this report).
    s = await startStack({ RENDER_TIMEOUT: '300s', RENDER_MEMORY_MB: '1536' });
  });
  test.afterAll(async () => {
    await s?.close();
  });

  test('prints whole, streamed as it is read: 1,000 pages, the last one the last section', async () => {
    test.setTimeout(360_000);
    const r = await get(`${s.url}/t/report.pdf?pages=1000`);
    expect(r.status, r.body.toString().slice(0, 200)).toBe(200);
    expect(r.headers.get('transfer-encoding')).toBe('chunked');
    const { pages, text } = await lastPage(r.body);
    expect(pages).toBe(1000);
    expect(text).toContain('Section 1000');
    expect(text).toContain('End of section 1000.');
  });
});

test.describe('when a render will not fit', () => {
  test('past RENDER_TIMEOUT: 504, a page for a person, a line for a program; the next render works', async () => {
    test.setTimeout(120_000);
    const s = await startStack({ RENDER_TIMEOUT: '1s' });
    try {
      const person = await get(`${s.url}/t/report.pdf?pages=1000`, { headers: BROWSER });
      expect(person.status).toBe(504);
      expect(person.headers.get('content-type')).toMatch(/^text\/html/);
      const html = person.body.toString();
      expect(html).toContain('<title>The page took too long to render</title>');
      expect(html).toContain('RENDER_TIMEOUT (1 s)');
      expect(html).toContain('Try again');
      expect(html).toMatch(/Request [0-9a-f-]{36}/);

      const program = await get(`${s.url}/t/report.pdf?pages=1000`);
      expect(program.status).toBe(504);
      expect(program.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(program.body.toString()).toBe(
        'Rendering took longer than RENDER_TIMEOUT (1 s). Lighten the page or raise it.\n',
      );

      expect((await get(`${s.url}/t/invoice.pdf`)).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  test('over RENDER_MEMORY_MB: 502 naming the setting, as a page for a person', async () => {
    test.setTimeout(180_000);
    const s = await startStack({ RENDER_TIMEOUT: '120s', RENDER_MEMORY_MB: '200' });
    try {
      const r = await get(`${s.url}/t/report.pdf?pages=1000`, { headers: BROWSER });
      expect(r.status).toBe(502);
      expect(r.headers.get('content-type')).toMatch(/^text\/html/);
      expect(r.body.toString()).toContain('needs more memory than RENDER_MEMORY_MB (200)');
      expect((await get(`${s.url}/t/invoice.pdf`)).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});
