import { test, expect } from '@playwright/test';
import { COLLECT_PAGE_HINTS, type RawPageHints } from '../../../src/render/page-hints.js';
import { parseFormat, parseMargin, planPrint, type PdfDefaults } from '../../../src/render/print-plan.js';

const defaults: PdfDefaults = {
  format: 'A4',
  landscape: false,
  printBackground: true,
  margin: { top: '10mm', right: '10mm', bottom: '10mm', left: '10mm' },
  scale: 1,
  outline: false,
  tagged: false,
  standard: null,
};

function hints(meta: Record<string, string> = {}, extra: Partial<RawPageHints> = {}): RawPageHints {
  return { meta, title: '', selectorErrors: {}, ...extra };
}

test.describe('parseFormat', () => {
  test('accepts every supported format case-insensitively and returns the canonical name', () => {
    expect(parseFormat('a4')).toBe('A4');
    expect(parseFormat(' LETTER ')).toBe('Letter');
    expect(parseFormat('legal')).toBe('Legal');
    expect(parseFormat('Tabloid')).toBe('Tabloid');
    expect(parseFormat('ledger')).toBe('Ledger');
    for (const n of [0, 1, 2, 3, 4, 5, 6]) expect(parseFormat(`a${n}`)).toBe(`A${n}`);
  });

  test('rejects unknown formats', () => {
    for (const bad of ['B52', 'A7', 'B5', '', 'A 4', 'letterx', 'constructor', '__proto__']) {
      expect(parseFormat(bad), bad).toBeNull();
    }
  });
});

test.describe('parseMargin', () => {
  test('one value applies to all sides', () => {
    expect(parseMargin('20mm')).toEqual({ top: '20mm', right: '20mm', bottom: '20mm', left: '20mm' });
  });

  test('two, three and four values follow CSS margin order', () => {
    expect(parseMargin('1in 0.5in')).toEqual({ top: '1in', right: '0.5in', bottom: '1in', left: '0.5in' });
    expect(parseMargin('1cm 2cm 3cm')).toEqual({ top: '1cm', right: '2cm', bottom: '3cm', left: '2cm' });
    expect(parseMargin('1px 2mm 3cm 4in')).toEqual({ top: '1px', right: '2mm', bottom: '3cm', left: '4in' });
  });

  test('normalises units, decimals and whitespace; bare zero is allowed', () => {
    expect(parseMargin('  10MM\t.5In ')).toEqual({ top: '10mm', right: '0.5in', bottom: '10mm', left: '0.5in' });
    expect(parseMargin('0')).toEqual({ top: '0px', right: '0px', bottom: '0px', left: '0px' });
    expect(parseMargin('0 12.50mm')).toEqual({ top: '0px', right: '12.5mm', bottom: '0px', left: '12.5mm' });
  });

  test('rejects bad values', () => {
    for (const bad of [
      '',
      'lots',
      '10',
      '10pt',
      '-5mm',
      '1mm 2mm 3mm 4mm 5mm',
      '10 mm',
      '1e3mm',
      'auto',
      '1mm,2mm',
      '5em',
    ]) {
      expect(parseMargin(bad), bad).toBeNull();
    }
  });
});

