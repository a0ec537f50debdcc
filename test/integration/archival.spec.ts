import { test, expect } from '@playwright/test';
import { readPdf } from '../support/pdf.js';
import { describeProfile, infoField, poppler, structure, xmpValue } from '../support/pdfa.js';
import { get, startStack, type InProcess } from '../support/stack.js';

// Archival PDFs through the appliance: the page asks with <meta name="pdf-standard"> or the
// operator with PDF_STANDARD. No PDF/A validator installs here (veraPDF needs a JVM and a
// download), so this checks what can be checked: the XMP identification, an sRGB OutputIntent
// with its ICC profile embedded, every font embedded, no encryption, and the same text as the
// plain PDF of the same page. (The conversion itself: pdfa.spec.ts.)

const page = (options: Record<string, string> = {}, ext = 'pdf'): string =>
  `/out/blocks.${ext}?${new URLSearchParams(options)}`;

async function pdf(s: InProcess, path: string): Promise<Buffer> {
  const r = await get(`${s.url}${path}`);
  expect(r.status, r.body.toString().slice(0, 300)).toBe(200);
  expect(r.headers.get('content-type')).toBe('application/pdf');
  return r.body;
}

test.describe('pdf-standard in the page', () => {
  let s: InProcess;
  test.beforeAll(async () => {
    s = await startStack({ RENDER_TIMEOUT: '60s' });
  });
  test.afterAll(async () => {
    await s?.close();
  });

  test('PDF/A-2b: identified, sRGB intent, fonts embedded, not encrypted, same text as the plain PDF', async () => {
    const meta = { author: 'Ada Lovelace', description: 'Archived blocks' };
    const r = await get(`${s.url}${page({ ...meta, 'pdf-standard': 'PDF/A-2b' })}`);
    expect(r.status).toBe(200);
    // Converted whole, so its length is known.
    expect(Number(r.headers.get('content-length'))).toBe(r.body.length);
    const archived = r.body;

    const { xmp, intentSubtype, profile } = await structure(archived);
    expect(xmpValue(xmp, 'pdfaid:part')).toBe('2');
    expect(xmpValue(xmp, 'pdfaid:conformance')).toBe('B');
    expect(intentSubtype).toBe('/GTS_PDFA1');
    expect(describeProfile(profile)).toMatchObject({ signature: 'acsp', colourSpace: 'RGB ', mentionsSrgb: true });

    const fonts = poppler('pdffonts', archived)
      .split('\n')
      .slice(2)
      .filter((l) => l.trim() !== '');
    expect(fonts.length).toBeGreaterThan(0);
    // Columns: name type encoding emb sub uni object ID; "emb" must say yes for each.
    for (const line of fonts) expect(line, line).toMatch(/\s+yes\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+\s*$/);
    const info = poppler('pdfinfo', archived);
    expect(infoField(info, 'Encrypted')).toBe('no');
    expect(infoField(info, 'Author')).toBe('Ada Lovelace');
    expect(infoField(info, 'Subject')).toBe('Archived blocks');
    expect(infoField(info, 'Title')).toBe('Blocks');

    const plain = await readPdf(await pdf(s, page(meta)));
    const converted = await readPdf(archived);
    expect(converted.text).toEqual(plain.text);
    expect(converted.text.join(' ')).toContain('Zażółć gęślą jaźń');
  });

  test('PDF/A-3b is part 3', async () => {
    const { xmp } = await structure(await pdf(s, page({ 'pdf-standard': 'pdf/a-3b' })));
    expect(xmpValue(xmp, 'pdfaid:part')).toBe('3');
    expect(xmpValue(xmp, 'pdfaid:conformance')).toBe('B');
  });

  test('an unknown standard is ignored with a warning: the plain PDF', async () => {
    const body = await pdf(s, page({ 'pdf-standard': 'PDF/A-1a' }));
    expect(body.toString('latin1')).not.toContain('pdfaid:part');
    const warning = s.logs
      .map((l) => JSON.parse(l))
      .find((l) => l.msg === 'ignored page option' && l.option === 'pdf-standard');
    expect(warning).toMatchObject({ value: 'PDF/A-1a', reason: 'expected PDF/A-2b, PDF/A-3b or none' });
  });
});

test.describe('PDF_STANDARD in the environment', () => {
  let s: InProcess;
  test.beforeAll(async () => {
    s = await startStack({ RENDER_TIMEOUT: '60s', PDF_STANDARD: 'PDF/A-3b' });
  });
  test.afterAll(async () => {
    await s?.close();
  });

  test('every PDF is archival unless the page says none', async () => {
    expect(xmpValue((await structure(await pdf(s, page()))).xmp, 'pdfaid:part')).toBe('3');
    expect((await pdf(s, page({ 'pdf-standard': 'none' }))).toString('latin1')).not.toContain('pdfaid:part');
    // Images are not PDFs: the setting does not touch them.
    expect((await get(`${s.url}${page({}, 'png')}`)).headers.get('content-type')).toBe('image/png');
  });
});
