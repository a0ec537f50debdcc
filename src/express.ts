/**
 * `pdf-appliance/express`, kept so existing main apps keep working.
 *
 * @deprecated Install and import `pdf-appliance-replay` instead: the same middleware without
 * the appliance's own dependencies (Chromium driver, PDF and logging libraries, express).
 */
export {
  APPLIANCE_HEADER,
  isPdfPath,
  pdfReplay,
  preload,
  type NextFn,
  type PdfReplayOptions,
  type PreloadOptions,
  type ReplayMiddleware,
} from 'pdf-appliance-replay';
