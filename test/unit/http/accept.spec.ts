import { test, expect } from '@playwright/test';
import { prefersHtml } from '../../../src/http/accept.js';

// Error answers: a person who clicked a link gets a page, a program one line of text.

test('browsers get HTML, programs and missing headers plain text', () => {
  expect(prefersHtml('text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8')).toBe(
    true,
  );
  expect(prefersHtml('*/*')).toBe(false);
  expect(prefersHtml(undefined)).toBe(false);
  expect(prefersHtml('')).toBe(false);
  expect(prefersHtml('application/json')).toBe(false);
  expect(prefersHtml('application/pdf, text/html;q=0.1')).toBe(true);
});

test('quality first, then how specifically each is named, then the order; a tie is plain text', () => {
  expect(prefersHtml('text/plain, text/html')).toBe(false);
  expect(prefersHtml('text/html, text/plain')).toBe(true);
  expect(prefersHtml('text/plain;q=0.5, text/html;q=0.9')).toBe(true);
  expect(prefersHtml('text/html;q=0.5, text/plain')).toBe(false);
  expect(prefersHtml('text/*')).toBe(false);
  expect(prefersHtml('text/*, text/html')).toBe(true);
  expect(prefersHtml('text/html;q=0, */*')).toBe(false);
  expect(prefersHtml('TEXT/HTML')).toBe(true);
  expect(prefersHtml('text/html;level=1;q=0.2, text/plain;q=0.1')).toBe(true);
  expect(prefersHtml('garbage, ,;;, text/html')).toBe(true);
});
