import { test, expect } from '@playwright/test';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { getuid } from 'node:process';
import puppeteer from 'puppeteer-core';
import { BASE_ARGS } from '../../src/browser/chromium.js';
import {
  checkPdfASupport,
  convertToPdfA as convertToPdfAFile,
  findGhostscript,
  PdfAError,
  type PdfStandard,
} from '../../src/output/pdfa.js';
import { readPdf } from '../support/pdf.js';
import { describeProfile, infoField, poppler, structure, xmpTitle, xmpValue } from '../support/pdfa.js';

/** The conversion's result as bytes, its private directory removed. */
async function convertToPdfA(...args: Parameters<typeof convertToPdfAFile>): Promise<Uint8Array> {
  const file = await convertToPdfAFile(...args);
  try {
    return new Uint8Array(await readFile(file.path));
  } finally {
    await file.dispose();
  }
}

// Real Chromium prints the inputs and real Ghostscript converts them; what can be checked
// without a PDF/A validator is checked on the result with poppler, pdf-lib and pdf.js.

const TITLE = 'Raport kwartalny – Zażółć gęślą jaźń';

// Two pages, three faces, Central-European diacritics, a background colour and a link: the
// things Chromium writes that PDF/A cares about (embedded CID fonts, DeviceRGB fills,
// an annotation, a UTF-16 title with a character beyond U+07FF, the en dash).
const SAMPLE = `<!doctype html><html lang="pl"><head><meta charset="utf-8"><title>${TITLE}</title>
<style>
  body { background: #fdf1d8; font: 14px 'Liberation Sans'; }
  .serif { font-family: 'Liberation Serif'; }
  .dejavu { font-family: 'DejaVu Sans'; color: #234; }
  .next { break-before: page; }
</style></head><body>
<h1>Zażółć gęślą jaźń</h1>
<p class="serif">Příliš žluťoučký kůň úpěl ďábelské ódy. Łódź, Kraków, Gdańsk.</p>
<p class="dejavu">Árvíztűrő tükörfúrógép — DejaVu Sans</p>
<p><a href="https://example.com/raport">https://example.com/raport</a></p>
<p class="next serif">Druga strona: ąćęłńóśźż ĄĆĘŁŃÓŚŹŻ</p>
</body></html>`;

// A character from the Private Use Area: no installed font has it, so Chromium prints the
// .notdef glyph, which PDF/A forbids.
const NOTDEF = `<!doctype html><html><head><meta charset="utf-8"><title>Missing glyph</title></head>
<body><p style="font-family: 'Liberation Sans'">Private use: \u{E000}</p></body></html>`;

// Long enough that Ghostscript is still busy when the abort arrives (~0.5 s CPU per page).
const LONG = `<!doctype html><html><head><meta charset="utf-8"><title>Long</title></head>
<body style="font-family: 'Liberation Sans'">${Array.from(
  { length: 800 },
  (_, i) => `<p>Akapit ${i + 1}: Zażółć gęślą jaźń. Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>`,
).join('')}</body></html>`;

// An ASCII title with PDF string delimiters: Chromium writes it as a (literal string) with escapes.
const ASCII_TITLE = String.raw`Q1 (draft) \ 100% <final>`;
const ESCAPED = `<!doctype html><html><head><meta charset="utf-8"><title>${ASCII_TITLE.replace('<', '&lt;').replace('>', '&gt;')}</title></head>
<body><p style="font-family: 'Liberation Serif'">Draft</p></body></html>`;

let plain: Uint8Array;
let escaped: Uint8Array;
let notdef: Uint8Array;
let long: Uint8Array;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROME_PATH ?? '/usr/bin/chromium',
    // Chromium refuses its sandbox as root (as in the appliance's own launch).
    args: [...BASE_ARGS, ...(getuid?.() === 0 ? ['--no-sandbox'] : [])],
  });
  try {
    const print = async (html: string) => {
      const page = await browser.newPage();
      await page.setContent(html);
      const pdf = await page.pdf({ format: 'A4', printBackground: true, timeout: 60_000 });
      await page.close();
      return pdf;
    };
    plain = await print(SAMPLE);
    escaped = await print(ESCAPED);
    notdef = await print(NOTDEF);
    long = await print(LONG);
  } finally {
    await browser.close();
  }
});

/** Processes whose command line mentions `text` (Ghostscript's names the private directory). */
function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes(text)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

async function privateParent(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'pdfa-spec-'));
}

