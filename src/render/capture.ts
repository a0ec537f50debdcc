import type { ImageMemory } from '../admission/image-memory.js';
import type { Workspace } from '../browser/workspace.js';
import { fail } from '../failure.js';
import { loggableUrl, type Logger } from '../observability/log.js';
import type { ImageFormat } from 'pdf-appliance-replay';
import { imageSize, oversize, planImage, type ImageDefaults, type ImagePlan } from './image-plan.js';
import type { Output } from './output.js';
import { pageReady, type ReadySettings } from './page-ready.js';
import type { RawPageHints } from './page-hints.js';
import { joinPngStrips } from './png-join.js';
import { warnIgnored, type Product } from './product.js';

interface Area {
  x: number;
  y: number;
  width: number;
  height: number;
}

const CONTENT_TYPE = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' } as const;

/**
 * What one capture costs outside its render's renderer, per pixel: Chromium's browser and GPU
 * processes hold the bitmap, its encoding and that as base64 JSON; Node the message, the
 * decoded string and the image. Measured here as the peak rise of private memory (Node and
 * Chromium's tree, sampled every 10 ms) over one capture of a page of random pixels, the worst
 * case (nothing compresses; a plain page costs the GPU process a third less and Node next to
 * nothing), at 1, 4, 12 and 24.5 megapixels, renderer excluded (it is in RENDER_MEMORY_MB):
 *   PNG 23–30 MB per megapixel (24.5 MP: Node 310–460 MB, browser 370–430, GPU 410–470),
 *   JPEG 15–22 (quality 85 and 100), WebP 28–34.
 * Charged with a margin above the worst seen.
 */
export const BYTES_PER_PIXEL = { png: 32, jpeg: 24, webp: 40 } as const;

/**
 * A PNG over STRIPS_ABOVE pixels is captured in strips of about STRIP_PIXELS, each encoded by
 * Chromium alone and joined in Node as they come (png-join.ts), streamed to the client. Its
 * cost no longer grows with its size: measured, a 24.5 MP PNG of random pixels peaked at
 * 64–73 MB instead of 620–820 MB (Node 30–43, browser 18, GPU 20–22, renderer 12–18), the same
 * pixels, for more CPU: Node inflates and deflates every row once more, and each strip is a
 * capture of its own (CPU time of Node and Chromium, 24.5 MP: random pixels 5.5 s → 7.7 s, a
 * mostly white page 0.7 s → 1.8 s). Chromium encodes the strips for speed (optimizeForSpeed:
 * its share fell from 5.4 s to 3.1 s on random pixels), Node's deflate does the compressing;
 * the file comes out 5–16% larger than one capture's (measured on the 30-page report, a plain
 * page and the login page: Chromium's fast encoding filters every row alike).
 * Strips of 2 MP peaked near 126 MB, 4 MP near 250 MB. JPEG and WebP cannot be joined without
 * decoding and encoding again (no encoder here): one capture each, charged by the pixel.
 */
const STRIP_PIXELS = 1_000_000;
const STRIPS_ABOVE = 2 * STRIP_PIXELS;
/** What a capture in strips is charged, whatever its size (Node + browser + GPU, with a margin). */
export const STRIPS_BYTES = 64 * 1024 * 1024;

export interface CaptureDeps {
  /** IMAGE_MAX_PIXELS. */
  maxPixels: number;
  /** The memory every capture is admitted against. */
  images: ImageMemory;
  log: Logger;
  url: string;
  /** The render's deadline and its client: a capture waiting for memory stops waiting with them. */
  signal: AbortSignal;
}

/**
 * Readies a loaded page for its image: the viewport and scale its hints ask for (it was laid
 * out in the default ones from the start), the waits it asks for.
 */
export async function prepareImage(
  ws: Workspace,
  hints: RawPageHints,
  format: ImageFormat,
  settings: ReadySettings & { image: ImageDefaults },
  deps: CaptureDeps,
): Promise<Product> {
  const { image } = settings;
  const plan = planImage(hints, format, image);
  warnIgnored(deps.log, deps.url, plan.warnings);
  if (plan.viewport.width !== image.width || plan.viewport.height !== image.height || plan.scale !== image.scale)
    await ws.setViewport(plan.viewport, plan.scale);
  await pageReady(ws, plan.waitFor, settings);
  return {
    name: { title: hints.title.trim() || undefined, meta: plan.filename },
    produce: () => captureOutput(ws, plan, deps),
  };
}

/**
 * The page (its viewport, the whole page, or one element) as an image. The size is known
 * before anything is drawn: an image over the pixel bound, or one whose capture could never
 * fit in the memory for images, is refused there; any other waits its turn for that memory.
 */
