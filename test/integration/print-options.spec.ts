import { test, expect } from '@playwright/test';
import { getDocument, OPS } from 'pdfjs-dist/legacy/build/pdf.mjs';
import { isPdf, readPdf, type PdfSummary } from '../support/pdf.js';
import { get, startStack, type InProcess } from '../support/stack.js';

// Every per-page print option, checked in the PDF Chromium really produced.
// The fixture pages live in fixtures/main-app/routes/print-options.ts. The stack runs with the
// env defaults (Letter portrait, 0.4in margins, scale 1), so a page's effect shows as a
// difference from them.

const PT_PER_MM = 72 / 25.4;
const LETTER = { width: 612, height: 792 };
// Chrome's default <body> margin (8px) in points; fixture text sits this far inside the page margin.
const BODY_MARGIN_PT = 6;
const DEFAULT_MARGIN_PT = 0.4 * 72;
// Glyph side bearings and rounding move text a little from the box edge.
const POS_SLACK = 3;
// Generous: other suites share the two cores, and a slow render here must not read as a failure.
const RENDER_TIMEOUT = '60s';

interface TextItem {
  str: string;
  x: number;
  /** Baseline, from the bottom of the page (PDF coordinates). */
  y: number;
  width: number;
  /** Font size as drawn, in points. */
  size: number;
}

interface PageDetail {
  items: TextItem[];
  /** Fill colours the page sets, as pdfjs reports them (`#rrggbb`). */
  fills: string[];
  images: number;
}

/** Text positions, fill colours and image draws of one page: what readPdf does not expose. */
async function pageDetail(body: Buffer, pageNumber = 1): Promise<PageDetail> {
  const doc = await getDocument({ data: new Uint8Array(body), verbosity: 0, isEvalSupported: false }).promise;
  try {
    const page = await doc.getPage(pageNumber);
    const items: TextItem[] = [];
    for (const it of (await page.getTextContent()).items) {
      if (!('str' in it) || it.str.trim() === '') continue;
      const [a, , , d, e, f] = it.transform as number[];
      items.push({ str: it.str, x: e!, y: f!, width: it.width, size: Math.max(Math.abs(a!), Math.abs(d!)) });
    }
    const ops = await page.getOperatorList();
    const fills: string[] = [];
    let images = 0;
    ops.fnArray.forEach((fn, i) => {
      if (fn === OPS.setFillRGBColor) fills.push(String((ops.argsArray[i] as unknown[])[0]));
      if (fn === OPS.paintImageXObject || fn === OPS.paintInlineImageXObject) images++;
    });
    return { items, fills, images };
  } finally {
    await doc.destroy();
  }
}

function item(detail: PageDetail, text: string): TextItem {
  const found = detail.items.find((i) => i.str.includes(text));
  if (!found)
    throw new Error(`"${text}" not on the page; found: ${detail.items.map((i) => JSON.stringify(i.str)).join(', ')}`);
  return found;
}

interface LogLine {
  msg: string;
  page?: string;
  option?: string;
  value?: string;
  reason?: string;
}

