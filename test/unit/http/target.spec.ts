import { test, expect } from '@playwright/test';
import { buildTargetUrl, originFor, pagePathFor } from '../../../src/http/target.js';

const ORIGIN = 'http://127.0.0.1:3000';

/** What page a `.pdf` request target loads; null = no page (400), or not a PDF path. */
function load(requestTarget: string): string | null {
  const m = pagePathFor(requestTarget);
  return m ? buildTargetUrl(ORIGIN, m.path, m.query) : null;
}

test.describe('pagePathFor + buildTargetUrl: the .pdf mapping', () => {
  const rows: Array<[string, string | null]> = [
    ['/a/b.pdf', `${ORIGIN}/a/b`],
    ['/a/index.pdf', `${ORIGIN}/a/`],
    ['/index.pdf', `${ORIGIN}/`],
    ['/invoices/42.pdf?lang=pl&x=1', `${ORIGIN}/invoices/42?lang=pl&x=1`],
    ['/caf%C3%A9/r%2Fx.pdf?q=a%20b', `${ORIGIN}/caf%C3%A9/r%2Fx?q=a%20b`],
    ['/a/b.pdf?download', `${ORIGIN}/a/b?download`],
    ['/a/b', null],
    ['/a/b.pdf.html', null],
    ['/a/b.PDF', null],
    ['/.pdf', null],
    ['/a/.pdf', null],
    // Whatever the path holds, the page is on the main app's origin.
    ['//evil.example/x.pdf', `${ORIGIN}//evil.example/x`],
    ['/..%2f..%2fx.pdf', `${ORIGIN}/..%2f..%2fx`],
    ['/../../etc/passwd.pdf', `${ORIGIN}/etc/passwd`],
    ['/\\evil.example/x.pdf', `${ORIGIN}//evil.example/x`],
    ['/@evil.example/x.pdf', `${ORIGIN}/@evil.example/x`],
    ['/x@evil.example:80/y.pdf', `${ORIGIN}/x@evil.example:80/y`],
    ['http://evil.example/x.pdf', `${ORIGIN}/x`],
    ['http://evil.example', null],
  ];
  for (const [input, expected] of rows) {
    test(`${input} → ${expected}`, () => {
      const got = load(input);
      expect(got).toBe(expected);
      if (got) expect(new URL(got).origin).toBe(ORIGIN);
    });
  }
});

test('originFor: only TARGET_HOSTS may select the host', () => {
  const cfg = { targetOrigin: 'https://app.example.com', targetHosts: ['billing.example.org'] };
  expect(originFor(cfg, 'billing.example.org')).toBe('https://billing.example.org');
  expect(originFor(cfg, 'BILLING.example.org')).toBe('https://billing.example.org');
  expect(originFor(cfg, 'evil.example')).toBe('https://app.example.com');
  expect(originFor(cfg, undefined)).toBe('https://app.example.com');
});
