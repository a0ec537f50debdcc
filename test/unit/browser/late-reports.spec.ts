import { test, expect } from '@playwright/test';
import { LateReports } from '../../../src/browser/late-reports.js';

test('a report already in answers at once', async () => {
  const r = new LateReports<string>(10_000);
  r.set('f1', 'page');
  expect(await r.get('f1')).toBe('page');
});

test('a question that comes first is answered by the report that follows', async () => {
  const r = new LateReports<string>(10_000);
  const asked = r.get('f1');
  setTimeout(() => r.set('f1', 'other'), 20);
  expect(await asked).toBe('other');
});

test('without a report the question has no answer after the wait, and leaves no waiter behind', async () => {
  const r = new LateReports<string>(30);
  const started = Date.now();
  expect(await r.get('f1')).toBeUndefined();
  expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  // A report after the wait is kept for the next question, and wakes nobody stale.
  r.set('f1', 'page');
  expect(r.peek('f1')).toBe('page');
});

test('clear forgets the reports but not the questions still waiting', async () => {
  const r = new LateReports<string>(10_000);
  r.set('a', 'page');
  const waiting = r.get('b');
  r.clear();
  expect(r.peek('a')).toBeUndefined();
  r.set('b', 'other');
  expect(await waiting).toBe('other');
});