test.describe('print options: the page decides how it prints', () => {
  test.describe.configure({ timeout: 180_000 });
  let s: InProcess;

  test.beforeAll(async () => {
    s = await startStack({ RENDER_TIMEOUT });
  });
  test.afterAll(async () => {
    await s?.close();
  });

  async function pdfOf(path: string): Promise<{ res: Awaited<ReturnType<typeof get>>; pdf: PdfSummary }> {
    const res = await get(`${s.url}${path}`);
    expect(res.status, `${path}: ${res.status === 200 ? '' : res.body.toString()}`).toBe(200);
    expect(isPdf(res.body)).toBe(true);
    return { res, pdf: await readPdf(res.body) };
  }

  function warningsFor(slug: string): LogLine[] {
    return s.logs
      .map((l) => JSON.parse(l) as LogLine)
      .filter((l) => l.msg === 'ignored page option' && (l.page ?? '').endsWith(`/print/${slug}`));
  }

  test.describe('page size', () => {
    test('pdf-format A4 + pdf-landscape true gives an A4 landscape page, overriding the Letter default', async () => {
      const { pdf } = await pdfOf('/print/a4-landscape.pdf');
      expect(pdf.pages).toBe(1);
      const size = pdf.sizes[0]!;
      expect(Math.abs(size.width - 842)).toBeLessThanOrEqual(2);
      expect(Math.abs(size.height - 595)).toBeLessThanOrEqual(2);

      // A page without options gets the env default, Letter portrait.
      const plain = await pdfOf('/print/title-only.pdf');
      expect(plain.pdf.sizes[0]).toEqual(LETTER);
    });

    test('CSS @page size wins over pdf-format', async () => {
      const { pdf } = await pdfOf('/print/css-page.pdf'); // meta says Letter, @page says A5
      const size = pdf.sizes[0]!;
      expect(Math.abs(size.width - 420)).toBeLessThanOrEqual(2);
      expect(Math.abs(size.height - 595)).toBeLessThanOrEqual(2);
    });
  });

  test.describe('margins and scale', () => {
    test('pdf-margin sets each side in CSS order (top right bottom left)', async () => {
      const { res } = await pdfOf('/print/margins.pdf'); // 30mm 10mm 20mm 40mm
      const page = await pageDetail(res.body);
      const first = item(page, 'Margins top-left text');
      expect(Math.abs(first.x - (40 * PT_PER_MM + BODY_MARGIN_PT))).toBeLessThanOrEqual(POS_SLACK);
      // The first baseline sits one line below the top margin (plus the body margin).
      const topEdge = LETTER.height - 30 * PT_PER_MM - BODY_MARGIN_PT;
      expect(first.y).toBeLessThan(topEdge);
      expect(first.y).toBeGreaterThan(topEdge - first.size * 1.5);
      const right = item(page, 'Right edge');
      expect(Math.abs(right.x + right.width - (LETTER.width - 10 * PT_PER_MM - BODY_MARGIN_PT))).toBeLessThanOrEqual(
        POS_SLACK,
      );

      // The same text on a page without pdf-margin starts at the 0.4in default.
      const plain = item(await pageDetail((await pdfOf('/print/title-only.pdf')).res.body), 'Monthly summary content');
      expect(Math.abs(plain.x - (DEFAULT_MARGIN_PT + BODY_MARGIN_PT))).toBeLessThanOrEqual(POS_SLACK);
    });

    test('CSS @page margin wins over pdf-margin', async () => {
      const { res } = await pdfOf('/print/css-margin.pdf'); // meta 5mm, @page 50mm, body margin 0
      const text = item(await pageDetail(res.body), 'CSS margin wins');
      expect(Math.abs(text.x - 50 * PT_PER_MM)).toBeLessThanOrEqual(POS_SLACK);
      expect(text.y).toBeLessThan(LETTER.height - 50 * PT_PER_MM);
    });

    test('pdf-scale 0.5 draws 40px text at half its 30pt size', async () => {
      const { res } = await pdfOf('/print/scale.pdf');
      const text = item(await pageDetail(res.body), 'Scaled text at half size');
      expect(text.size).toBeCloseTo(15, 0);
    });
  });

  test.describe('page ranges', () => {
    test('pdf-page-ranges 2-4 keeps exactly pages 2, 3 and 4 of 10', async () => {
      const { pdf } = await pdfOf('/print/ranges.pdf');
      expect(pdf.pages).toBe(3);
      expect(pdf.text[0]).toContain('Section 2');
      expect(pdf.text[1]).toContain('Section 3');
      expect(pdf.text[2]).toContain('Section 4');
      expect(pdf.text.join(' ')).not.toMatch(/Section (1|5|6|7|8|9|10)\b/);
    });

    test('a range past the last page prints every page, with a warning', async () => {
      const { pdf } = await pdfOf('/print/ranges-past-end.pdf'); // 8-12 of a 3-page document
      expect(pdf.pages).toBe(3);
      expect(pdf.text.map((t) => /Short (\d)/.exec(t)?.[1])).toEqual(['1', '2', '3']);
      const warnings = warningsFor('ranges-past-end');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ option: 'pdf-page-ranges', value: '8-12' });
    });
  });

  test.describe('header and footer', () => {
    test('templates print on every page with the right page number and total', async () => {
      const { res, pdf } = await pdfOf('/print/header-footer.pdf');
      expect(pdf.pages).toBe(5);
      for (let i = 0; i < 5; i++) {
        expect(pdf.text[i]).toContain(`Part ${i + 1}`);
        expect(pdf.text[i]).toContain(`Page ${i + 1} of 5`);
        expect(pdf.text[i]).toContain('Header Footer Fixture'); // <span class="title">
      }
      // Header above the content, footer at the bottom, both inside the paper and readable.
      const page = await pageDetail(res.body, 3);
      const header = item(page, 'Header Footer Fixture');
      const footer = item(page, 'Page 3 of 5');
      const content = item(page, 'Part 3');
      expect(header.y).toBeGreaterThan(content.y + content.size);
      expect(header.y).toBeLessThan(LETTER.height);
      expect(footer.y).toBeGreaterThan(0);
      expect(footer.y).toBeLessThan(15 * PT_PER_MM);
      expect(header.size).toBeCloseTo(6.75, 0); // the 9px default, not Chrome's tiny one
    });

    test('an image inlined as a data: URI prints in the header; date and url are filled in', async () => {
      const { res, pdf } = await pdfOf('/print/header-image.pdf');
      const page = await pageDetail(res.body);
      expect(page.images).toBe(1);
      const logo = item(page, 'ACME Ltd');
      expect(logo.y).toBeGreaterThan(LETTER.height - 15 * PT_PER_MM);
      expect(pdf.text[0]).toMatch(/Printed \d{1,2}\/\d{1,2}\/\d{2}/);
      expect(pdf.text[0]).toContain(`${s.main.url}/print/header-image`);
    });
  });

  test.describe('structure and metadata', () => {
    test('pdf-outline builds bookmarks from the headings', async () => {
      const { pdf } = await pdfOf('/print/outline.pdf');
      expect(pdf.outline).toEqual(['Chapter One', 'Section One A', 'Section One B', 'Chapter Two']);
      expect(pdf.tagged).toBe(true);
    });

    test('pdf-tagged makes a tagged PDF; a page without it is not tagged', async () => {
      expect((await pdfOf('/print/tagged.pdf')).pdf.tagged).toBe(true);
      const plain = (await pdfOf('/print/title-only.pdf')).pdf;
      expect(plain.tagged).toBe(false);
      expect(plain.outline).toEqual([]);
    });

    test('title, author, description and keywords become the PDF metadata', async () => {
      const { pdf } = await pdfOf('/print/metadata.pdf');
      expect(pdf.info).toMatchObject({
        Title: 'Metadata Fixture',
        Author: 'Ada Lovelace',
        Subject: 'A page that describes itself',
        Keywords: 'invoice, pdf, metadata',
      });
      expect(pdf.text[0]).toContain('Metadata content');
    });

    test('options combine: A4, footer, outline and metadata survive together', async () => {
      const { res, pdf } = await pdfOf('/print/report.pdf');
      expect(res.headers.get('content-disposition')).toBe('inline; filename="Annual report 2026.pdf"');
      expect(pdf.pages).toBe(2);
      for (const size of pdf.sizes) {
        expect(Math.abs(size.width - 595)).toBeLessThanOrEqual(2);
        expect(Math.abs(size.height - 842)).toBeLessThanOrEqual(2);
      }
      expect(pdf.text[0]).toContain('Annual report · page 1/2');
      expect(pdf.text[1]).toContain('Annual report · page 2/2');
      // Rewriting the metadata must keep Chromium's structure tree and bookmarks.
      expect(pdf.outline).toEqual(['Summary', 'Accounts', 'Revenue']);
      expect(pdf.tagged).toBe(true);
      expect(pdf.info).toMatchObject({
        Title: 'Annual Report 2026',
        Author: 'Finance Team',
        Subject: 'Annual report for 2026',
        Keywords: 'annual, report, 2026',
      });
      const text = item(await pageDetail(res.body), 'Summary');
      expect(Math.abs(text.x - 15 * PT_PER_MM)).toBeLessThanOrEqual(POS_SLACK);
    });
  });

  test.describe('media and background', () => {
    test('pdf-media screen applies @media screen rules; the default is print', async () => {
      const screen = (await pdfOf('/print/media-screen.pdf')).pdf.text[0];
      expect(screen).toContain('Visible with screen media');
      expect(screen).not.toContain('Visible with print media');
      const print = (await pdfOf('/print/media-default.pdf')).pdf.text[0];
      expect(print).toContain('Visible with print media');
      expect(print).not.toContain('Visible with screen media');
    });

    test('backgrounds print by default; pdf-print-background false leaves them out', async () => {
      const on = await pageDetail((await pdfOf('/print/background-on.pdf')).res.body);
      expect(on.fills).toContain('#ff0000');
      const off = await pageDetail((await pdfOf('/print/background-off.pdf')).res.body);
      expect(off.fills).not.toContain('#ff0000');
      expect(off.items.map((i) => i.str).join(' ')).toContain('Red background not printed');
    });
  });

  test.describe('waiting for the page', () => {
    test('pdf-wait-for prints only once the selector exists', async () => {
      const { pdf } = await pdfOf('/print/wait-for.pdf');
      expect(pdf.text[0]).toContain('Done content');
    });

    test('window.pdfReady = false holds the print until the page sets it true', async () => {
      const { pdf } = await pdfOf('/print/ready-flag.pdf');
      expect(pdf.text[0]).toContain('Ready content');
    });
  });

  test.describe('download name', () => {
    test('an ASCII pdf-filename is sent as a plain quoted filename, inline', async () => {
      const { res } = await pdfOf('/print/filename.pdf');
      expect(res.headers.get('content-disposition')).toBe('inline; filename="Quarterly report 2026.pdf"');
    });

    test("a non-ASCII pdf-filename gets an ASCII fallback and an RFC 5987 filename*=UTF-8''…", async () => {
      const { res } = await pdfOf('/print/filename-unicode.pdf');
      const cd = res.headers.get('content-disposition') ?? '';
      const m = /^inline; filename="([^"]*)"; filename\*=UTF-8''(\S+)$/.exec(cd);
      expect(m, cd).not.toBeNull();
      expect(m![1]).toMatch(/^[\x20-\x7e]+\.pdf$/);
      expect(m![1]).toMatch(/^Faktura c\. 42 /);
      expect(decodeURIComponent(m![2]!)).toBe('Faktura č. 42 – Zażółć.pdf');
    });

    test('?download asks for an attachment with the same name', async () => {
      const { res } = await pdfOf('/print/filename.pdf?download');
      expect(res.headers.get('content-disposition')).toBe('attachment; filename="Quarterly report 2026.pdf"');
      const unicode = await pdfOf('/print/filename-unicode.pdf?download=1');
      expect(unicode.res.headers.get('content-disposition')).toMatch(
        /^attachment; filename="[^"]+"; filename\*=UTF-8''Faktura/,
      );
    });

    test('without pdf-filename the name comes from <title>, then from the path', async () => {
      expect((await pdfOf('/print/title-only.pdf')).res.headers.get('content-disposition')).toBe(
        'inline; filename="Monthly Summary.pdf"',
      );
      expect((await pdfOf('/print/untitled.pdf')).res.headers.get('content-disposition')).toBe(
        'inline; filename="untitled.pdf"',
      );
    });
  });

  test('bad values are ignored: the page prints with the defaults and each is logged with page and option', async () => {
    const { res, pdf } = await pdfOf('/print/bad-values.pdf'); // pdf-format B52, pdf-scale 9, pdf-margin lots
    expect(pdf.text[0]).toContain('Printed with defaults despite bad values');
    expect(pdf.sizes[0]).toEqual(LETTER);
    const text = item(await pageDetail(res.body), 'Printed with defaults');
    expect(text.size).toBeCloseTo(12, 0); // scale 1: 16px text
    expect(Math.abs(text.x - (DEFAULT_MARGIN_PT + BODY_MARGIN_PT))).toBeLessThanOrEqual(POS_SLACK);

    const warnings = warningsFor('bad-values');
    const byOption = Object.fromEntries(warnings.map((w) => [w.option, w]));
    expect(Object.keys(byOption).sort()).toEqual(['pdf-format', 'pdf-margin', 'pdf-scale']);
    expect(byOption['pdf-format']).toMatchObject({ value: 'B52', page: `${s.main.url}/print/bad-values` });
    expect(byOption['pdf-scale']).toMatchObject({ value: '9' });
    expect(byOption['pdf-margin']).toMatchObject({ value: 'lots' });
    for (const w of warnings) expect(w.reason).toBeTruthy();
    // A page with only good values logs nothing of the kind.
    await pdfOf('/print/metadata.pdf');
    expect(warningsFor('metadata')).toEqual([]);
  });
});

// Its own stack: the shared one's generous RENDER_TIMEOUT would make this wait a minute.
test.describe('print options: readiness is bounded', () => {
  test.describe.configure({ timeout: 120_000 });
  const timeoutS = 3;
  let s: InProcess;

  test.beforeAll(async () => {
    s = await startStack({ RENDER_TIMEOUT: `${timeoutS}s` });
  });
  test.afterAll(async () => {
    await s?.close();
  });

  test('a page that never sets window.pdfReady = true gets 504 at RENDER_TIMEOUT instead of hanging', async () => {
    const started = Date.now();
    const r = await get(`${s.url}/print/never-ready.pdf`);
    const elapsedS = (Date.now() - started) / 1000;
    expect(r.status).toBe(504);
    expect(elapsedS).toBeGreaterThanOrEqual(timeoutS - 0.5);
    expect(elapsedS).toBeLessThan(timeoutS + 30);
  });
});
