import { test, expect } from '@playwright/test';
import { chooseFilename, contentDisposition } from '../../../src/http/filename.js';

test.describe('chooseFilename', () => {
  test('pdf-filename meta wins over the title and the path', () => {
    expect(
      chooseFilename({ meta: 'Quarterly report 2026.pdf', title: 'Report page', pathname: '/print/filename' }),
    ).toBe('Quarterly report 2026.pdf');
  });

  test('the title is used when there is no meta', () => {
    expect(chooseFilename({ title: 'Monthly Summary', pathname: '/print/title-only' })).toBe('Monthly Summary.pdf');
  });

  test('the last path segment is used when there is neither', () => {
    expect(chooseFilename({ pathname: '/invoices/42' })).toBe('42.pdf');
    expect(chooseFilename({ pathname: '/invoices/42.pdf' })).toBe('42.pdf');
    expect(chooseFilename({ pathname: '/reports/q1/' })).toBe('q1.pdf');
    expect(chooseFilename({ pathname: '/r/Caf%C3%A9%20menu' })).toBe('Café menu.pdf');
    expect(chooseFilename({ pathname: '/r/bad%E0%A4escape' })).toBe('bad%E0%A4escape.pdf');
  });

  test('the root path is named index', () => {
    expect(chooseFilename({ pathname: '/' })).toBe('index.pdf');
    expect(chooseFilename({ pathname: '' })).toBe('index.pdf');
  });

  test('.pdf is appended exactly once, whatever its case', () => {
    expect(chooseFilename({ meta: 'a.pdf', pathname: '/' })).toBe('a.pdf');
    expect(chooseFilename({ meta: 'a.PDF', pathname: '/' })).toBe('a.pdf');
    expect(chooseFilename({ meta: 'a', pathname: '/' })).toBe('a.pdf');
    expect(chooseFilename({ meta: 'archive.tar', pathname: '/' })).toBe('archive.tar.pdf');
  });

  test('empty or unusable candidates fall through to the next source', () => {
    expect(chooseFilename({ meta: '   ', title: 'T', pathname: '/x' })).toBe('T.pdf');
    expect(chooseFilename({ meta: '.pdf', title: '', pathname: '/x' })).toBe('x.pdf');
    expect(chooseFilename({ meta: '///', title: '???', pathname: '/x' })).toBe('x.pdf');
  });

  test('path separators, reserved and control characters cannot steer where the file is saved', () => {
    const name = chooseFilename({ meta: '../../etc/passwd', pathname: '/' });
    expect(name).not.toMatch(/[/\\]/);
    expect(name.startsWith('.')).toBe(false);
    expect(chooseFilename({ meta: 'a\\b:c*d?"e<f>g|h', pathname: '/' })).toBe('a_b_c_d_e_f_g_h.pdf');
    expect(chooseFilename({ meta: 'line\r\nbreak\u0000', pathname: '/' })).toBe('line break.pdf');
    expect(chooseFilename({ title: 'Spaced   \t out  ', pathname: '/' })).toBe('Spaced out.pdf');
  });

  test('unicode is kept (NFC) and long names are capped without splitting characters', () => {
    expect(chooseFilename({ meta: 'Faktura č. 42 – Zażółć.pdf', pathname: '/' })).toBe('Faktura č. 42 – Zażółć.pdf');
    expect(chooseFilename({ meta: 'Cafe\u0301', pathname: '/' })).toBe('Caf\u00e9.pdf');
    const long = chooseFilename({ meta: '😀'.repeat(500), pathname: '/' });
    expect(Array.from(long).length).toBeLessThanOrEqual(120);
    expect(long.endsWith('😀.pdf')).toBe(true);
    expect(/[\uD800-\uDFFF]/u.test(long)).toBe(false); // no half surrogate pair left behind
  });
});

