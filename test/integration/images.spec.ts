import { test, expect } from '@playwright/test';
import { BLOCKS } from '../../fixtures/main-app/routes/outputs.js';
import { ImageDecoder, near, type DecodedImage } from '../support/image.js';
import { readPdf } from '../support/pdf.js';
import { get, startStack, type InProcess } from '../support/stack.js';

// Images of the main app's pages: the same path with .png, .jpg/.jpeg or .webp. Each check
// decodes the image in a real Chromium and looks at its size and at the colours of the
// fixture's boxes (fixtures/main-app/routes/outputs.ts), in image pixels.

const WHITE = [255, 255, 255];
const MIME = { png: 'image/png', jpg: 'image/jpeg', webp: 'image/webp' } as const;

let s: InProcess;
let decoder: ImageDecoder;

test.beforeAll(async () => {
  // Generous: other suites share the two cores. The defaults are the shipped ones.
  s = await startStack({ RENDER_TIMEOUT: '60s' });
  decoder = await ImageDecoder.start();
});
test.afterAll(async () => {
  await decoder?.close();
  await s?.close();
});

/** GETs /out/blocks as `ext` with the given page options (as <meta> tags) and decodes it. */
async function image(
  ext: keyof typeof MIME,
  options: Record<string, string> = {},
  probes: Array<[number, number]> = [],
): Promise<DecodedImage & { bytes: number; headers: Headers }> {
  const r = await get(`${s.url}/out/blocks.${ext}?${new URLSearchParams(options)}`);
  expect(r.status, r.body.toString().slice(0, 200)).toBe(200);
  expect(r.headers.get('content-type')).toBe(MIME[ext]);
  const decoded = await decoder.decode(r.body, MIME[ext], probes);
  // A PNG over 2 megapixels is captured in strips and streamed as they are joined: no length.
  const streamed = ext === 'png' && decoded.width * decoded.height > 2_000_000;
  expect(r.headers.get('content-length')).toBe(streamed ? null : String(r.body.length));
  return { ...decoded, bytes: r.body.length, headers: r.headers };
}

const inside = (b: { x: number; y: number; width: number; height: number }, scale = 1): [number, number] => [
  Math.floor((b.x + b.width / 2) * scale),
  Math.floor((b.y + b.height / 2) * scale),
];

test('PNG: the viewport at the shipped defaults (1280 × 800 CSS px, scale 1)', async () => {
  const img = await image('png', {}, [inside(BLOCKS.red), inside(BLOCKS.card), [BLOCKS.red.width + 5, 5], [1270, 790]]);
  expect([img.width, img.height]).toEqual([1280, 800]);
  expect(near(img.pixels[0]!, BLOCKS.red.rgb, 0)).toBe(true);
  expect(near(img.pixels[1]!, BLOCKS.card.rgb, 0)).toBe(true);
  expect(near(img.pixels[2]!, WHITE, 0)).toBe(true);
  expect(near(img.pixels[3]!, WHITE, 0)).toBe(true);
  expect(img.headers.get('content-disposition')).toBe('inline; filename="Blocks.png"');
  expect(img.headers.get('cache-control')).toBe('private, no-store');
});

test("the download name follows the PDF's rules: pdf-filename first, then <title>, with the image's extension", async () => {
  // docs/page-options.md, "Images": the same rules as for PDFs.
  const named = await get(`${s.url}/out/blocks.png?${new URLSearchParams({ 'pdf-filename': 'foo' })}`);
  expect(named.status).toBe(200);
  expect(named.headers.get('content-disposition')).toBe('inline; filename="foo.png"');
  // An extension the page wrote for its PDF is replaced by the image's own.
  const jpg = await get(
    `${s.url}/out/blocks.jpg?${new URLSearchParams({ 'pdf-filename': 'Chart 2026.pdf', download: '' })}`,
  );
  expect(jpg.headers.get('content-disposition')).toBe('attachment; filename="Chart 2026.jpg"');
  // No pdf-filename: the title, as before.
  expect((await get(`${s.url}/out/blocks.webp`)).headers.get('content-disposition')).toBe(
    'inline; filename="Blocks.webp"',
  );
});

