// pdf-appliance-replay: everything a main app needs to hand `*.pdf` requests to pdf-appliance,
// and the path rule the appliance itself uses, so the two sides cannot disagree.
export { APPLIANCE_HEADER, DEFAULT_SECRET_HEADER, OUTPUT_HEADER } from './protocol.js';
export { pathOf, originFormPath } from './request-target.js';
export { outputOf, isPdfPath, IMAGE_FORMATS, type Output, type OutputFormat, type ImageFormat } from './output.js';
export { pdfReplay, type ReplayMiddleware, type NextFn } from './middleware.js';
export type { PdfReplayOptions } from './replay-answer.js';
export { preload, type PreloadOptions } from './preload.js';
export { returnPath } from './return-path.js';
