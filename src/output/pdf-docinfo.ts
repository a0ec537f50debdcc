// Reads the little a PDF/A conversion needs from a PDF on disk, without loading the document:
// whether the file is a whole PDF, and the text entries of its Info dictionary. Only small
// positioned reads: the input may be a thousand pages long.
import type { FileHandle } from 'node:fs/promises';
import { decodeTextString, lastTrailer, objectDict } from './pdf-syntax.js';

/** The Info entries that are text and that PDF/A mirrors into XMP metadata. */
export interface DocInfoText {
  title?: string;
  author?: string;
  subject?: string;
  keywords?: string;
  creator?: string;
}

/**
 * Each text field and its Info dictionary key, in the order writers put them out. The one
 * mapping the Info reader here, the PDF/A PostScript and the incremental Info update share.
 */
export const INFO_FIELDS: ReadonlyArray<readonly [keyof DocInfoText, string]> = [
  ['title', 'Title'],
  ['author', 'Author'],
  ['subject', 'Subject'],
  ['keywords', 'Keywords'],
  ['creator', 'Creator'],
];

const FIELD_OF_KEY = new Map(INFO_FIELDS.map(([field, key]) => [key, field]));

// The end of a PDF (xref table tail, trailer, startxref, %%EOF) fits well within this.
const TAIL_BYTES = 4096;
// An Info dictionary is a handful of strings; anything larger is not worth reading.
const MAX_OBJECT_BYTES = 64 * 1024;

async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(Math.max(0, length));
  const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
  return buffer.subarray(0, bytesRead);
}

/**
 * True when the file starts with the PDF header and ends with %%EOF. Ghostscript runs anything
 * else as PostScript, and "repairs" a PDF cut short into a document with missing pages and
 * substituted fonts instead of failing, so both are refused before it starts.
 */
export async function isCompletePdf(file: FileHandle, size: number): Promise<boolean> {
  if (size < 16) return false;
  const head = (await readAt(file, 0, 5)).toString('latin1');
  const tail = (await readAt(file, Math.max(0, size - 1024), Math.min(size, 1024))).toString('latin1');
  return head === '%PDF-' && /%%EOF\s*$/.test(tail);
}

/**
 * The Info dictionary's text entries, read through the classic cross-reference table that
 * Chromium (and pdf-lib without object streams) write. A file whose last section is an xref
 * stream, or whose Info is only in an earlier incremental section, gives {} (no metadata is
 * better than wrong metadata; the caller can pass the title explicitly).
 */
export async function readDocInfo(file: FileHandle, size: number): Promise<DocInfoText> {
  const tailStart = Math.max(0, size - TAIL_BYTES);
  const tail = (await readAt(file, tailStart, size - tailStart)).toString('latin1');
  const last = lastTrailer(tail);
  const info = last?.trailer.get('Info');
  if (!last || !info || info.kind !== 'ref') return {};

  const offset = await findObjectOffset(file, Number(last.startxref), info.num);
  if (offset === null) return {};
  const text = (await readAt(file, offset, Math.min(MAX_OBJECT_BYTES, size - offset))).toString('latin1');
  const result: DocInfoText = {};
  for (const [key, value] of objectDict(text, info, true) ?? []) {
    const field = FIELD_OF_KEY.get(key);
    if (field && value.kind === 'string') result[field] = decodeTextString(value.bytes);
  }
  return result;
}

/** Byte offset of object `num` from the xref table at `xrefAt`, or null if it is not there. */
async function findObjectOffset(file: FileHandle, xrefAt: number, num: number): Promise<number | null> {
  let head = (await readAt(file, xrefAt, 64)).toString('latin1');
  const keyword = /^xref\s*/.exec(head);
  if (!keyword) return null; // an xref stream: not what Chromium writes
  let position = xrefAt + keyword[0].length;
  // Subsections: "first count" then count entries of exactly 20 bytes ("oooooooooo ggggg n\r\n").
  for (let guard = 0; guard < 10_000; guard++) {
    head = (await readAt(file, position, 64)).toString('latin1');
    const sub = /^(\d+)\s+(\d+)[ \t]*\r?\n?/.exec(head);
    if (!sub) return null; // reached "trailer"
    const first = Number(sub[1]);
    const count = Number(sub[2]);
    const entries = position + sub[0].length;
    if (num >= first && num < first + count) {
      const entry = (await readAt(file, entries + (num - first) * 20, 20)).toString('latin1');
      const m = /^(\d{10}) (\d{5}) n/.exec(entry);
      return m ? Number(m[1]) : null;
    }
    position = entries + count * 20;
  }
  return null;
}