test.describe('planPrint', () => {
  test('uses the defaults when the page says nothing', () => {
    const plan = planPrint(hints(), defaults);
    expect(plan.warnings).toEqual([]);
    expect(plan.media).toBe('print');
    expect(plan.waitFor).toBeUndefined();
    expect(plan.filename).toBeUndefined();
    expect(plan.metadata).toEqual({});
    expect(plan.pdf).toEqual({
      format: 'A4',
      landscape: false,
      printBackground: true,
      scale: 1,
      preferCSSPageSize: true,
      outline: false,
      tagged: false,
      displayHeaderFooter: false,
      margin: { top: '10mm', right: '10mm', bottom: '10mm', left: '10mm' },
    });
  });

  test('does not mutate the defaults', () => {
    const copy = structuredClone(defaults);
    planPrint(hints({ 'pdf-margin': '0' }, { header: 'x', footer: 'y' }), defaults);
    expect(defaults).toEqual(copy);
  });

  test('always prefers the CSS page size', () => {
    expect(planPrint(hints({ 'pdf-format': 'Letter' }), defaults).pdf.preferCSSPageSize).toBe(true);
  });

  test('pdf-format: good and bad values', () => {
    expect(planPrint(hints({ 'pdf-format': 'letter' }), defaults).pdf.format).toBe('Letter');
    const bad = planPrint(hints({ 'pdf-format': 'B52' }), defaults);
    expect(bad.pdf.format).toBe('A4');
    expect(bad.warnings).toEqual([
      { option: 'pdf-format', value: 'B52', reason: expect.stringContaining('paper format') },
    ]);
  });

  for (const [option, key] of [
    ['pdf-landscape', 'landscape'],
    ['pdf-print-background', 'printBackground'],
    ['pdf-tagged', 'tagged'],
    ['pdf-outline', 'outline'],
  ] as const) {
    test(`${option}: true/false in any case, anything else warns and keeps the default`, () => {
      expect(planPrint(hints({ [option]: 'TRUE' }), { ...defaults, [key]: false }).pdf[key]).toBe(true);
      expect(planPrint(hints({ [option]: ' false ' }), { ...defaults, [key]: true }).pdf[key]).toBe(false);
      const bad = planPrint(hints({ [option]: 'sure' }), { ...defaults, [key]: true });
      expect(bad.pdf[key]).toBe(true);
      expect(bad.warnings).toEqual([{ option, value: 'sure', reason: expect.any(String) }]);
    });
  }

  test('pdf-outline implies a tagged PDF, which Chrome needs to build the outline', () => {
    const plan = planPrint(hints({ 'pdf-outline': 'true', 'pdf-tagged': 'false' }), defaults);
    expect(plan.pdf.outline).toBe(true);
    expect(plan.pdf.tagged).toBe(true);
  });

  test('pdf-margin: valid shorthand replaces the default margins', () => {
    const plan = planPrint(hints({ 'pdf-margin': '30mm 10mm 20mm 40mm' }), defaults);
    expect(plan.pdf.margin).toEqual({ top: '30mm', right: '10mm', bottom: '20mm', left: '40mm' });
    expect(plan.warnings).toEqual([]);
  });

  test('pdf-margin: unparsable value warns and keeps the defaults', () => {
    const plan = planPrint(hints({ 'pdf-margin': 'lots' }), defaults);
    expect(plan.pdf.margin).toEqual(defaults.margin);
    expect(plan.warnings).toEqual([{ option: 'pdf-margin', value: 'lots', reason: expect.any(String) }]);
  });

  test('pdf-margin: margins that leave no room for content are rejected (Chrome would fail)', () => {
    // A4 portrait is 210mm wide: 100mm + 100mm leaves 10mm.
    const plan = planPrint(hints({ 'pdf-margin': '10mm 100mm' }), defaults);
    expect(plan.pdf.margin).toEqual(defaults.margin);
    expect(plan.warnings).toEqual([
      { option: 'pdf-margin', value: '10mm 100mm', reason: expect.stringContaining('A4') },
    ]);
    // The same margins fit across A4 landscape (297mm wide, 210mm tall).
    const landscape = planPrint(hints({ 'pdf-margin': '10mm 100mm', 'pdf-landscape': 'true' }), defaults);
    expect(landscape.pdf.margin).toEqual({ top: '10mm', right: '100mm', bottom: '10mm', left: '100mm' });
    expect(landscape.warnings).toEqual([]);
    // Checked against the page's own format, not the default one.
    const a6 = planPrint(hints({ 'pdf-margin': '2in', 'pdf-format': 'A6' }), defaults);
    expect(a6.pdf.margin).toEqual(defaults.margin);
    expect(a6.warnings).toHaveLength(1);
  });

  test('pdf-scale: 0.1 to 2 inclusive', () => {
    expect(planPrint(hints({ 'pdf-scale': '0.5' }), defaults).pdf.scale).toBe(0.5);
    expect(planPrint(hints({ 'pdf-scale': '0.1' }), defaults).pdf.scale).toBe(0.1);
    expect(planPrint(hints({ 'pdf-scale': '2' }), defaults).pdf.scale).toBe(2);
    expect(planPrint(hints({ 'pdf-scale': '.75' }), defaults).pdf.scale).toBe(0.75);
    for (const bad of ['9', '0', '0.09', '2.01', '-1', 'half', '1e0', '50%', 'NaN', 'Infinity']) {
      const plan = planPrint(hints({ 'pdf-scale': bad }), defaults);
      expect(plan.pdf.scale, bad).toBe(1);
      expect(plan.warnings, bad).toEqual([{ option: 'pdf-scale', value: bad, reason: expect.any(String) }]);
    }
  });

  test('pdf-page-ranges: normalised when valid', () => {
    const cases: Array<[string, string]> = [
      ['2-4', '2-4'],
      ['1-3, 5', '1-3,5'],
      [' 1 - 3 ,5,  7-7 ', '1-3,5,7-7'],
      ['-3', '-3'],
      ['5-', '5-'],
    ];
    for (const [input, expected] of cases) {
      const plan = planPrint(hints({ 'pdf-page-ranges': input }), defaults);
      expect(plan.pdf.pageRanges, input).toBe(expected);
      expect(plan.warnings, input).toEqual([]);
    }
    expect(planPrint(hints(), defaults).pdf.pageRanges).toBeUndefined();
  });

  test('pdf-page-ranges: malformed values warn and print all pages', () => {
    for (const bad of ['0', '4-2', 'a-b', '1,,2', '1-2-3', '-', '1 2', 'all', '3-0']) {
      const plan = planPrint(hints({ 'pdf-page-ranges': bad }), defaults);
      expect(plan.pdf.pageRanges, bad).toBeUndefined();
      expect(plan.warnings, bad).toEqual([{ option: 'pdf-page-ranges', value: bad, reason: expect.any(String) }]);
    }
  });

  test('pdf-media: print or screen, case-insensitive', () => {
    expect(planPrint(hints({ 'pdf-media': 'Screen' }), defaults).media).toBe('screen');
    expect(planPrint(hints({ 'pdf-media': 'print' }), defaults).media).toBe('print');
    const bad = planPrint(hints({ 'pdf-media': 'tv' }), defaults);
    expect(bad.media).toBe('print');
    expect(bad.warnings).toEqual([{ option: 'pdf-media', value: 'tv', reason: expect.any(String) }]);
  });

  test('pdf-filename is passed through trimmed', () => {
    expect(planPrint(hints({ 'pdf-filename': '  Quarterly report 2026.pdf ' }), defaults).filename).toBe(
      'Quarterly report 2026.pdf',
    );
  });

  test('pdf-wait-for: exposed as waitFor unless the page rejected the selector', () => {
    expect(planPrint(hints({ 'pdf-wait-for': ' #done ' }), defaults).waitFor).toBe('#done');
    const bad = planPrint(
      hints({ 'pdf-wait-for': '#(' }, { selectorErrors: { 'pdf-wait-for': "'#(' is not a valid selector." } }),
      defaults,
    );
    expect(bad.waitFor).toBeUndefined();
    expect(bad.warnings).toEqual([
      { option: 'pdf-wait-for', value: '#(', reason: expect.stringContaining('not a valid selector') },
    ]);
    const long = planPrint(hints({ 'pdf-wait-for': `#${'a'.repeat(2000)}` }), defaults);
    expect(long.waitFor).toBeUndefined();
    expect(long.warnings).toHaveLength(1);
  });

  test('empty pdf-* values and unknown pdf-* names warn', () => {
    const plan = planPrint(hints({ 'pdf-format': '  ', 'pdf-fromat': 'A3' }), defaults);
    expect(plan.pdf.format).toBe('A4');
    expect(plan.warnings).toEqual(
      expect.arrayContaining([
        { option: 'pdf-format', value: '', reason: 'empty value' },
        { option: 'pdf-fromat', value: 'A3', reason: 'unknown option' },
      ]),
    );
    expect(plan.warnings).toHaveLength(2);
  });

  test('the bad-values fixture page prints with the defaults and three warnings', () => {
    const plan = planPrint(hints({ 'pdf-format': 'B52', 'pdf-scale': '9', 'pdf-margin': 'lots' }), defaults);
    expect(plan.pdf).toMatchObject({ format: 'A4', scale: 1, margin: defaults.margin });
    expect(plan.warnings.map((w) => [w.option, w.value]).sort()).toEqual([
      ['pdf-format', 'B52'],
      ['pdf-margin', 'lots'],
      ['pdf-scale', '9'],
    ]);
  });

  test('metadata comes from the title and the author/description/keywords metas', () => {
    const plan = planPrint(
      hints(
        { author: ' Ada Lovelace ', description: 'A page that describes itself', keywords: 'invoice, pdf' },
        { title: '  Metadata Fixture ' },
      ),
      defaults,
    );
    expect(plan.metadata).toEqual({
      title: 'Metadata Fixture',
      author: 'Ada Lovelace',
      subject: 'A page that describes itself',
      keywords: 'invoice, pdf',
    });
    expect(plan.warnings).toEqual([]);
  });
});

