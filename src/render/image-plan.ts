/*
 * The page decides how its image looks, as it does for its PDF: `<meta>` tags, then the
 * environment's defaults (IMAGE_*). A bad value is ignored with a warning; an image over the
 * pixel bound is refused (see imageSize), never rendered.
 *
 * | name (in <meta name=… content=…>) | value
 * | default          |
 * | --------------------------------- |
 * -------------------------------------------------------------- | ---------------- |
 * | image-width                       | viewport width in CSS px, 16–8192
 * | env IMAGE_WIDTH  |
 * | image-height                      | viewport height in CSS px, 16–8192
 * | env IMAGE_HEIGHT |
 * | image-scale                       | device scale factor, 0.25–4 (2 for a "retina" image)
 * | env IMAGE_SCALE  |
 * | image-full-page                   | true: the whole page, beyond the viewport; false: the
 * viewport | env IMAGE_FULL_PAGE |
 * | image-selector                    | CSS selector of the one element to capture
 * | none             |
 * | image-quality                     | 1–100, JPEG and WebP only
 * | env IMAGE_QUALITY |
 * | pdf-wait-for, window.pdfReady     | as for PDFs: what to wait for before the capture
 * |                  |
 * | pdf-filename                      | as for PDFs: the download name, with the image's extension
 * | <title>, else URL|
 */
import type { ImageFormat } from 'pdf-appliance-replay';
import { MetaReader, type RawPageHints, type Warning } from './page-hints.js';

export interface ImageDefaults {
  width: number;
  height: number;
  scale: number;
  fullPage: boolean;
  quality: number;
  /** Largest image, in pixels (width × height after scaling), that will be rendered. */
  maxPixels: number;
}

export interface ImagePlan {
  format: ImageFormat;
  viewport: { width: number; height: number };
  scale: number;
  fullPage: boolean;
  selector?: string;
  /** JPEG and WebP only. */
  quality?: number;
  waitFor?: string;
  /** The page's pdf-filename as written (trimmed): an image is named as its PDF would be. */
  filename?: string;
  warnings: Warning[];
}

export const VIEWPORT_LIMITS = { min: 16, max: 8192 };
export const SCALE_LIMITS = { min: 0.25, max: 4 };
export const QUALITY_LIMITS = { min: 1, max: 100 };
/**
 * Neither side of an image may exceed this: WebP cannot encode more than 16383 px, and
 * Chromium's compositor draws nothing beyond 16384.
 */
export const MAX_IMAGE_SIDE = 16383;

const KNOWN_OPTIONS = [
  'image-width',
  'image-height',
  'image-scale',
  'image-full-page',
  'image-selector',
  'image-quality',
];

export function planImage(hints: RawPageHints, format: ImageFormat, defaults: ImageDefaults): ImagePlan {
  const options = new MetaReader(hints, 'image-', KNOWN_OPTIONS);
  const { min, max } = VIEWPORT_LIMITS;
  const plan: ImagePlan = {
    format,
    viewport: {
      width: options.number('image-width', defaults.width, min, max, true),
      height: options.number('image-height', defaults.height, min, max, true),
    },
    scale: options.number('image-scale', defaults.scale, SCALE_LIMITS.min, SCALE_LIMITS.max),
    fullPage: options.bool('image-full-page', defaults.fullPage),
    warnings: options.warnings,
  };
  const selector = options.selector('image-selector');
  if (selector !== undefined) plan.selector = selector;
  const quality = options.number('image-quality', defaults.quality, QUALITY_LIMITS.min, QUALITY_LIMITS.max, true);
  if (format !== 'png') plan.quality = quality;
  // Readiness is not about the output: a page waits the same way for its image as for its PDF.
  const readiness = new MetaReader(hints, 'pdf-wait-for', ['pdf-wait-for']);
  const waitFor = readiness.selector('pdf-wait-for');
  if (waitFor !== undefined) plan.waitFor = waitFor;
  plan.warnings.push(...readiness.warnings);
  // Nor is the download's name: pdf-filename, else the title, else the path, as for a PDF
  // (chooseFilename puts the image's own extension on).
  const naming = new MetaReader(hints, 'pdf-filename', ['pdf-filename']);
  const filename = naming.read('pdf-filename');
  if (filename !== undefined) plan.filename = filename;
  plan.warnings.push(...naming.warnings);
  return plan;
}

/** Width and height in pixels of `area` (CSS px) at `scale`, as Chromium encodes it. */
export function imageSize(area: { width: number; height: number }, scale: number): { width: number; height: number } {
  return { width: Math.ceil(area.width * scale), height: Math.ceil(area.height * scale) };
}

/** Why an image of this size is refused, or null when it may be rendered. */
export function oversize(size: { width: number; height: number }, maxPixels: number): string | null {
  if (size.width > MAX_IMAGE_SIDE || size.height > MAX_IMAGE_SIDE) return `a side over ${MAX_IMAGE_SIDE} px`;
  if (size.width * size.height > maxPixels) return `over IMAGE_MAX_PIXELS (${maxPixels})`;
  return null;
}
