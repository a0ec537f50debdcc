// Checks the XMP packet Ghostscript wrote into a PDF/A file, and puts back the characters
// Ghostscript 10.0 loses on the way from the Info dictionary to XMP.
//
// PDF/A requires the Info entries and their XMP counterparts to be equal. Ghostscript 10.0
// converts the Info text to UTF-8 correctly only up to U+07FF: every character that takes three
// bytes in UTF-8 (en dash, €, curly quotes, CJK, …) comes out as U+FFFD, which also takes three
// bytes. Putting the right character back therefore changes no length: the stream's /Length
// and every cross-reference offset stay valid, and the file is patched in place. (XMP packets
// are stored uncompressed so that tools can do exactly this; pdfwrite writes them so.)
import { open, type FileHandle } from 'node:fs/promises';
import type { DocInfoText } from './pdf-docinfo.js';

/** Where Ghostscript 10.0 writes each Info entry in XMP (element content, XML-escaped). */
const FIELDS: Array<[keyof DocInfoText, RegExp]> = [
  ['title', /<dc:title>\s*<rdf:Alt>\s*<rdf:li[^>]*>([^<]*)<\/rdf:li>/],
  ['author', /<dc:creator>\s*<rdf:Seq>\s*<rdf:li[^>]*>([^<]*)<\/rdf:li>/],
  ['subject', /<dc:description>\s*<rdf:Alt>\s*<rdf:li[^>]*>([^<]*)<\/rdf:li>/],
  ['keywords', /<pdf:Keywords>([^<]*)<\/pdf:Keywords>/],
  ['creator', /<xmp:CreatorTool>([^<]*)<\/xmp:CreatorTool>/],
];

// U+FFFD in UTF-8, as the latin1 string the packet is searched in.
const REPLACEMENT = '\u00ef\u00bf\u00bd';
// Room on either side of pdfaid:part for the rest of the packet: five Info fields of at most
// 2000 characters, XML-escaped, fit.
const WINDOW = 128 * 1024;
const CHUNK = 1024 * 1024;

export type XmpOutcome = 'ok' | 'no-pdfa-identification' | 'info-mismatch';

/**
 * Finds the XMP packet that identifies the file as PDF/A `part`, restores the Info text in it
 * (`expected`: exactly what was put into Info) and checks that it then matches.
 */
export async function checkAndRepairXmp(path: string, part: number, expected: DocInfoText): Promise<XmpOutcome> {
  const file = await open(path, 'r+');
  try {
    const { size } = await file.stat();
    const marker = await findFirst(file, size, 'pdfaid:part');
    if (marker < 0) return 'no-pdfa-identification';

    const start = Math.max(0, marker - WINDOW);
    const window = Buffer.alloc(Math.min(size, marker + WINDOW) - start);
    await file.read(window, 0, window.length, start);
    const text = window.toString('latin1');
    const begin = text.lastIndexOf('<x:xmpmeta', marker - start);
    const close = text.indexOf('</x:xmpmeta>', marker - start);
    if (begin < 0 || close < 0) return 'no-pdfa-identification';
    let packet = text.slice(begin, close);
    if (!new RegExp(`pdfaid:part\\s*(=\\s*["']${part}["']|>\\s*${part}\\s*<)`).test(packet))
      return 'no-pdfa-identification';

    const original = packet;
    for (const [field, pattern] of FIELDS) {
      const value = expected[field];
      const m = value === undefined ? null : pattern.exec(packet);
      if (value === undefined || !m) continue;
      const raw = m[1];
      const fixed = restore(raw, value);
      if (fixed === null || unescapeXml(Buffer.from(fixed, 'latin1').toString('utf8')) !== value)
        return 'info-mismatch';
      const at = m.index + m[0].indexOf(raw);
      packet = packet.slice(0, at) + fixed + packet.slice(at + raw.length);
    }
    if (packet !== original) {
      // Same length by construction (3 bytes replace 3 bytes), so nothing else in the file moves.
      await file.write(Buffer.from(packet, 'latin1'), 0, packet.length, start + begin);
    }
    return 'ok';
  } finally {
    await file.close();
  }
}

/**
 * `raw` (latin1 view of UTF-8 bytes) with each U+FFFD replaced, in order, by the next character
 * of `value` that UTF-8 writes in three bytes. Null if the counts do not line up.
 */
function restore(raw: string, value: string): string | null {
  const threeByte = [...value].filter((c) => c.codePointAt(0)! >= 0x800 && c.codePointAt(0)! <= 0xffff);
  const pieces = raw.split(REPLACEMENT);
  if (pieces.length === 1) return raw; // nothing lost: a Ghostscript that gets this right
  if (pieces.length - 1 !== threeByte.length) return null;
  return pieces.reduce((acc, piece, i) => acc + Buffer.from(threeByte[i - 1], 'utf8').toString('latin1') + piece);
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|amp|apos|quot|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    return ({ lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' } as Record<string, string>)[e];
  });
}

/** Byte offset of the first `needle` (ASCII) in the file, or -1. Reads a chunk at a time. */
async function findFirst(file: FileHandle, size: number, needle: string): Promise<number> {
  const chunk = Buffer.alloc(CHUNK);
  const overlap = needle.length - 1;
  for (let position = 0; position < size; position += CHUNK - overlap) {
    const { bytesRead } = await file.read(chunk, 0, CHUNK, position);
    const i = chunk.subarray(0, bytesRead).indexOf(needle, 0, 'latin1');
    if (i >= 0) return position + i;
    if (bytesRead < CHUNK) break;
  }
  return -1;
}