test.describe('planPrint header and footer', () => {
  test('a header alone: wrapped at 9px, footer blanked so Chrome does not add its own', () => {
    const plan = planPrint(hints({}, { header: '<span class="title"></span>' }), defaults);
    expect(plan.pdf.displayHeaderFooter).toBe(true);
    expect(plan.pdf.headerTemplate).toContain('font-size:9px');
    expect(plan.pdf.headerTemplate).toContain('<span class="title"></span>');
    expect(plan.pdf.footerTemplate).toBe('<span></span>');
  });

  test('the author can still override the default font size inside the template', () => {
    const plan = planPrint(hints({}, { footer: '<div style="font-size:12px">Page</div>' }), defaults);
    const footer = plan.pdf.footerTemplate ?? '';
    // The wrapper comes first, so the author's inner style is the more specific one.
    expect(footer.indexOf('font-size:9px')).toBeLessThan(footer.indexOf('font-size:12px'));
    expect(plan.pdf.headerTemplate).toBe('<span></span>');
  });

  test('template text is lined up with the page content', () => {
    const plan = planPrint(hints({ 'pdf-margin': '20mm 12mm 20mm 25mm' }, { header: 'H' }), defaults);
    expect(plan.pdf.headerTemplate).toContain('padding:0 12mm 0 25mm');
  });

  test('small margins are enlarged to 15mm only on the side that has a template', () => {
    const header = planPrint(hints({}, { header: 'H' }), defaults);
    expect(header.pdf.margin).toEqual({ top: '15mm', right: '10mm', bottom: '10mm', left: '10mm' });
    const footer = planPrint(hints({ 'pdf-margin': '0' }, { footer: 'F' }), defaults);
    expect(footer.pdf.margin).toEqual({ top: '0px', right: '0px', bottom: '15mm', left: '0px' });
    const both = planPrint(hints({ 'pdf-margin': '0.5in' }, { header: 'H', footer: 'F' }), defaults);
    expect(both.pdf.margin).toMatchObject({ top: '15mm', bottom: '15mm' });
  });

  test('margins already large enough are kept as written', () => {
    const plan = planPrint(hints({ 'pdf-margin': '1in 10mm 2cm' }, { header: 'H', footer: 'F' }), defaults);
    expect(plan.pdf.margin).toEqual({ top: '1in', right: '10mm', bottom: '2cm', left: '10mm' });
    const px = planPrint(hints({ 'pdf-margin': '57px' }, { header: 'H' }), defaults); // 57px ≈ 15.08mm
    expect(px.pdf.margin).toMatchObject({ top: '57px' });
  });

  test('blank templates count as absent', () => {
    const plan = planPrint(hints({}, { header: '  \n ', footer: '' }), defaults);
    expect(plan.pdf.displayHeaderFooter).toBe(false);
    expect(plan.pdf.headerTemplate).toBeUndefined();
    expect(plan.pdf.margin).toEqual(defaults.margin);
  });
});

