import type { Workspace } from '../browser/workspace.js';
import { fail } from '../failure.js';
import { loggableUrl, type Logger } from '../observability/log.js';
import { imageSize, oversize, type ImagePlan } from './image-plan.js';
import type { Output } from './output.js';

interface Area {
  x: number;
  y: number;
  width: number;
  height: number;
}

const CONTENT_TYPE = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' } as const;

/**
 * The page (its viewport, the whole page, or one element) as an image. The size is known
 * before anything is drawn, and an image over the pixel bound is refused there: drawing and
 * encoding it is what costs the memory (4 bytes a pixel before compression).
 */
export async function captureOutput(ws: Workspace, plan: ImagePlan, maxPixels: number, log: Logger, url: string): Promise<Output> {
  const area = await areaOf(ws, plan, log, url);
  const size = imageSize(area, plan.scale);
  const why = oversize(size, maxPixels);
  if (why) fail({ kind: 'image-too-large', width: size.width, height: size.height, why });
  const beyond = area.x !== 0 || area.y !== 0 || area.width > plan.viewport.width || area.height > plan.viewport.height;
  const image = await ws.capture({
    format: plan.format,
    ...(plan.quality !== undefined ? { quality: plan.quality } : {}),
    clip: { ...area, scale: 1 },
    captureBeyondViewport: beyond,
  });
  return { contentType: CONTENT_TYPE[plan.format], body: [image], length: image.length };
}

async function areaOf(ws: Workspace, plan: ImagePlan, log: Logger, url: string): Promise<Area> {
  if (plan.selector !== undefined) {
    const box = await ws.evaluate<Area | null>(elementBox(plan.selector));
    if (box && box.width >= 1 && box.height >= 1) return box;
    log.warn({ page: loggableUrl(url), option: 'image-selector', value: plan.selector, reason: box ? 'the element has no size' : 'no element matches' }, 'ignored page option');
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
