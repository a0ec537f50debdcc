import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { writeFileSync } from 'node:fs';
import { test, expect } from '@playwright/test';
import { get, startStack, type InProcess } from '../support/stack.js';

// Image captures are admitted against IMAGE_MEMORY_MB before anything is drawn (capture.ts):
// one that could never fit is refused, one that does not fit now waits for the captures before
// it, at most QUEUE_TIMEOUT.

const PAGE = '/out/noise';

test.describe('image memory: refused when it can never fit', () => {
  let s: InProcess;
  test.beforeAll(async () => {
    s = await startStack({ IMAGE_MEMORY_MB: '16', RENDER_TIMEOUT: '60s' });
  });
  test.afterAll(async () => {
    await s?.close();
  });

  test('a capture needing more than IMAGE_MEMORY_MB gets 422 naming it; a small one prints', async () => {
    // 1280 × 800 px as a PNG is charged 32 bytes a pixel: 32 MB, over 16.
    const big = await get(`${s.url}${PAGE}.png`);
    expect(big.status).toBe(422);
    expect(big.body.toString()).toBe(
      'The image would be 1280 × 800 px, needing about 32 MB to capture, more than IMAGE_MEMORY_MB (16). Lower image-scale, capture less (image-full-page, image-selector), or raise IMAGE_MEMORY_MB.\n',
    );
    // So is a PNG in strips (64 MB, whatever its size) and a WebP.
    expect((await get(`${s.url}${PAGE}.png?image-full-page=true&height=4000`)).status).toBe(422);
    expect((await get(`${s.url}${PAGE}.webp`)).status).toBe(422);
    // 300 × 200 px: 1.9 MB.
    const small = await get(`${s.url}${PAGE}.png?image-width=300&image-height=200`);
    expect(small.status).toBe(200);
    expect(small.headers.get('content-type')).toBe('image/png');
  });
});

test.describe('image memory: waits its turn, at most QUEUE_TIMEOUT', () => {
  let s: InProcess;
  test.beforeAll(async () => {
    // Room for one PNG in strips (64 MB) and nothing beside it.
    s = await startStack({ IMAGE_MEMORY_MB: '64', QUEUE_TIMEOUT: '1s', RENDER_TIMEOUT: '60s' });
  });
  test.afterAll(async () => {
    await s?.close();
  });
  test.afterEach(async ({}, info) => {
    if (info.status !== info.expectedStatus) writeFileSync(info.outputPath('appliance.log'), s.logs.join('\n'));
  });

  test('while a large PNG holds the memory, another image waits, then gets 503; once it is gone, the next prints', async () => {
    test.setTimeout(120_000);
    // A 9-megapixel PNG of random pixels streams out strip by strip; its client reads nothing,
    // so the capture pauses with its 64 MB still charged (the stream waits for the client).
    const held = await openUnread(`${s.url}${PAGE}.png?image-full-page=true&image-width=1500&height=6000`);
    try {
      expect(held.res.statusCode).toBe(200);
      expect(held.res.headers['content-length']).toBeUndefined();
      const t0 = Date.now();
      const waited = await get(`${s.url}${PAGE}.jpg?image-width=400&image-height=300`);
      expect(waited.status).toBe(503);
      expect(waited.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(waited.body.toString()).toBe(
        'Busy: other images are using the memory for captures (IMAGE_MEMORY_MB). Try again shortly.\n',
      );
      // It waited for QUEUE_TIMEOUT, not less.
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    } finally {
      held.req.destroy();
    }
    // The client that went away ended that render and gave the memory back.
    await expect
      .poll(async () => (await get(`${s.url}${PAGE}.jpg?image-width=400&image-height=300`)).status, { timeout: 30_000 })
      .toBe(200);
  });
});

/** A GET whose response headers arrive and whose body is never read. */
function openUnread(url: string): Promise<{ req: ClientRequest; res: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      res.pause();
      resolve({ req, res });
    });
    req.on('error', reject);
    req.end();
  });
}