test('image-width, image-height and image-scale: the viewport the page asks for, at twice the pixels', async () => {
  const img = await image('png', { 'image-width': '640', 'image-height': '400', 'image-scale': '2' }, [
    [BLOCKS.red.width * 2 - 3, BLOCKS.red.height * 2 - 3],
    [BLOCKS.red.width * 2 + 3, 3],
  ]);
  expect([img.width, img.height]).toEqual([1280, 800]);
  // The red box is 200 × 100 CSS px: 400 × 200 image px at scale 2.
  expect(near(img.pixels[0]!, BLOCKS.red.rgb, 0)).toBe(true);
  expect(near(img.pixels[1]!, WHITE, 0)).toBe(true);
});

test('the page lays out in the viewport it asked for (its script sees it)', async () => {
  // The same render as a PDF would see its own 1024-px window; the image's page sees 640.
  const r = await get(`${s.url}/out/blocks.png?image-width=640&image-height=480`);
  expect(r.status).toBe(200);
  const pdf = await get(`${s.url}/out/blocks.pdf?image-width=640`);
  expect((await readPdf(pdf.body)).text.join(' ')).toContain('Viewport 1024x768');
  // A later image at the defaults is not left at 640 by the earlier one.
  const after = await decoder.decode((await get(`${s.url}/out/blocks.png`)).body, 'image/png');
  expect([after.width, after.height]).toEqual([1280, 800]);
});

test('image-full-page: the whole page, beyond the viewport', async () => {
  // 2.56 megapixels: a PNG in strips (1280 × 781 px each), streamed without a Content-Length.
  const img = await image('png', { 'image-full-page': 'true' }, [
    inside(BLOCKS.blue),
    [BLOCKS.blue.width + 5, BLOCKS.blue.y + 5],
    [5, 780],
    [5, 781],
    [1275, 1562],
  ]);
  expect([img.width, img.height]).toEqual([1280, BLOCKS.pageHeight]);
  expect(img.headers.get('content-length')).toBeNull();
  expect(near(img.pixels[0]!, BLOCKS.blue.rgb, 0)).toBe(true);
  for (const p of img.pixels.slice(1)) expect(near(p, WHITE, 0)).toBe(true);
  // The same page as a JPEG is one capture, complete before it is sent.
  const jpeg = await image('jpg', { 'image-full-page': 'true' }, [inside(BLOCKS.blue)]);
  expect([jpeg.width, jpeg.height]).toEqual([1280, BLOCKS.pageHeight]);
  expect(Number(jpeg.headers.get('content-length'))).toBe(jpeg.bytes);
  expect(near(jpeg.pixels[0]!, BLOCKS.blue.rgb)).toBe(true);
});

test('image-selector: just that element, at the scale asked for', async () => {
  const img = await image('png', { 'image-selector': '#card', 'image-scale': '2' }, [
    [1, 1],
    [BLOCKS.card.width * 2 - 2, BLOCKS.card.height * 2 - 2],
  ]);
  expect([img.width, img.height]).toEqual([BLOCKS.card.width * 2, BLOCKS.card.height * 2]);
  for (const p of img.pixels) expect(near(p, BLOCKS.card.rgb, 0)).toBe(true);
});

test('a selector that matches nothing is ignored with a warning: the viewport instead', async () => {
  const img = await image('png', { 'image-selector': '#nothing-here' });
  expect([img.width, img.height]).toEqual([1280, 800]);
  const warning = s.logs
    .map((l) => JSON.parse(l))
    .find((l) => l.msg === 'ignored page option' && l.option === 'image-selector');
  expect(warning).toMatchObject({ value: '#nothing-here', reason: 'no element matches' });
});

test('bad option values are ignored with a warning each, the defaults apply', async () => {
  const before = s.logs.length;
  const img = await image('png', {
    'image-scale': '9',
    'image-width': 'wide',
    'image-full-page': 'maybe',
    'image-zoom': '2',
  });
  expect([img.width, img.height]).toEqual([1280, 800]);
  const warned = s.logs
    .slice(before)
    .map((l) => JSON.parse(l))
    .filter((l) => l.msg === 'ignored page option')
    .map((l) => l.option);
  expect(warned.sort()).toEqual(['image-full-page', 'image-scale', 'image-width', 'image-zoom']);
});

test('JPEG: decodes to the same picture; image-quality trades size for fidelity', async () => {
  const probes: Array<[number, number]> = [inside(BLOCKS.red), inside(BLOCKS.card), [1000, 700]];
  const high = await image('jpg', { 'image-quality': '95' }, probes);
  const low = await image('jpg', { 'image-quality': '10' }, probes);
  for (const img of [high, low]) {
    expect([img.width, img.height]).toEqual([1280, 800]);
    expect(near(img.pixels[0]!, BLOCKS.red.rgb)).toBe(true);
    expect(near(img.pixels[1]!, BLOCKS.card.rgb)).toBe(true);
    expect(near(img.pixels[2]!, WHITE)).toBe(true);
  }
  expect(low.bytes).toBeLessThan(high.bytes * 0.7);
  expect(high.headers.get('content-disposition')).toBe('inline; filename="Blocks.jpg"');
});

