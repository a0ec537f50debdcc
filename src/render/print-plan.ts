/*
 * The page decides how it prints.
 *
 * A main-app page can tune its own PDF with tags in its markup. Precedence, strongest first:
 *   1. CSS `@page` rules (size, margins): Chrome honours them because we always print with
 *      `preferCSSPageSize: true`.
 *   2. `<meta>` tags in the page (below).
 *   3. The appliance's environment defaults (FORMAT, MARGIN, ...).
 * A bad value never breaks the download: it is ignored (the next level applies) and a warning
 * naming the option and the value is returned for the log.
 *
 * | name (in <meta name=… content=…>) | value
 * | default          |
 * | --------------------------------- |
 * -------------------------------------------------------------------- | ---------------- |
 * | pdf-format                        | A0–A6, Letter, Legal, Tabloid, Ledger (case-insensitive)
 * | env FORMAT       |
 * | pdf-landscape                     | true / false
 * | env              |
 * | pdf-margin                        | 1–4 CSS lengths like CSS `margin` (top right bottom left),
 * units     | env MARGIN       |
 * |                                   | px, in, cm, mm; a bare `0` is allowed. E.g. `20mm`, `1in
 * 0.5in`.    |                  |
 * |                                   | Rejected if it leaves less than 1in of content on the page.
 * |                  |
 * | pdf-scale                         | number from 0.1 to 2
 * | env              |
 * | pdf-print-background              | true / false (print background colours and images)
 * | env              |
 * | pdf-page-ranges                   | e.g. `1-3, 5`; open ends allowed: `-3`, `5-`
 * | all pages        |
 * | pdf-media                         | `print` or `screen` (which CSS @media rules apply)
 * | print            |
 * | pdf-outline                       | true / false: PDF bookmarks built from the headings (implies
 * tagged) | env              |
 * | pdf-tagged                        | true / false: tagged (accessible) PDF
 * | env              |
 * | pdf-filename                      | download name, e.g. `Invoice 42.pdf` (`.pdf` added when
 * missing)     | <title>, else URL|
 * | pdf-wait-for                      | CSS selector that must exist in the page before it is printed
 * | none             |
 * |                                   | (images wait for it too)
 * |                  |
 * | pdf-standard                      | `PDF/A-2b` or `PDF/A-3b`: archival PDF (Ghostscript), or
 * `none`      | env PDF_STANDARD |
 * | author                            | PDF Author
 * | none             |
 * | description                       | PDF Subject
 * | none             |
 * | keywords                          | PDF Keywords
 * | none             |
 * | <title>                           | PDF Title (and the download name when there is no
 * pdf-filename)      | none             |
 *
 * Script readiness: a page whose content arrives late may set `window.pdfReady = false` early
 * (in an inline script in <head>) and `window.pdfReady = true` once it is complete; the page is
 * printed only after the flag becomes true (or the render timeout expires).
 *
 * Header and footer: `<template id="pdf-header">…</template>` and `<template id="pdf-footer">…</template>`.
 * Inside, elements with Chrome's classes are filled in when printing: `pageNumber`, `totalPages`,
 * `date`, `title`, `url`, e.g. `Page <span class="pageNumber"></span> of <span class="totalPages"></span>`.
 * Chrome renders these templates in a separate, isolated document, so:
 *   - the page's CSS does not apply: put styles inline in the template (style="…" or a <style> inside it);
 *   - nothing external is loaded: images must be inlined as `data:` URIs;
 *   - scripts do not run.
 * The template text defaults to 9px (Chrome's own default is too small to read); set a font-size
 * inside the template to change it. When a page has a header (footer) and its top (bottom) margin
 * is below 15mm, the margin is enlarged to 15mm so there is room to show it.
 */
import type { Protocol } from 'devtools-protocol';
import { parsePdfStandard, type PdfStandard } from '../output/pdfa-standard.js';
import { MetaReader, type RawPageHints, type Warning } from './page-hints.js';

/** Print scale: what Chromium's printToPDF accepts, for SCALE and pdf-scale alike. */
export const PDF_SCALE_LIMITS = { min: 0.1, max: 2 };

export type PaperFormat = 'Letter' | 'Legal' | 'Tabloid' | 'Ledger' | 'A0' | 'A1' | 'A2' | 'A3' | 'A4' | 'A5' | 'A6';

export interface PdfDefaults {
  /** FORMAT, checked when the config was read. */
  format: PaperFormat;
  landscape: boolean;
  printBackground: boolean;
  margin: Margin;
  scale: number;
  outline: boolean;
  tagged: boolean;
  /** PDF_STANDARD: every PDF archival unless the page says `none`. */
  standard: PdfStandard | null;
}

