// Writes the page's author/description/keywords into the PDF, which Chrome does not do itself,
// without holding the document: Chromium's bytes pass through untouched and an incremental
// update (a new Info dictionary, a one-entry xref section, a trailer pointing back at
// Chromium's) is appended at the end. A 1,000-page report streams as it is read; rewriting it
// with a PDF library instead meant parsing all of it in Node (and ~100 ms to load the library).
import { INFO_FIELDS, type DocInfoText } from './pdf-docinfo.js';
import { encodeTextString, lastTrailer, objectDict } from './pdf-syntax.js';

/** The Info text this writes: Chromium's Creator stays as it is. */
export type PdfMetadata = Omit<DocInfoText, 'creator'>;

// Info strings are for display in a viewer's properties dialog; anything longer is abuse.
const MAX_FIELD_CHARS = 2000;
// Chromium writes the Info dictionary as object 1, right after the header.
const HEAD_BYTES = 64 * 1024;
// The trailer, startxref and %%EOF are the last few hundred bytes.
const TAIL_BYTES = 4096;

function clean(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return v === '' ? undefined : Array.from(v).slice(0, MAX_FIELD_CHARS).join('');
}

const FIELDS = INFO_FIELDS.filter((entry): entry is readonly [keyof PdfMetadata, string] => entry[0] !== 'creator');

/**
 * `pdf` with Author/Subject/Keywords (and Title if given) set in its Info dictionary. Yields
 * the input's chunks as they come, then the update; with nothing to set, the input as it is.
 * A file this cannot update (no classic trailer at its end) passes through unchanged.
 */
export async function* withMetadata(pdf: AsyncIterable<Uint8Array>, meta: PdfMetadata): AsyncGenerator<Uint8Array> {
  const set: [string, string][] = [];
  for (const [field, key] of FIELDS) {
    const value = clean(meta[field]);
    if (value !== undefined) set.push([key, encodeTextString(value)]);
  }
  if (set.length === 0) {
    yield* pdf;
    return;
  }
  const head: Uint8Array[] = [];
  let headBytes = 0;
  let tail: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of pdf) {
    if (headBytes < HEAD_BYTES) {
      head.push(chunk.subarray(0, HEAD_BYTES - headBytes));
      headBytes += Math.min(chunk.length, HEAD_BYTES - headBytes);
    }
    tail.push(chunk);
    // Keep just enough of the last chunks to cover TAIL_BYTES.
    let kept = 0;
    for (let i = tail.length - 1; i >= 0; i--) {
      kept += tail[i]!.length;
      if (kept >= TAIL_BYTES) {
        tail = tail.slice(i);
        break;
      }
    }
    length += chunk.length;
    yield chunk;
  }
  const update = infoUpdate(Buffer.concat(head).toString('latin1'), lastBytes(tail, TAIL_BYTES), length, set);
  if (update) yield Buffer.from(update, 'latin1');
}

function lastBytes(chunks: Uint8Array[], n: number): string {
  const all = Buffer.concat(chunks);
  return all.subarray(Math.max(0, all.length - n)).toString('latin1');
}

/** The incremental update's text, or null when the file does not end in a classic trailer. */
function infoUpdate(head: string, tail: string, length: number, set: [string, string][]): string | null {
  // The update's /Prev is the startxref the file ends with.
  const last = /startxref\s+\d+\s+%%EOF\s*$/.test(tail) ? lastTrailer(tail) : null;
  if (!last) return null;
  const { trailer, startxref } = last;
  const size = trailer.get('Size');
  const root = trailer.get('Root');
  if (!size || !/^\d+$/.test(size.raw) || root?.kind !== 'ref') return null;

  // Chromium's entries (Title, Creator, Producer, dates) stay, unless replaced.
  const entries = new Map<string, string>();
  const info = trailer.get('Info');
  const old = info?.kind === 'ref' ? (objectDict(head, info, false) ?? objectDict(tail, info, false)) : null;
  for (const [key, value] of old ?? []) entries.set(key, value.raw);
  for (const [key, value] of set) entries.set(key, value);

  const num = Number(size.raw);
  const separator = /[\r\n]$/.test(tail) ? '' : '\n';
  const objectAt = length + separator.length;
  const object = `${num} 0 obj\n<<${[...entries].map(([k, v]) => `/${k} ${v}`).join('\n')}>>\nendobj\n`;
  const id = trailer.get('ID');
  const fields = [
    `/Size ${num + 1}`,
    `/Root ${root.raw}`,
    `/Info ${num} 0 R`,
    `/Prev ${startxref}`,
    ...(id ? [`/ID ${id.raw}`] : []),
  ];
  // Each xref entry is exactly 20 bytes: 10-digit offset, space, 5-digit generation, " n", EOL.
  const table = `xref\n${num} 1\n${String(objectAt).padStart(10, '0')} 00000 n \n`;
  return `${separator}${object}${table}trailer\n<<${fields.join('\n')}>>\nstartxref\n${objectAt + object.length}\n%%EOF\n`;
}