test('WebP: decodes to the same picture; image-quality applies', async () => {
  const probes: Array<[number, number]> = [inside(BLOCKS.red), inside(BLOCKS.card)];
  const high = await image('webp', { 'image-quality': '95' }, probes);
  const low = await image('webp', { 'image-quality': '5' }, probes);
  for (const img of [high, low]) {
    expect([img.width, img.height]).toEqual([1280, 800]);
    expect(near(img.pixels[0]!, BLOCKS.red.rgb)).toBe(true);
    expect(near(img.pixels[1]!, BLOCKS.card.rgb)).toBe(true);
  }
  expect(low.bytes).toBeLessThan(high.bytes);
});

test('.jpeg is the same output as .jpg', async () => {
  const r = await get(`${s.url}/out/blocks.jpeg`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toBe('image/jpeg');
});

test('an image over IMAGE_MAX_PIXELS is refused before it is drawn, with what to do', async () => {
  // 1280 × 20,000 CSS px = 25.6 megapixels, over the shipped 25.
  const r = await get(`${s.url}/out/blocks.png?image-full-page=true&height=20000`);
  expect(r.status).toBe(422);
  const text = r.body.toString();
  expect(text).toContain('1280 × 20000 px');
  expect(text).toContain('IMAGE_MAX_PIXELS');
  // Chromium cannot draw a side over 16383 px: refused whatever the pixel budget.
  const tall = await get(`${s.url}/out/blocks.png?image-full-page=true&height=17000&image-width=100`);
  expect(tall.status).toBe(422);
  expect(tall.body.toString()).toContain('a side over 16383 px');
  // A person in a browser gets the same as a short page.
  const html = await get(`${s.url}/out/blocks.png?image-full-page=true&height=20000`, {
    headers: { accept: 'text/html,*/*;q=0.8' },
  });
  expect(html.status).toBe(422);
  expect(html.headers.get('content-type')).toMatch(/^text\/html/);
  expect(html.body.toString()).toContain('IMAGE_MAX_PIXELS');
  // The appliance goes on serving.
  expect((await get(`${s.url}/out/blocks.png`)).status).toBe(200);
});

test("images pass the main app's answers on like PDFs: its 404, its login redirect", async () => {
  const missing = await get(`${s.url}/no/such/page.png`);
  expect(missing.status).toBe(404);
  const signedOut = await get(`${s.url}/invoices/42.png`, { redirect: 'manual' });
  expect(signedOut.status).toBe(302);
  expect(signedOut.headers.get('location')).toMatch(/\/login/);
});

test.describe('environment defaults', () => {
  let e: InProcess;
  test.beforeAll(async () => {
    e = await startStack({
      RENDER_TIMEOUT: '60s',
      IMAGE_WIDTH: '800',
      IMAGE_HEIGHT: '600',
      IMAGE_SCALE: '0.5',
      IMAGE_FULL_PAGE: 'true',
      IMAGE_MAX_PIXELS: '500000',
    });
  });
  test.afterAll(async () => {
    await e?.close();
  });

  test('IMAGE_WIDTH, IMAGE_SCALE and IMAGE_FULL_PAGE apply; a page option still wins', async () => {
    const r = await get(`${e.url}/out/blocks.png`);
    expect(r.status).toBe(200);
    const img = await decoder.decode(r.body, 'image/png', [inside(BLOCKS.blue, 0.5)]);
    // The whole 2000-px page, at half scale, 800 px wide.
    expect([img.width, img.height]).toEqual([400, BLOCKS.pageHeight / 2]);
    expect(near(img.pixels[0]!, BLOCKS.blue.rgb, 0)).toBe(true);
    const viewport = await decoder.decode(
      (await get(`${e.url}/out/blocks.png?image-full-page=false`)).body,
      'image/png',
    );
    expect([viewport.width, viewport.height]).toEqual([400, 300]);
  });

  test('IMAGE_MAX_PIXELS bounds what a page may ask for', async () => {
    const r = await get(`${e.url}/out/blocks.png?image-scale=2`);
    expect(r.status).toBe(422);
    expect(r.body.toString()).toContain('1600 × 4000 px');
  });
});
