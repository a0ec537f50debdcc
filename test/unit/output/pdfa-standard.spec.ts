import { test, expect } from '@playwright/test';
import { parsePdfStandard, pdfAPart } from '../../../src/output/pdfa-standard.js';

test.describe('parsePdfStandard', () => {
  test('accepts PDF/A-2b and PDF/A-3b in any case', () => {
    for (const v of ['PDF/A-2b', 'pdf/a-2b', 'PDF/A-2B', 'Pdf/A-2b']) expect(parsePdfStandard(v), v).toBe('PDF/A-2b');
    for (const v of ['PDF/A-3b', 'pdf/a-3b', 'PDF/A-3B']) expect(parsePdfStandard(v), v).toBe('PDF/A-3b');
  });

  test('ignores surrounding whitespace, as an environment file may leave it', () => {
    expect(parsePdfStandard('  PDF/A-2b\n')).toBe('PDF/A-2b');
  });

  test('refuses what the converter cannot produce', () => {
    for (const v of [
      '',
      'PDF/A',
      'PDF/A-1b', // part 1 forbids transparency, which Chromium uses
      'PDF/A-2a', // level A needs the structure tree Ghostscript drops
      'PDF/A-2u',
      'PDF/A-4',
      'PDF /A-2b',
      'PDFA-2b',
      'PDF-A-2b',
      'PDF/A-2bb',
      'xPDF/A-2b',
      'PDF/X-4',
      'true',
    ]) {
      expect(parsePdfStandard(v), JSON.stringify(v)).toBeNull();
    }
  });

  test('maps each standard to the part Ghostscript and XMP use', () => {
    expect(pdfAPart('PDF/A-2b')).toBe(2);
    expect(pdfAPart('PDF/A-3b')).toBe(3);
  });
});
