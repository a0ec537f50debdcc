// Writes the page's author/description/keywords into the PDF, which Chrome does not do itself.
import { PDFDocument } from 'pdf-lib';

export interface PdfMetadata {
  title?: string;
  author?: string;
  subject?: string;
  keywords?: string;
}

// Info strings are for display in a viewer's properties dialog; anything longer is abuse.
const MAX_FIELD_CHARS = 2000;

function clean(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return v === '' ? undefined : Array.from(v).slice(0, MAX_FIELD_CHARS).join('');
}

/** Sets Author/Subject/Keywords (and Title if given) in the PDF's Info dictionary. Returns the input untouched when there is nothing to set (fast path: no parsing). */
export async function applyMetadata(pdf: Uint8Array, meta: PdfMetadata): Promise<Uint8Array> {
  const title = clean(meta.title);
  const author = clean(meta.author);
  const subject = clean(meta.subject);
  const keywords = clean(meta.keywords);
  if (title === undefined && author === undefined && subject === undefined && keywords === undefined) {
    return pdf;
  }
  // updateMetadata: false keeps Chrome's Producer/Creator/CreationDate instead of pdf-lib's.
  const doc = await PDFDocument.load(pdf, { updateMetadata: false });
  if (title !== undefined) doc.setTitle(title);
  if (author !== undefined) doc.setAuthor(author);
  if (subject !== undefined) doc.setSubject(subject);
  // pdf-lib joins the list with spaces; one element keeps the page's own separators.
  if (keywords !== undefined) doc.setKeywords([keywords]);
  // Chrome declares PDF 1.4, which predates object streams; writing a classic xref table keeps
  // the file valid for that version and readable by old viewers.
  return doc.save({ useObjectStreams: false, updateFieldAppearances: false });
}
