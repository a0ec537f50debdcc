import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';

export interface PdfSummary {
  pages: number;
  /** Text of each page, items joined by spaces. */
  text: string[];
  /** Page sizes in PostScript points (1/72 in), as the PDF states them. */
  sizes: Array<{ width: number; height: number }>;
  info: Record<string, unknown>;
  outline: string[];
  tagged: boolean;
}

/** Reads a PDF the way a test needs it: text per page, sizes, metadata, outline, tagged flag. */
export async function readPdf(data: Uint8Array | Buffer): Promise<PdfSummary> {
  const bytes = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const doc = await getDocument({ data: bytes, useSystemFonts: false, isEvalSupported: false, verbosity: 0 }).promise;
  try {
    const text: string[] = [];
    const sizes: PdfSummary['sizes'] = [];
    for (let i = 1; i <= doc.numPages; i++) {
      const page = await doc.getPage(i);
      const content = await page.getTextContent();
      text.push(
        content.items
          .map((it) => ('str' in it ? it.str : ''))
          .join(' ')
          .replace(/\s+/g, ' ')
          .trim(),
      );
      const [x0, y0, x1, y1] = page.view as [number, number, number, number];
      sizes.push({ width: Math.round(x1 - x0), height: Math.round(y1 - y0) });
    }
    const meta = await doc.getMetadata();
    const outline = ((await doc.getOutline()) ?? []).flatMap(function walk(o): string[] {
      return [o.title, ...(o.items ?? []).flatMap(walk)];
    });
    const markInfo = await doc.getMarkInfo();
    return {
      pages: doc.numPages,
      text,
      sizes,
      info: meta.info as Record<string, unknown>,
      outline,
      tagged: Boolean(markInfo?.Marked),
    };
  } finally {
    await doc.destroy();
  }
}

export function isPdf(body: Uint8Array | Buffer): boolean {
  return Buffer.from(body.subarray(0, 5)).toString('latin1') === '%PDF-';
}

/** One link annotation: where it leads (`url`), or the in-document destination it jumps to. */
export interface PdfLink {
  page: number;
  url?: string;
  /** Set for a jump within the document (a named or explicit destination). */
  internal: boolean;
}

/** The link annotations of every page, in page order, as a PDF viewer would follow them. */
export async function readLinks(data: Uint8Array | Buffer): Promise<PdfLink[]> {
  const bytes = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const doc = await getDocument({ data: bytes, useSystemFonts: false, isEvalSupported: false, verbosity: 0 }).promise;
  try {
    const links: PdfLink[] = [];
    for (let i = 1; i <= doc.numPages; i++) {
      const annotations = (await (await doc.getPage(i)).getAnnotations()) as Array<{
        subtype: string;
        url?: string;
        unsafeUrl?: string;
        dest?: unknown;
      }>;
      for (const a of annotations) {
        if (a.subtype !== 'Link') continue;
        // pdf.js leaves `url` empty for schemes it would not open (mailto: is kept in unsafeUrl).
        const url = a.unsafeUrl ?? a.url;
        links.push({
          page: i,
          ...(url !== undefined ? { url } : {}),
          internal: a.dest !== undefined && a.dest !== null,
        });
      }
    }
    return links;
  } finally {
    await doc.destroy();
  }
}