export interface Margin {
  top: string;
  right: string;
  bottom: string;
  left: string;
}

/** The print settings as decided (puppeteer's page.pdf() names, which printParams translates). */
export interface PdfOptions {
  format: PaperFormat;
  landscape: boolean;
  printBackground: boolean;
  scale: number;
  /** Always true, so CSS @page wins over everything here. */
  preferCSSPageSize: true;
  outline: boolean;
  tagged: boolean;
  displayHeaderFooter: boolean;
  headerTemplate?: string;
  footerTemplate?: string;
  pageRanges?: string;
  margin: Margin;
}

export interface PrintPlan {
  pdf: PdfOptions;
  media: 'print' | 'screen';
  waitFor?: string;
  /** The page's pdf-filename as written (trimmed); pass it to chooseFilename as `meta`. */
  filename?: string;
  /**
   * title is the document title. Chrome already writes it as the PDF Title, so it is here for
   * naming the download; only author/subject/keywords need writing into the PDF.
   */
  metadata: { title?: string; author?: string; subject?: string; keywords?: string };
  /** Archival output (pdf-standard, else PDF_STANDARD), or null for Chromium's PDF as it is. */
  standard: PdfStandard | null;
  warnings: Warning[];
}

// Paper sizes in millimetres (portrait), matching puppeteer's table.
const PAPER_MM: Record<string, { name: PaperFormat; width: number; height: number }> = {
  letter: { name: 'Letter', width: 215.9, height: 279.4 },
  legal: { name: 'Legal', width: 215.9, height: 355.6 },
  tabloid: { name: 'Tabloid', width: 279.4, height: 431.8 },
  ledger: { name: 'Ledger', width: 431.8, height: 279.4 },
  a0: { name: 'A0', width: 841, height: 1189 },
  a1: { name: 'A1', width: 594, height: 841 },
  a2: { name: 'A2', width: 420, height: 594 },
  a3: { name: 'A3', width: 297, height: 420 },
  a4: { name: 'A4', width: 210, height: 297 },
  a5: { name: 'A5', width: 148, height: 210 },
  a6: { name: 'A6', width: 105, height: 148 },
};

/** Canonical paper format name (e.g. `A4`, `Letter`) or null when unknown. */
export function parseFormat(value: string): PaperFormat | null {
  const key = value.trim().toLowerCase();
  return Object.hasOwn(PAPER_MM, key) ? PAPER_MM[key].name : null;
}

const MM_PER_UNIT: Record<string, number> = { px: 25.4 / 96, in: 25.4, cm: 10, mm: 1 };
const LENGTH = /^(\d+(?:\.\d+)?|\.\d+)(px|in|cm|mm)?$/i;

/** One CSS length normalised to e.g. `12.5mm`; a unit is required except for zero. */
function parseLength(token: string): string | null {
  const m = LENGTH.exec(token);
  if (!m) return null;
  const n = Number(m[1]);
  if (!Number.isFinite(n)) return null;
  const unit = m[2]?.toLowerCase();
  if (unit === undefined) return n === 0 ? '0px' : null;
  return `${n}${unit}`;
}

function lengthToMm(length: string): number {
  const m = LENGTH.exec(length);
  if (!m) return NaN;
  return Number(m[1]) * (MM_PER_UNIT[(m[2] ?? 'px').toLowerCase()] ?? NaN);
}

/** CSS `margin` shorthand (1–4 lengths, top right bottom left) or null when invalid. */
export function parseMargin(value: string): Margin | null {
  const tokens = value.trim().split(/\s+/).filter(Boolean);
  if (tokens.length < 1 || tokens.length > 4) return null;
  const lengths = tokens.map(parseLength);
  if (lengths.some((l) => l === null)) return null;
  const [top, right = top, bottom = top, left = right] = lengths as string[];
  return { top, right, bottom, left };
}

// Below this much printable width or height a margin is surely a mistake, and Chrome
// refuses to print when the content area is empty.
const MIN_CONTENT_MM = 25.4;

function marginFits(margin: Margin, format: PaperFormat, landscape: boolean): boolean {
  const key = format.toLowerCase();
  if (!Object.hasOwn(PAPER_MM, key)) return true;
  const paper = PAPER_MM[key];
  const width = landscape ? paper.height : paper.width;
  const height = landscape ? paper.width : paper.height;
  return (
    width - lengthToMm(margin.left) - lengthToMm(margin.right) >= MIN_CONTENT_MM &&
    height - lengthToMm(margin.top) - lengthToMm(margin.bottom) >= MIN_CONTENT_MM
  );
}