async function expectPdfAError(
  promise: Promise<unknown>,
  reason: PdfAError['reason'],
  message: RegExp,
): Promise<PdfAError> {
  const err = await promise.then(
    () => {
      throw new Error('expected the conversion to fail');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PdfAError);
  const e = err as PdfAError;
  expect(e.reason).toBe(reason);
  expect(e.message).toMatch(message);
  // One short line for the client; Ghostscript's own words stay in `detail`, for the log.
  expect(e.message).not.toContain('\n');
  expect(e.message.length).toBeLessThan(160);
  return e;
}

for (const [standard, part] of [
  ['PDF/A-2b', '2'],
  ['PDF/A-3b', '3'],
] as Array<[PdfStandard, string]>) {
  test.describe(`${standard} from a Chromium print`, () => {
    let pdfa: Uint8Array;
    let parent: string;

    test.beforeAll(async () => {
      parent = await privateParent();
      pdfa = await convertToPdfA(plain, standard, { tmpDir: parent });
    });
    test.afterAll(async () => {
      await rm(parent, { recursive: true, force: true });
    });

    test('XMP identifies the part and conformance level B', async () => {
      const { xmp } = await structure(pdfa);
      expect(xmpValue(xmp, 'pdfaid:part')).toBe(part);
      expect(xmpValue(xmp, 'pdfaid:conformance')).toBe('B');
      // The plain print has no XMP at all: the identification is the conversion's doing.
      expect(poppler('pdfinfo', plain)).toMatch(/Metadata Stream:\s+no/);
    });

    test('has a GTS_PDFA1 OutputIntent with an embedded sRGB profile', async () => {
      const { intentSubtype, profile } = await structure(pdfa);
      expect(intentSubtype).toBe('/GTS_PDFA1');
      const icc = describeProfile(profile);
      expect(icc).toMatchObject({ signature: 'acsp', colourSpace: 'RGB ', deviceClass: 'mntr', mentionsSrgb: true });
      expect(icc.declaredSize).toBe(icc.length);
      expect([2, 4]).toContain(icc.majorVersion);
    });

    test('embeds every font and is not encrypted', () => {
      const rows = poppler('pdffonts', pdfa).trim().split('\n').slice(2);
      // Liberation Sans (regular and bold heading), Liberation Serif, DejaVu Sans.
      expect(rows.length).toBeGreaterThanOrEqual(3);
      for (const row of rows) {
        const cols = row.trim().split(/\s+/);
        // The last five columns: emb sub uni object-number generation.
        expect(cols[cols.length - 5], row).toBe('yes');
      }
      expect(infoField(poppler('pdfinfo', pdfa), 'Encrypted')).toBe('no');
    });

    test('keeps the pages and the text exactly', async () => {
      const before = await readPdf(plain);
      const after = await readPdf(pdfa);
      expect(before.pages).toBe(2);
      expect(after.pages).toBe(before.pages);
      expect(after.sizes).toEqual(before.sizes);
      expect(after.text).toEqual(before.text);
      expect(after.text.join(' ')).toContain('Zażółć gęślą jaźń');
    });

    test('keeps the title, in Info and identical in XMP', async () => {
      expect(infoField(poppler('pdfinfo', plain), 'Title')).toBe(TITLE);
      expect(infoField(poppler('pdfinfo', pdfa), 'Title')).toBe(TITLE);
      expect(xmpTitle((await structure(pdfa)).xmp)).toBe(TITLE);
    });

    test('leaves nothing behind in its temporary directory', () => {
      expect(readdirSync(parent)).toEqual([]);
    });
  });
}

test.describe('PDF/A conversion: metadata, failures, cancellation', () => {
  test('an explicit title wins; characters Ghostscript cannot carry into XMP are replaced, not lost silently', async () => {
    const title = 'Faktura 😀 漢字 “cytat” & <znacznik> (nawias)';
    const pdfa = await convertToPdfA(plain, 'PDF/A-2b', { title });
    // Emoji (outside the BMP) become U+FFFD in both places; everything else survives.
    const expected = 'Faktura \uFFFD 漢字 “cytat” & <znacznik> (nawias)';
    expect(infoField(poppler('pdfinfo', pdfa), 'Title')).toBe(expected);
    expect(xmpTitle((await structure(pdfa)).xmp)).toBe(expected);
  });

  test('a title Chromium writes as a literal string with escapes is kept', async () => {
    expect(infoField(poppler('pdfinfo', escaped), 'Title')).toBe(ASCII_TITLE);
    const pdfa = await convertToPdfA(escaped, 'PDF/A-2b');
    expect(infoField(poppler('pdfinfo', pdfa), 'Title')).toBe(ASCII_TITLE);
    expect(xmpTitle((await structure(pdfa)).xmp)).toBe(ASCII_TITLE);
  });

  test('input that is not a PDF is refused before Ghostscript runs', async () => {
    const parent = await privateParent();
    try {
      await expectPdfAError(
        convertToPdfA(Buffer.from('<html>not a pdf</html>\n'), 'PDF/A-2b', { tmpDir: parent }),
        'not-a-pdf',
        /not a complete PDF/,
      );
      // A PDF cut short: Ghostscript would "repair" it into a page with substituted fonts.
      await expectPdfAError(
        convertToPdfA(plain.subarray(0, plain.length / 2), 'PDF/A-2b', { tmpDir: parent }),
        'not-a-pdf',
        /not a complete PDF/,
      );
      expect(readdirSync(parent)).toEqual([]);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  test('a PDF Ghostscript cannot read fails with a short message; its output goes to detail', async () => {
    const parent = await privateParent();
    try {
      const garbage = Buffer.from(
        '%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n(unbalanced\ntrailer << /Root 1 0 R >>\n%%EOF\n',
      );
      const err = await expectPdfAError(
        convertToPdfA(garbage, 'PDF/A-2b', { tmpDir: parent }),
        'failed',
        /^Ghostscript could not convert the document to PDF\/A-2b: it exited with code \d+$/,
      );
      expect(err.detail ?? '').not.toBe('');
      expect(readdirSync(parent)).toEqual([]);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  test('a document Ghostscript writes as plain PDF instead of PDF/A is an error, not a mislabelled file', async () => {
    const err = await expectPdfAError(
      convertToPdfA(notdef, 'PDF/A-3b'),
      'not-conformant',
      /could not make the document PDF\/A-3b/,
    );
    expect(err.detail).toContain('CID 0');
  });

  test('from a stream: the result is a file in a private directory that dispose() removes; a failure leaves nothing', async () => {
    const dir = await privateParent();
    try {
      async function* chunks(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < bytes.length; i += 4096) yield bytes.subarray(i, i + 4096);
      }
      const file = await convertToPdfAFile(chunks(plain), 'PDF/A-2b', { tmpDir: dir });
      expect(file.path.startsWith(dir)).toBe(true);
      expect(statSync(file.path).size).toBe(file.size);
      expect(statSync(dirname(file.path)).mode & 0o777).toBe(0o700);
      // Only the result is left in its directory: the input copy is gone already.
      expect(readdirSync(dirname(file.path))).toEqual(['output.pdf']);
      const streamed: Buffer[] = [];
      for await (const c of file.open()) streamed.push(c as Buffer);
      expect(xmpValue((await structure(Buffer.concat(streamed))).xmp, 'pdfaid:part')).toBe('2');
      await file.dispose();
      expect(readdirSync(dir)).toEqual([]);

      await expectPdfAError(
        convertToPdfAFile(chunks(notdef), 'PDF/A-2b', { tmpDir: dir }),
        'not-conformant',
        /not PDF\/A/,
      );
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('aborting kills Ghostscript at once and cleans up', async () => {
    test.setTimeout(60_000);
    const parent = await privateParent();
    try {
      const controller = new AbortController();
      const reason = new Error('client went away');
      const conversion = convertToPdfA(long, 'PDF/A-2b', { tmpDir: parent, signal: controller.signal });
      conversion.catch(() => undefined); // observed below; keep Node from calling it unhandled meanwhile

      // Wait until Ghostscript is really running on our document.
      await expect
        .poll(() => processesMentioning(parent).length, { timeout: 10_000, intervals: [20] })
        .toBeGreaterThan(0);
      const started = performance.now();
      controller.abort(reason);
      await expect(conversion).rejects.toBe(reason);
      expect(performance.now() - started).toBeLessThan(2000);

      expect(processesMentioning(parent)).toEqual([]);
      expect(readdirSync(parent)).toEqual([]);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  test('an already aborted signal starts nothing', async () => {
    const parent = await privateParent();
    try {
      const reason = new Error('too late');
      await expect(
        convertToPdfA(plain, 'PDF/A-2b', { tmpDir: parent, signal: AbortSignal.abort(reason) }),
      ).rejects.toBe(reason);
      expect(readdirSync(parent)).toEqual([]);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  test('missing Ghostscript or profile: one clear line, at start-up and per call', async () => {
    const support = checkPdfASupport();
    expect(support.gsPath).toBe(findGhostscript());
    expect(support.gsVersion).toMatch(/^\d+\.\d+/);
    expect(describeProfile(readFileSync(support.iccProfile)).mentionsSrgb).toBe(true);

    expect(findGhostscript('/nonexistent:/also-not-here')).toBeNull();
    expect(() => checkPdfASupport({ gsPath: '/nonexistent/gs' })).toThrow(
      /^PDF\/A output needs Ghostscript: \/nonexistent\/gs is not an executable file$/,
    );
    // A real profile, but CMYK: the OutputIntent would claim sRGB falsely.
    const cmyk = join(support.iccProfile, '..', 'default_cmyk.icc');
    expect(() => checkPdfASupport({ iccProfile: cmyk })).toThrow(/needs an sRGB ICC profile: .* is not one$/);
    await expectPdfAError(
      convertToPdfA(plain, 'PDF/A-2b', { gsPath: '/nonexistent/gs' }),
      'unavailable',
      /needs Ghostscript/,
    );
  });
});