async function captureOutput(ws: Workspace, plan: ImagePlan, deps: CaptureDeps): Promise<Output> {
  const area = await areaOf(ws, plan, deps.log, deps.url);
  const size = imageSize(area, plan.scale);
  const why = oversize(size, deps.maxPixels);
  if (why) fail({ kind: 'image-too-large', width: size.width, height: size.height, why, setting: 'IMAGE_MAX_PIXELS' });
  const strip =
    plan.format === 'png' && size.width * size.height > STRIPS_ABOVE ? stripHeight(area, size.width, plan.scale) : null;
  const cost = strip ? STRIPS_BYTES : size.width * size.height * BYTES_PER_PIXEL[plan.format];
  const { images } = deps;
  if (!images.fits(cost)) {
    const why = `needing about ${toMb(cost)} MB to capture, more than IMAGE_MEMORY_MB (${toMb(images.capacityBytes)})`;
    fail({ kind: 'image-too-large', width: size.width, height: size.height, why, setting: 'IMAGE_MEMORY_MB' });
  }
  // The memory watch stops a capture that pushes the machine over its memory (memory-watch.ts).
  const stopped = new AbortController();
  const grant = await images.admit(cost, ws.contextId, deps.signal, () => stopped.abort());
  const dispose = async (): Promise<void> => grant.release();
  try {
    if (strip) {
      const strips = captureStrips(ws, plan, area, strip, stopped.signal);
      return { contentType: CONTENT_TYPE.png, body: joinPngStrips(strips, size.height), dispose };
    }
    const image = await ws.capture({
      format: plan.format,
      ...(plan.quality !== undefined ? { quality: plan.quality } : {}),
      clip: { ...area, scale: 1 },
      captureBeyondViewport: beyondViewport(area, plan),
    });
    if (stopped.signal.aborted) fail({ kind: 'machine-memory' });
    // Only the encoded image is held from here until it is delivered.
    grant.shrink(image.length);
    return { contentType: CONTENT_TYPE[plan.format], body: [image], length: image.length, dispose };
  } catch (err) {
    grant.release();
    throw err;
  }
}

/** Strips top to bottom, each as Chromium encodes it; stops when the memory watch asks. */
async function* captureStrips(
  ws: Workspace,
  plan: ImagePlan,
  area: Area,
  strip: number,
  stopped: AbortSignal,
): AsyncGenerator<Buffer> {
  for (let y = 0; y < area.height; y += strip) {
    if (stopped.aborted) fail({ kind: 'machine-memory' });
    const clip = { x: area.x, y: area.y + y, width: area.width, height: Math.min(strip, area.height - y) };
    yield await ws.capture({
      format: 'png',
      optimizeForSpeed: true,
      clip: { ...clip, scale: 1 },
      captureBeyondViewport: beyondViewport(clip, plan),
    });
  }
}

function beyondViewport(clip: Area, plan: ImagePlan): boolean {
  return clip.x !== 0 || clip.y !== 0 || clip.width > plan.viewport.width || clip.height > plan.viewport.height;
}

/**
 * The height in CSS px of one strip of about STRIP_PIXELS, or null when the area is not cut:
 * when one strip would do, or at a scale that is not a whole number. Measured: at scales 1, 2
 * and 3 the joined strips are the one capture pixel for pixel (fixed-position and
 * viewport-high elements, gradients and text across the cuts included); at 0.75 and 1.5 a
 * few rows where an edge falls between image pixels came out anti-aliased differently.
 */
export function stripHeight(area: { height: number }, widthPx: number, scale: number): number | null {
  if (!Number.isInteger(scale)) return null;
  const rows = Math.max(1, Math.floor(STRIP_PIXELS / widthPx / scale));
  return rows < area.height ? rows : null;
}

function toMb(bytes: number): number {
  return Math.ceil(bytes / 2 ** 20);
}

async function areaOf(ws: Workspace, plan: ImagePlan, log: Logger, url: string): Promise<Area> {
  if (plan.selector !== undefined) {
    const box = await ws.evaluate<Area | null>(elementBox(plan.selector));
    if (box && box.width >= 1 && box.height >= 1) return box;
    log.warn(
      {
        page: loggableUrl(url),
        option: 'image-selector',
        value: plan.selector,
        reason: box ? 'the element has no size' : 'no element matches',
      },
      'ignored page option',
    );
  }
  if (plan.fullPage) {
    const { cssContentSize } = await ws.layoutMetrics();
    return { x: 0, y: 0, width: Math.ceil(cssContentSize.width), height: Math.ceil(cssContentSize.height) };
  }
  return { x: 0, y: 0, ...plan.viewport };
}

/** The element's box in document coordinates (CSS px), whole pixels around it. */
function elementBox(selector: string): string {
  return `(() => {
    const el = document.querySelector(${JSON.stringify(selector)});
    if (!el) return null;
    const r = el.getBoundingClientRect();
    const x = Math.max(0, Math.floor(r.left + window.scrollX)), y = Math.max(0, Math.floor(r.top + window.scrollY));
    return { x, y, width: Math.ceil(r.right + window.scrollX) - x, height: Math.ceil(r.bottom + window.scrollY) - y };
  })()`;
}
