import { createServer, type Server } from 'node:http';
import { getuid } from 'node:process';
import { test, expect } from '@playwright/test';
import puppeteer, { type Browser, type CDPSession } from 'puppeteer-core';
import { BASE_ARGS } from '../../src/browser/chromium.js';
import { stripHeight } from '../../src/render/capture.js';
import { joinPngStrips, PngJoinError } from '../../src/render/png-join.js';
import { ImageDecoder } from '../support/image.js';
import { listen, closeServer } from '../../fixtures/listen.js';

// A large PNG is captured in strips that Node joins (render/capture.ts says why). The join
// must give exactly the image one capture gives: same size, same pixels, whatever the page
// puts across a strip's edge (a fixed header, a viewport-high box, gradients, text), at every
// scale that is cut into strips.

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><style>
html,body{margin:0}
body{height:3400px;font:15px/1.3 serif;background:linear-gradient(170deg,#fff 0%,#8ad 40%,#fd8 70%,#fff 100%)}
#fixed{position:fixed;top:0;left:0;right:0;height:37px;background:#c03}
#vh{height:100vh;width:45vw;background:repeating-linear-gradient(45deg,#060 0 7px,#9c9 7px 13px);margin-top:60px}
.rule{position:absolute;left:0;right:0;height:1px;background:#000}
</style></head><body><div id="fixed"></div><div id="vh"></div>
${Array.from({ length: 34 }, (_, i) => `<div class="rule" style="top:${i * 100 + 1}px"></div><p style="position:absolute;top:${i * 100 + 20}px;left:${(i * 37) % 400}px">Line ${i}: Zażółć gęślą jaźń, the quick brown fox.</p>`).join('')}
</body></html>`;

let server: Server;
let url: string;
let browser: Browser;
let decoder: ImageDecoder;

test.beforeAll(async () => {
  server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE));
  url = `${(await listen(server)).url}/`;
  browser = await puppeteer.launch({
    executablePath: process.env.CHROME_PATH ?? '/usr/lib/chromium/chromium-headless-shell',
    args: [...BASE_ARGS, ...(getuid?.() === 0 ? ['--no-sandbox'] : [])],
  });
  decoder = await ImageDecoder.start();
});
test.afterAll(async () => {
  await decoder?.close();
  await browser?.close();
  if (server) await closeServer(server);
});

async function page(width: number, scale: number): Promise<CDPSession> {
  const p = await browser.newPage();
  const cdp = await p.createCDPSession();
  await cdp.send('Emulation.setDeviceMetricsOverride', { width, height: 700, deviceScaleFactor: scale, mobile: false });
  await p.goto(url, { waitUntil: 'load' });
  return cdp;
}

async function capture(
  cdp: CDPSession,
  clip: { x: number; y: number; width: number; height: number },
  fast = false,
): Promise<Buffer> {
  const { data } = await cdp.send('Page.captureScreenshot', {
    format: 'png',
    optimizeForSpeed: fast,
    clip: { ...clip, scale: 1 },
    captureBeyondViewport: true,
  });
  return Buffer.from(data, 'base64');
}

/** `fast`: strips encoded as capture.ts asks for them (filter Up on every row); else with Chromium's per-row filter choice. */
async function joined(
  cdp: CDPSession,
  area: { width: number; height: number },
  strip: number,
  scale: number,
  fast: boolean,
): Promise<Buffer> {
  async function* strips(): AsyncGenerator<Buffer> {
    for (let y = 0; y < area.height; y += strip)
      yield capture(cdp, { x: 0, y, width: area.width, height: Math.min(strip, area.height - y) }, fast);
  }
  const parts: Buffer[] = [];
  for await (const part of joinPngStrips(strips(), Math.ceil(area.height * scale))) parts.push(part);
  return Buffer.concat(parts);
}

for (const { width, scale, strip, fast } of [
  { width: 1000, scale: 1, strip: null, fast: true },
  { width: 1001, scale: 1, strip: 333, fast: false },
  { width: 600, scale: 2, strip: null, fast: true },
  { width: 450, scale: 3, strip: null, fast: true },
]) {
  test(`strips joined are the one capture, pixel for pixel: ${width} CSS px wide at scale ${scale}${strip ? `, strips of ${strip}` : ''}${fast ? '' : ', every PNG filter'}`, async () => {
    test.setTimeout(120_000);
    const cdp = await page(width, scale);
    const area = { width, height: 3400 };
    const rows = strip ?? stripHeight(area, width * scale, scale);
    expect(rows).not.toBeNull();
    expect(area.height / rows!).toBeGreaterThan(2);
    const one = await capture(cdp, { x: 0, y: 0, ...area });
    const many = await joined(cdp, area, rows!, scale, fast);
    const [a, b] = await Promise.all([decoder.digest(one, 'image/png'), decoder.digest(many, 'image/png')]);
    expect([b.width, b.height]).toEqual([Math.ceil(width * scale), Math.ceil(3400 * scale)]);
    expect(b).toEqual(a);
  });
}

test('a fractional scale is not cut (edges between image pixels come out differently): one capture', () => {
  expect(stripHeight({ height: 20_000 }, 1000, 1)).toBe(1000);
  expect(stripHeight({ height: 20_000 }, 1000, 2)).toBe(500);
  expect(stripHeight({ height: 20_000 }, 1500, 1.5)).toBeNull();
  expect(stripHeight({ height: 20_000 }, 750, 0.75)).toBeNull();
  // Short enough for one strip: no strips.
  expect(stripHeight({ height: 900 }, 1000, 1)).toBeNull();
});

test('strips that do not fit together fail the join rather than make a wrong image', async () => {
  const cdp = await page(500, 1);
  const a = await capture(cdp, { x: 0, y: 0, width: 500, height: 300 });
  const b = await capture(cdp, { x: 0, y: 300, width: 400, height: 300 });
  async function* two(): AsyncGenerator<Buffer> {
    yield a;
    yield b;
  }
  const drain = async (body: AsyncIterable<Buffer>): Promise<void> => {
    for await (const _ of body) void _;
  };
  await expect(drain(joinPngStrips(two(), 600))).rejects.toThrow(PngJoinError);
  async function* short(): AsyncGenerator<Buffer> {
    yield a;
  }
  await expect(drain(joinPngStrips(short(), 600))).rejects.toThrow(/add up to 300 rows, not 600/);
});