/** Normalised page ranges (`1-3,5`) or null when any part is malformed. */
function parsePageRanges(value: string): string | null {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.length > 100) return null;
  const out: string[] = [];
  for (const part of parts) {
    const m = /^(\d*)\s*(-?)\s*(\d*)$/.exec(part);
    if (!m || (m[1] === '' && m[3] === '')) return null;
    const [, from, dash, to] = m;
    if (dash === '' && to !== '') return null;
    const start = from === '' ? undefined : Number(from);
    const end = to === '' ? undefined : Number(to);
    if (start === 0 || end === 0) return null;
    if (start !== undefined && end !== undefined && start > end) return null;
    out.push(dash ? `${start ?? ''}-${end ?? ''}` : String(start));
  }
  return out.join(',');
}

const KNOWN_OPTIONS = [
  'pdf-format',
  'pdf-landscape',
  'pdf-margin',
  'pdf-scale',
  'pdf-print-background',
  'pdf-page-ranges',
  'pdf-media',
  'pdf-outline',
  'pdf-tagged',
  'pdf-filename',
  'pdf-wait-for',
  'pdf-standard',
];

// Chrome draws the header/footer inside the page margin; under ~15mm a 9px line is clipped
// or invisible, so a page that asks for a header/footer gets at least this much room for it.
const HEADER_FOOTER_MIN_MM = 15;
const HEADER_FOOTER_MIN = `${HEADER_FOOTER_MIN_MM}mm`;

// Chrome's template text is tiny unless a size is set, and it starts at the very edge of the
// paper. The wrapper sets a readable default size (a font-size inside the template still wins),
// lines the text up with the page content, and lets template backgrounds print.
function wrapTemplate(html: string, margin: Margin): string {
  const style = [
    'font-size:9px',
    'width:100%',
    'box-sizing:border-box',
    `padding:0 ${parseLength(margin.right) ?? '0px'} 0 ${parseLength(margin.left) ?? '0px'}`,
    '-webkit-print-color-adjust:exact',
    'print-color-adjust:exact',
  ].join(';');
  return `<div style="${style}">${html}</div>`;
}

// An empty string would make Chrome print its own default header/footer (date, URL, ...).
const EMPTY_TEMPLATE = '<span></span>';

export function planPrint(hints: RawPageHints, defaults: PdfDefaults): PrintPlan {
  const options = new MetaReader(hints, 'pdf-', KNOWN_OPTIONS);
  const { format, landscape, margin } = paperOf(options, defaults);
  const outline = options.bool('pdf-outline', defaults.outline);
  const pdf: PdfOptions = {
    format,
    landscape,
    printBackground: options.bool('pdf-print-background', defaults.printBackground),
    // Chrome's printToPDF accepts exactly this range and errors outside it.
    scale: options.number('pdf-scale', defaults.scale, PDF_SCALE_LIMITS.min, PDF_SCALE_LIMITS.max),
    preferCSSPageSize: true,
    outline,
    // Chrome builds the outline from the tagged structure tree, so an outline needs tagging.
    tagged: outline || options.bool('pdf-tagged', defaults.tagged),
    displayHeaderFooter: false,
    margin,
  };
  const pageRanges = parsed(
    options,
    'pdf-page-ranges',
    parsePageRanges,
    'expected page numbers and ranges like "1-3, 5"',
  );
  if (pageRanges !== undefined) pdf.pageRanges = pageRanges;
  addHeaderFooter(pdf, hints);

  const plan: PrintPlan = {
    pdf,
    media:
      parsed(
        options,
        'pdf-media',
        (v) =>
          v.toLowerCase() === 'screen' || v.toLowerCase() === 'print' ? (v.toLowerCase() as 'print' | 'screen') : null,
        'expected print or screen',
      ) ?? 'print',
    metadata: metadataOf(options, hints),
    standard: standardOf(options, defaults.standard),
    warnings: options.warnings,
  };
  const waitFor = options.selector('pdf-wait-for');
  if (waitFor !== undefined) plan.waitFor = waitFor;
  const filename = options.read('pdf-filename');
  if (filename !== undefined) plan.filename = filename;
  return plan;
}

/** A page option parsed by `parse`; one it cannot read is ignored with `expected`. */
function parsed<T>(
  options: MetaReader,
  name: string,
  parse: (value: string) => T | null,
  expected: string,
): T | undefined {
  const value = options.read(name);
  if (value === undefined) return undefined;
  const result = parse(value);
  if (result === null) options.warn(name, value, expected);
  return result ?? undefined;
}