test.describe('collectPageHints', () => {
  // Runtime.evaluate sends only the expression's source, so run it the same way: the very
  // expression, with nothing but a document in scope. Any closure over module state would throw here.
  class FakeTemplate {
    constructor(public innerHTML: string) {}
  }
  class FakeElement {
    constructor(private readonly attrs: Record<string, string>) {}
    getAttribute(name: string): string | null {
      return this.attrs[name] ?? null;
    }
  }
  function runInFakePage(page: {
    title: string;
    metas: Array<Record<string, string>>;
    byId?: Record<string, unknown>;
    badSelectors?: string[];
  }): RawPageHints {
    const document = {
      title: page.title,
      querySelectorAll: (sel: string) => (sel === 'meta[name]' ? page.metas.map((a) => new FakeElement(a)) : []),
      getElementById: (id: string) => page.byId?.[id] ?? null,
      querySelector: (sel: string) => {
        if (page.badSelectors?.includes(sel)) throw new SyntaxError(`'${sel}' is not a valid selector.`);
        return null;
      },
    };
    const rebuilt = new Function('document', 'HTMLTemplateElement', `return ${COLLECT_PAGE_HINTS};`);
    return rebuilt(document, FakeTemplate) as RawPageHints;
  }

  test('reads pdf-* and document metas (first wins), the title and both templates', () => {
    const result = runInFakePage({
      title: 'Invoice 42',
      metas: [
        { name: 'PDF-Format', content: 'A5' },
        { name: 'pdf-format', content: 'Letter' },
        { name: 'author', content: 'Ada' },
        { name: 'description', content: 'Desc' },
        { name: 'keywords', content: 'a, b' },
        { name: 'viewport', content: 'width=device-width' },
        { name: 'pdf-landscape' },
      ],
      byId: { 'pdf-header': new FakeTemplate('<span class="title"></span>'), 'pdf-footer': new FakeTemplate('F') },
    });
    expect(result).toEqual({
      meta: { 'pdf-format': 'A5', author: 'Ada', description: 'Desc', keywords: 'a, b', 'pdf-landscape': '' },
      title: 'Invoice 42',
      header: '<span class="title"></span>',
      footer: 'F',
      selectorErrors: {},
    });
  });

  test('ignores non-template elements with the template ids', () => {
    const result = runInFakePage({ title: '', metas: [], byId: { 'pdf-header': { innerHTML: 'div, not template' } } });
    expect(result).toEqual({ meta: {}, title: '', selectorErrors: {} });
  });

  test('reports a pdf-wait-for selector the page cannot parse', () => {
    const ok = runInFakePage({ title: '', metas: [{ name: 'pdf-wait-for', content: '#done' }] });
    expect(ok.selectorErrors).toEqual({});
    const bad = runInFakePage({
      title: '',
      metas: [{ name: 'pdf-wait-for', content: ' #( ' }],
      badSelectors: ['#('],
    });
    expect(bad.selectorErrors['pdf-wait-for']).toContain('not a valid selector');
    expect(planPrint(bad, defaults).waitFor).toBeUndefined();
  });
});
