import { test, expect } from '@playwright/test';
import { get, startStack, type InProcess } from '../support/stack.js';

// The shared asset cache serves public sub-resources to isolated contexts. These tests count,
// at the fixture main app, what actually reached it from real Chromium renders.
test.describe('shared asset cache', () => {
  let s: InProcess;
  test.beforeAll(async () => {
    s = await startStack({ RENDER_TIMEOUT: '20s' });
  });
  test.afterAll(async () => {
    await s?.close();
  });

  test('a public stylesheet and image are fetched from the main app once across many renders', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await get(`${s.url}/t/invoice.pdf`, { headers: { cookie: `session=user-${i}` } });
      expect(r.status).toBe(200);
    }
    expect(s.main.counts('/t/invoice')).toBe(5);
    expect(s.main.counts('/assets/invoice.css')).toBe(1);
    expect(s.main.counts('/assets/logo.png')).toBe(1);
  });

  test('a private response is never served to another render', async () => {
    const before = s.main.counts('/assets/private.css');
    for (let i = 0; i < 3; i++) expect((await get(`${s.url}/t/assets.pdf?css=private`)).status).toBe(200);
    expect(s.main.counts('/assets/private.css') - before).toBe(3);
  });

  test('a response that sets a cookie or varies on Cookie is never served to another render', async () => {
    const before = s.main.counts('/assets/cookie.css');
    for (const user of ['session=alice-1', 'session=bob-2', '']) {
      const r = await get(`${s.url}/t/assets.pdf?css=cookie`, { headers: user ? { cookie: user } : {} });
      expect(r.status).toBe(200);
    }
    expect(s.main.counts('/assets/cookie.css') - before).toBe(3);
    // Each render's request carried its own user's cookie, never an earlier one's.
    const seen = s.main.requests
      .filter((q) => q.path === '/assets/cookie.css')
      .slice(-3)
      .map((q) => q.headers['cookie']);
    expect(seen[0]).toBe('session=alice-1');
    expect(seen[1]).toBe('session=bob-2');
    expect(seen[2]).toBeUndefined();
  });

  test('an expired entry is revalidated with its validator', async () => {
    expect((await get(`${s.url}/t/assets.pdf?css=short`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1600)); // max-age=1
    expect((await get(`${s.url}/t/assets.pdf?css=short`)).status).toBe(200);
    const hits = s.main.requests.filter((q) => q.path === '/assets/short.css');
    expect(hits).toHaveLength(2);
    expect(hits[0]!.headers['if-none-match']).toBeUndefined();
    expect(hits[1]!.headers['if-none-match']).toMatch(/^(W\/)?"/);
  });
});
