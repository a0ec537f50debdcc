import { test, expect } from '@playwright/test';
import { isPdfPath, outputOf, pathOf, type ImageFormat, type Output } from '../src/index.js';

// The rule both sides decide by. Paths are given as sent: nothing here is decoded or
// normalised, so a row's input is the exact request-target path a client may send.

const pdf = (pagePath: string): Output => ({ format: 'pdf', pagePath });

test.describe('outputOf: PDF paths (always an output)', () => {
  const rows: Array<[path: string, expected: Output | null]> = [
    ['/a/b.pdf', pdf('/a/b')],
    ['/invoices/42.pdf', pdf('/invoices/42')],
    ['/a/index.pdf', pdf('/a/')],
    ['/index.pdf', pdf('/')],
    ['/aindex.pdf', pdf('/aindex')],
    ['/a/b.pdf.pdf', pdf('/a/b.pdf')],
    // No page named.
    ['/.pdf', null],
    ['/a/.pdf', null],
    // Not a .pdf suffix (lower case only, last segment only).
    ['/a/b', null],
    ['/a/b.PDF', null],
    ['/a/b.Pdf', null],
    ['/a/b.pdf.html', null],
    ['/a.pdf/b', null],
    ['/a/b.pdfx', null],
    ['/a/b.pdf/', null],
    ['/a/bpdf', null],
    // Percent-encoding is never decoded: an encoded suffix is no PDF, an encoded path stays encoded.
    ['/a%2Epdf', null],
    ['/a%2epdf', null],
    ['/a.pd%66', null],
    ['/docs/index%2Epdf', null],
    ['/caf%C3%A9/r%2Fx.pdf', pdf('/caf%C3%A9/r%2Fx')],
    ['/a/b%00.pdf', pdf('/a/b%00')],
    ['/a/index%2Epdf.pdf', pdf('/a/index%2Epdf')],
    // Hostile paths are kept as they are; the appliance checks the page URL stays on its origin.
    ['//evil.example/x.pdf', pdf('//evil.example/x')],
    ['/..%2f..%2fx.pdf', pdf('/..%2f..%2fx')],
    ['/../../etc/passwd.pdf', pdf('/../../etc/passwd')],
    ['/\\evil.example/x.pdf', pdf('/\\evil.example/x')],
    ['/@evil.example/x.pdf', pdf('/@evil.example/x')],
    // Absolute form: only the path counts, whatever the scheme and authority.
    ['http://evil.example/x.pdf', pdf('/x')],
    ['HTTPS://user@evil.example:8443/a/index.pdf', pdf('/a/')],
    ['http://evil.example/.pdf', null],
    ['http://evil.example', null],
    ['http://evil.example.pdf', null],
    // Neither origin form nor absolute form: no path at all.
    ['x.pdf', null],
    ['.pdf', null],
    ['mailto:x.pdf', null],
    ['*', null],
    ['', null],
  ];
  for (const [path, expected] of rows) {
    test(`${JSON.stringify(path)} → ${expected ? expected.pagePath : 'null'}`, () => {
      expect(outputOf(path)).toEqual(expected);
      expect(isPdfPath(path)).toBe(expected !== null);
    });
  }
});

test.describe('outputOf: image paths (outputs only when opted into)', () => {
  const rows: Array<[path: string, formats: ImageFormat[], expected: Output | null]> = [
    ['/charts/q3.png', [], null],
    ['/charts/q3.png', ['png'], { format: 'png', pagePath: '/charts/q3' }],
    ['/charts/q3.png', ['jpeg', 'webp'], null],
    ['/photos/1.jpg', ['jpeg'], { format: 'jpeg', pagePath: '/photos/1' }],
    ['/photos/1.jpeg', ['jpeg'], { format: 'jpeg', pagePath: '/photos/1' }],
    ['/photos/1.jpg', ['png'], null],
    ['/pics/1.webp', ['webp'], { format: 'webp', pagePath: '/pics/1' }],
    ['/pics/1.webp', ['png', 'jpeg'], null],
    ['/gallery/index.png', ['png'], { format: 'png', pagePath: '/gallery/' }],
    ['/gallery/.png', ['png'], null],
    ['/gallery/.jpg', ['jpeg'], null],
    ['/charts/q3.PNG', ['png'], null],
    ['/charts/q3%2Epng', ['png'], null],
    ['http://evil.example/c.webp', ['webp'], { format: 'webp', pagePath: '/c' }],
    // A PDF stays a PDF whatever images are enabled.
    ['/a/b.pdf', ['png', 'jpeg', 'webp'], pdf('/a/b')],
  ];
  for (const [path, formats, expected] of rows) {
    test(`${path} with [${formats.join(',')}] → ${expected ? `${expected.format} ${expected.pagePath}` : 'null'}`, () => {
      expect(outputOf(path, formats)).toEqual(expected);
    });
  }

  test('isPdfPath is false for an image path, even one that names a page', () => {
    expect(isPdfPath('/charts/q3.png')).toBe(false);
    expect(isPdfPath('/photos/1.jpg')).toBe(false);
  });
});

test.describe('pathOf: the path of a request target, as sent', () => {
  const rows: Array<[target: string, path: string]> = [
    ['/a/b?c', '/a/b'],
    ['/a/b#f', '/a/b'],
    ['/a?b#c', '/a'],
    ['/a#b?c', '/a'],
    ['/a/b.pdf?x.png', '/a/b.pdf'],
    ['/x?format=.pdf', '/x'],
    ['/a%3Fb.pdf', '/a%3Fb.pdf'],
    ['/a/../b.pdf', '/a/../b.pdf'],
    ['http://h/x.pdf?q=1', 'http://h/x.pdf'],
    ['/', '/'],
    ['', ''],
  ];
  for (const [target, path] of rows) {
    test(`${JSON.stringify(target)} → ${JSON.stringify(path)}`, () => {
      expect(pathOf(target)).toBe(path);
    });
  }
});
