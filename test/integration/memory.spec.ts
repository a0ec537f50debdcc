import { writeFileSync } from 'node:fs';
import { test, expect } from '@playwright/test';
import { privateBytes } from '../../src/browser/procfs.js';
import { readPdf } from '../support/pdf.js';
import { descendantsOf, get, startStack, type InProcess } from '../support/stack.js';

const MB = 1024 * 1024;
const BUDGET_MB = 256;

/**
 * A page may allocate memory the JS heap cap knows nothing about. Measured without a budget,
 * one render each: 3 GB of ArrayBuffers, 2 GB of WebAssembly memory, 1.5 GB of canvases, all
 * answered 200. With RENDER_MEMORY_MB each such render is stopped with a clear error, the
 * renders beside it print, and Chromium's process tree stays bounded.
 */
test.describe('memory: every render has a budget', () => {
  test.describe.configure({ timeout: 180_000 });
  let s: InProcess;
  test.beforeAll(async () => {
    s = await startStack({ CONCURRENCY: '3', RENDER_MEMORY_MB: String(BUDGET_MB), RENDER_TIMEOUT: '60s' });
    expect((await get(`${s.url}/t/invoice.pdf`)).status).toBe(200);
  });
  test.afterAll(async () => {
    await s?.close();
  });
  test.afterEach(async ({}, info) => {
    if (info.status !== info.expectedStatus) writeFileSync(info.outputPath('appliance.log'), s.logs.join('\n'));
  });

  for (const kind of ['arraybuffer', 'wasm', 'canvas', 'heap']) {
    test(`${kind}: the hog gets 502 naming RENDER_MEMORY_MB, the renders beside it print, the tree stays bounded`, async () => {
      const [chrome] = s.app.browser.pids();
      // The largest renderer and the whole tree, sampled while it happens.
      let largest = 0;
      let tree = 0;
      const sampler = setInterval(() => {
        let sum = 0;
        for (const pid of descendantsOf(chrome!)) {
          const bytes = privateBytes(pid) ?? 0;
          largest = Math.max(largest, bytes);
          sum += bytes;
        }
        tree = Math.max(tree, sum);
      }, 50);
      const answers = await Promise.all([
        get(`${s.url}/hostile/memory.pdf?kind=${kind}`, { headers: { cookie: 'session=hog' } }),
        get(`${s.url}/t/report.pdf?pages=5`, { headers: { cookie: 'session=alice' } }),
        get(`${s.url}/t/invoice.pdf`, { headers: { cookie: 'session=bob' } }),
      ]);
      clearInterval(sampler);
      const [hog, report, invoice] = answers;
      expect(hog!.status, hog!.status === 200 ? 'the hog printed' : hog!.body.toString().slice(0, 200)).toBe(502);
      expect(hog!.body.toString()).toMatch(/RENDER_MEMORY_MB/);
      expect(hog!.body.length).toBeLessThan(100);
      expect(report!.status).toBe(200);
      expect((await readPdf(report!.body)).pages).toBe(5);
      expect(invoice!.status).toBe(200);
      // Unbounded, the hog alone reaches 1.5–3 GB. The watch (budget, every 50 ms) and the
      // kernel's backstop (budget + 1 GB of data segment) keep it far below that.
      expect(largest).toBeLessThan((BUDGET_MB + 1024) * MB);
      expect(tree).toBeLessThan(1536 * MB);
      // The browser itself was fine all along, and the next render of the same user works.
      expect(s.app.browser.info().state).toBe('ready');
      expect((await get(`${s.url}/t/invoice.pdf`, { headers: { cookie: 'session=hog' } })).status).toBe(200);
    });
  }
});
