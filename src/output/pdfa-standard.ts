// The archival PDF profiles the appliance can produce, and how a configured value names them.
// Kept apart from the converter so configuration code can parse the setting without loading
// child_process and the file system helpers.

/**
 * PDF/A parts 2 and 3, conformance level B ("basic": the pages look the same forever). Level A
 * would also need the document's logical structure, which Ghostscript's pdfwrite does not carry
 * over (Chromium's tags are lost), and part 1 forbids the transparency Chromium uses.
 */
export type PdfStandard = 'PDF/A-2b' | 'PDF/A-3b';

const PATTERN = /^pdf\/a-([23])b$/i;

/** `pdf/a-2b`, `PDF/A-3B`, … → the standard; anything else (including part 1 or level A/U) → null. */
export function parsePdfStandard(value: string): PdfStandard | null {
  const match = PATTERN.exec(value.trim());
  if (!match) return null;
  return match[1] === '2' ? 'PDF/A-2b' : 'PDF/A-3b';
}

/** The part number Ghostscript's -dPDFA takes and the XMP pdfaid:part states. */
export function pdfAPart(standard: PdfStandard): 2 | 3 {
  return standard === 'PDF/A-2b' ? 2 : 3;
}