test.describe('contentDisposition', () => {
  test('plain ASCII names need only filename', () => {
    expect(contentDisposition('Quarterly report 2026.pdf', 'inline')).toBe(
      'inline; filename="Quarterly report 2026.pdf"',
    );
    expect(contentDisposition('report.pdf', 'attachment')).toBe('attachment; filename="report.pdf"');
  });

  test('non-ASCII names get an ASCII fallback plus filename* in UTF-8', () => {
    const header = contentDisposition('Faktura č. 42 – Zażółć.pdf', 'attachment');
    const m = /^attachment; filename="([^"]*)"; filename\*=UTF-8''(\S+)$/.exec(header);
    expect(m, header).not.toBeNull();
    const [, fallback, encoded] = m!;
    expect(fallback).toMatch(/^[A-Za-z0-9._ -]+$/);
    expect(fallback.startsWith('Faktura c. 42')).toBe(true);
    expect(fallback.endsWith('.pdf')).toBe(true);
    expect(decodeURIComponent(encoded)).toBe('Faktura č. 42 – Zażółć.pdf');
    // RFC 5987 attr-char excludes these, so they must be percent-encoded too.
    expect(contentDisposition("it's (a) test.pdf", 'inline')).toBe(
      `inline; filename="it_s _a_ test.pdf"; filename*=UTF-8''it%27s%20%28a%29%20test.pdf`,
    );
  });

  test('quotes, CR/LF, slashes and backslashes cannot break out of the header or the name', () => {
    for (const evil of [
      'a"; filename="evil.exe',
      'x\r\nSet-Cookie: a=b.pdf',
      '../../etc/passwd',
      '..\\..\\windows\\system32.pdf',
      '"',
      '\u2028\u2029.pdf',
    ]) {
      const header = contentDisposition(evil, 'inline');
      expect(header, evil).not.toMatch(/[\r\n\u2028\u2029\\]/);
      const fallback = /filename="([^"]*)"/.exec(header)?.[1];
      expect(fallback, evil).toMatch(/^[A-Za-z0-9._ -]+\.pdf$/);
      expect(fallback, evil).not.toContain('/');
      // Only the one quoted fallback: nothing else in the header is quoted.
      expect(header.split('"').length, evil).toBe(3);
      const star = /filename\*=UTF-8''(\S+)$/.exec(header)?.[1];
      if (star !== undefined) expect(decodeURIComponent(star), evil).not.toMatch(/[/\\\r\n"]/);
    }
  });

  test('very long names are capped, keeping .pdf', () => {
    const header = contentDisposition(`${'a'.repeat(1000)}.pdf`, 'inline');
    const fallback = /filename="([^"]*)"/.exec(header)![1];
    expect(fallback.length).toBeLessThanOrEqual(120);
    expect(fallback.endsWith('.pdf')).toBe(true);
    const unicode = contentDisposition(`${'ž'.repeat(1000)}.pdf`, 'inline');
    expect(unicode.length).toBeLessThan(1000);
    const star = decodeURIComponent(/filename\*=UTF-8''(\S+)$/.exec(unicode)![1]);
    expect(star.endsWith('ž.pdf')).toBe(true);
    expect(/filename="([^"]*)"/.exec(unicode)![1]).toMatch(/^z+\.pdf$/);
  });

  test('names with nothing ASCII-representable fall back to document.pdf', () => {
    const header = contentDisposition('報告書.pdf', 'inline');
    expect(header).toBe(`inline; filename="document.pdf"; filename*=UTF-8''${encodeURIComponent('報告書.pdf')}`);
    expect(contentDisposition('', 'inline')).toBe('inline; filename="document.pdf"');
  });

  test('a name without .pdf gets it', () => {
    expect(contentDisposition('report', 'inline')).toBe('inline; filename="report.pdf"');
  });
});

test('bidi controls are stripped so a name cannot disguise its extension', () => {
  const name = chooseFilename({ meta: 'invoice\u202Efdp.exe', pathname: '/x' });
  expect(name).not.toMatch(/[\u200e\u200f\u202a-\u202e\u2066-\u2069]/);
  expect(contentDisposition(name, 'inline')).not.toMatch(/%E2%80%AE/i);
});

test('images get their own extension, whatever extension the page name carries', () => {
  expect(chooseFilename({ title: 'Invoice 42', pathname: '/invoices/42', format: 'png' })).toBe('Invoice 42.png');
  expect(chooseFilename({ meta: 'Invoice 42.pdf', pathname: '/invoices/42', format: 'jpeg' })).toBe('Invoice 42.jpg');
  expect(chooseFilename({ pathname: '/charts/q3', format: 'webp' })).toBe('q3.webp');
  expect(contentDisposition('Faktura č. 1.jpg', 'attachment')).toBe(
    `attachment; filename="Faktura c. 1.jpg"; filename*=UTF-8''Faktura%20%C4%8D.%201.jpg`,
  );
  expect(contentDisposition('chart.webp', 'inline')).toBe('inline; filename="chart.webp"');
});
