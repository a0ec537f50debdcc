import { getuid } from 'node:process';
import puppeteer, { type Browser } from 'puppeteer-core';
import { BASE_ARGS } from '../../src/browser/chromium.js';

export interface DecodedImage {
  width: number;
  height: number;
  /** [r, g, b, a] at each probe point asked for, in image pixels. */
  pixels: Array<[number, number, number, number]>;
}

/**
 * Decodes PNG, JPEG and WebP the way a browser does (a real Chromium: createImageBitmap, a
 * canvas), so a test checks the pixels users would see, not what a header claims.
 */
export class ImageDecoder {
  private constructor(private readonly browser: Browser) {}

  static async start(): Promise<ImageDecoder> {
    const browser = await puppeteer.launch({
      executablePath: process.env.CHROME_PATH ?? '/usr/lib/chromium/chromium-headless-shell',
      // Chromium refuses its sandbox as root (as in the appliance's own launch).
      args: [...BASE_ARGS, ...(getuid?.() === 0 ? ['--no-sandbox'] : [])],
    });
    return new ImageDecoder(browser);
  }

  async decode(bytes: Uint8Array, mime: string, probes: Array<[number, number]> = []): Promise<DecodedImage> {
    const page = await this.browser.newPage();
    try {
      return await page.evaluate(
        async (b64: string, type: string, points: Array<[number, number]>) => {
          const blob = await (await fetch(`data:${type};base64,${b64}`)).blob();
          const bitmap = await createImageBitmap(blob);
          const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
          const ctx = canvas.getContext('2d')!;
          ctx.drawImage(bitmap, 0, 0);
          const pixels = points.map(
            ([x, y]) => Array.from(ctx.getImageData(x, y, 1, 1).data) as [number, number, number, number],
          );
          return { width: bitmap.width, height: bitmap.height, pixels };
        },
        Buffer.from(bytes).toString('base64'),
        mime,
        probes,
      );
    } finally {
      await page.close();
    }
  }

  /**
   * Size and a 64-bit hash (two FNV-1a passes) of the decoded RGBA pixels: two images with the
   * same digest show the same thing. (about:blank is no secure context: no crypto.subtle.)
   */
  async digest(bytes: Uint8Array, mime: string): Promise<{ width: number; height: number; hash: string }> {
    const page = await this.browser.newPage();
    try {
      return await page.evaluate(
        async (b64: string, type: string) => {
          const blob = await (await fetch(`data:${type};base64,${b64}`)).blob();
          const bitmap = await createImageBitmap(blob);
          const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
          const ctx = canvas.getContext('2d')!;
          ctx.drawImage(bitmap, 0, 0);
          const words = new Uint32Array(ctx.getImageData(0, 0, bitmap.width, bitmap.height).data.buffer);
          let a = 0x811c9dc5;
          let b = 0x01000193;
          for (let i = 0; i < words.length; i++) {
            a = Math.imul(a ^ words[i]!, 0x01000193) >>> 0;
            b = Math.imul(b ^ words[i]! ^ i, 0x811c9dc5) >>> 0;
          }
          return { width: bitmap.width, height: bitmap.height, hash: a.toString(16) + b.toString(16) };
        },
        Buffer.from(bytes).toString('base64'),
        mime,
      );
    } finally {
      await page.close();
    }
  }

  close(): Promise<void> {
    return this.browser.close();
  }
}

/** Close enough to `rgb` for a lossy encoding (JPEG, WebP) to count as that colour. */
export function near(pixel: readonly number[], rgb: readonly number[], tolerance = 40): boolean {
  return rgb.every((c, i) => Math.abs((pixel[i] ?? -999) - c) <= tolerance);
}
