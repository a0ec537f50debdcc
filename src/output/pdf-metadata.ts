// Writes the page's author/description/keywords into the PDF, which Chrome does not do itself.

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
  // Loaded on first use: pdf-lib costs ~100 ms of module loading, which a cold start (and
  // every page without author/subject/keywords) should not pay.
  const { PDFDocument } = await import('pdf-lib');
  // updateMetadata: false keeps Chrome's Producer/Creator/CreationDate instead of pdf-lib's.
  const doc = await PDFDocument.load(pdf, { updateMetadata: false });
  if (title !== undefined) doc.setTitle(title);
  if (author !== undefined) doc.setAuthor(author);
  if (subject !== undefined) doc.setSubject(subject);
  // pdf-lib joins the list with spaces; one element keeps the page's own separators.
  if (keywords !== undefined) doc.setKeywords([keywords]);
  // A classic xref table (no object streams) keeps the file readable by old viewers.
  return doc.save({ useObjectStreams: false, updateFieldAppearances: false });
}