/** Paper size, orientation and margins: a margin that leaves less than an inch is ignored. */
function paperOf(
  options: MetaReader,
  defaults: PdfDefaults,
): { format: PaperFormat; landscape: boolean; margin: Margin } {
  const format =
    parsed(
      options,
      'pdf-format',
      parseFormat,
      'unknown paper format; expected A0–A6, Letter, Legal, Tabloid or Ledger',
    ) ?? defaults.format;
  const landscape = options.bool('pdf-landscape', defaults.landscape);
  let margin: Margin = { ...defaults.margin };
  const m = parsed(
    options,
    'pdf-margin',
    parseMargin,
    'expected 1–4 lengths in px, in, cm or mm (e.g. "20mm" or "1in 0.5in")',
  );
  if (m !== undefined) {
    if (marginFits(m, format, landscape)) margin = m;
    else options.warn('pdf-margin', options.read('pdf-margin')!, `leaves less than 1in of content on a ${format} page`);
  }
  return { format, landscape, margin };
}

/** The page's header and footer templates; each needs room in its margin. */
function addHeaderFooter(pdf: PdfOptions, hints: RawPageHints): void {
  const header = hints.header?.trim() ? hints.header : undefined;
  const footer = hints.footer?.trim() ? hints.footer : undefined;
  if (header === undefined && footer === undefined) return;
  const margin = pdf.margin;
  if (header !== undefined && !(lengthToMm(margin.top) >= HEADER_FOOTER_MIN_MM)) margin.top = HEADER_FOOTER_MIN;
  if (footer !== undefined && !(lengthToMm(margin.bottom) >= HEADER_FOOTER_MIN_MM)) margin.bottom = HEADER_FOOTER_MIN;
  pdf.displayHeaderFooter = true;
  pdf.headerTemplate = header !== undefined ? wrapTemplate(header, margin) : EMPTY_TEMPLATE;
  pdf.footerTemplate = footer !== undefined ? wrapTemplate(footer, margin) : EMPTY_TEMPLATE;
}

/** PDF/A from the page (`none` turns PDF_STANDARD off), else PDF_STANDARD. */
function standardOf(options: MetaReader, fallback: PdfStandard | null): PdfStandard | null {
  const value = options.read('pdf-standard');
  if (value === undefined) return fallback;
  if (value.toLowerCase() === 'none') return null;
  return parsed(options, 'pdf-standard', parsePdfStandard, 'expected PDF/A-2b, PDF/A-3b or none') ?? fallback;
}

/** Title, author, subject and keywords, from the page's own tags. */
function metadataOf(options: MetaReader, hints: RawPageHints): PrintPlan['metadata'] {
  const metadata: PrintPlan['metadata'] = {};
  const title = hints.title.trim();
  if (title) metadata.title = title;
  const author = options.read('author');
  if (author !== undefined) metadata.author = author;
  const subject = options.read('description');
  if (subject !== undefined) metadata.subject = subject;
  const keywords = options.read('keywords');
  if (keywords !== undefined) metadata.keywords = keywords;
  return metadata;
}

/**
 * The plan's options as Chromium's Page.printToPDF parameters (inches), the translation
 * puppeteer's page.pdf() makes; the appliance prints over its own CDP session (streamed, and
 * bounded by the render deadline rather than a fixed 30 s).
 */
export function printParams(pdf: PdfOptions): Omit<Protocol.Page.PrintToPDFRequest, 'transferMode'> {
  const paper = PAPER_MM[pdf.format.toLowerCase()] ?? PAPER_MM.letter;
  const inches = (length: string): number => lengthToMm(length) / 25.4;
  const params: Omit<Protocol.Page.PrintToPDFRequest, 'transferMode'> = {
    landscape: pdf.landscape,
    displayHeaderFooter: pdf.displayHeaderFooter,
    headerTemplate: pdf.headerTemplate ?? '',
    footerTemplate: pdf.footerTemplate ?? '',
    printBackground: pdf.printBackground,
    scale: pdf.scale,
    paperWidth: paper.width / 25.4,
    paperHeight: paper.height / 25.4,
    marginTop: inches(pdf.margin.top),
    marginBottom: inches(pdf.margin.bottom),
    marginLeft: inches(pdf.margin.left),
    marginRight: inches(pdf.margin.right),
    pageRanges: pdf.pageRanges ?? '',
    preferCSSPageSize: pdf.preferCSSPageSize,
    generateTaggedPDF: pdf.tagged,
    generateDocumentOutline: pdf.outline,
  };
  return params;
}
