// Reads the little a PDF/A conversion needs from a PDF on disk, without loading the document:
// whether the file is a whole PDF, and the text entries of its Info dictionary. Only small
// positioned reads: the input may be a thousand pages long.
import type { FileHandle } from 'node:fs/promises';

/** The Info entries that are text and that PDF/A mirrors into XMP metadata. */
export interface DocInfoText {
  title?: string;
  author?: string;
  subject?: string;
  keywords?: string;
  creator?: string;
}

const INFO_KEYS: Record<string, keyof DocInfoText> = {
  Title: 'title',
  Author: 'author',
  Subject: 'subject',
  Keywords: 'keywords',
  Creator: 'creator',
};

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
  const startxref = lastMatch(tail, /startxref\s+(\d+)/g);
  const trailerAt = tail.lastIndexOf('trailer');
  if (startxref === null || trailerAt < 0) return {};
  const trailer = parseDict(tail, tail.indexOf('<<', trailerAt));
  const info = trailer?.get('Info');
  if (!info || info.kind !== 'ref') return {};

  const offset = await findObjectOffset(file, Number(startxref), info.num);
  if (offset === null) return {};
  const text = (await readAt(file, offset, Math.min(MAX_OBJECT_BYTES, size - offset))).toString('latin1');
  const header = new RegExp(`^\\s*${info.num}\\s+${info.gen}\\s+obj\\s*`).exec(text);
  if (!header) return {};
  const dict = parseDict(text, header[0].length);
  const result: DocInfoText = {};
  for (const [key, value] of dict ?? []) {
    const field = INFO_KEYS[key];
    if (field && value.kind === 'string') result[field] = decodeTextString(value.bytes);
  }
  return result;
}

function lastMatch(text: string, pattern: RegExp): string | null {
  let found: string | null = null;
  for (const m of text.matchAll(pattern)) found = m[1] ?? null;
  return found;
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

type PdfValue = { kind: 'string'; bytes: Uint8Array } | { kind: 'ref'; num: number; gen: number } | { kind: 'other' };

/**
 * The top level of the dictionary starting at `start` ("<<"): string values, indirect
 * references, and everything else skipped over (nested dictionaries and arrays included).
 */
function parseDict(text: string, start: number): Map<string, PdfValue> | null {
  if (start < 0 || !text.startsWith('<<', start)) return null;
  const lexer = new Lexer(text, start + 2);
  const entries = new Map<string, PdfValue>();
  for (;;) {
    const key = lexer.next();
    if (key === null || key.type === 'end-dict') return entries;
    if (key.type !== 'name') return null;
    const value = lexer.next();
    if (value === null) return null;
    if (value.type === 'string') {
      entries.set(key.text, { kind: 'string', bytes: value.bytes });
    } else if (value.type === 'word' && /^\d+$/.test(value.text)) {
      // "12 0 R" is a reference; a lone number is not. Peek without losing a key.
      const mark = lexer.position;
      const gen = lexer.next();
      const r = lexer.next();
      if (gen?.type === 'word' && /^\d+$/.test(gen.text) && r?.type === 'word' && r.text === 'R') {
        entries.set(key.text, { kind: 'ref', num: Number(value.text), gen: Number(gen.text) });
      } else {
        lexer.position = mark;
        entries.set(key.text, { kind: 'other' });
      }
    } else if (value.type === 'begin-dict' || value.type === 'begin-array') {
      lexer.skipNested();
      entries.set(key.text, { kind: 'other' });
    } else {
      entries.set(key.text, { kind: 'other' });
    }
  }
}

type Token =
  | { type: 'name'; text: string }
  | { type: 'string'; bytes: Uint8Array }
  | { type: 'word'; text: string }
  | { type: 'begin-dict' | 'end-dict' | 'begin-array' | 'end-array' };

const ESCAPES: Record<string, number> = { n: 10, r: 13, t: 9, b: 8, f: 12 };
const WHITESPACE = /[\0\t\n\f\r ]/;
const DELIMITER = /[\0\t\n\f\r ()<>[\]{}/%]/;

class Lexer {
  constructor(private readonly text: string, public position: number) {}

  next(): Token | null {
    const t = this.text;
    for (;;) {
      while (this.position < t.length && WHITESPACE.test(t[this.position])) this.position++;
      if (t[this.position] !== '%') break;
      while (this.position < t.length && t[this.position] !== '\n' && t[this.position] !== '\r') this.position++;
    }
    if (this.position >= t.length) return null;
    const c = t[this.position];
    if (t.startsWith('<<', this.position)) return this.advance(2, { type: 'begin-dict' });
    if (t.startsWith('>>', this.position)) return this.advance(2, { type: 'end-dict' });
    if (c === '[') return this.advance(1, { type: 'begin-array' });
    if (c === ']') return this.advance(1, { type: 'end-array' });
    if (c === '(') return this.literal();
    if (c === '<') return this.hex();
    if (c === '/') {
      this.position++;
      return { type: 'name', text: decodeName(this.word()) };
    }
    const w = this.word();
    if (w === '') {
      this.position++; // a stray delimiter: step over it rather than loop
      return { type: 'word', text: c };
    }
    return { type: 'word', text: w };
  }

  /** Skips to the end of the dictionary or array just opened. */
  skipNested(): void {
    let depth = 1;
    while (depth > 0) {
      const tok = this.next();
      if (tok === null) return;
      if (tok.type === 'begin-dict' || tok.type === 'begin-array') depth++;
      if (tok.type === 'end-dict' || tok.type === 'end-array') depth--;
    }
  }

  private advance(n: number, tok: Token): Token {
    this.position += n;
    return tok;
  }

  private word(): string {
    const start = this.position;
    while (this.position < this.text.length && !DELIMITER.test(this.text[this.position])) this.position++;
    return this.text.slice(start, this.position);
  }

  /** A (literal string): nested parentheses, backslash escapes, octal codes, line continuations. */
  private literal(): Token {
    const t = this.text;
    const out: number[] = [];
    let depth = 0;
    let i = this.position + 1;
    for (; i < t.length; i++) {
      const c = t[i];
      if (c === '\\') {
        const e = t[++i];
        if (e === undefined) break;
        if (e in ESCAPES) out.push(ESCAPES[e]);
        else if (e >= '0' && e <= '7') {
          let digits = e;
          while (digits.length < 3 && t[i + 1] >= '0' && t[i + 1] <= '7') digits += t[++i];
          out.push(parseInt(digits, 8) & 0xff);
        } else if (e === '\r') {
          if (t[i + 1] === '\n') i++; // backslash + end of line: the string continues
        } else if (e !== '\n') out.push(e.charCodeAt(0));
      } else if (c === '(') {
        depth++;
        out.push(0x28);
      } else if (c === ')') {
        if (depth === 0) break;
        depth--;
        out.push(0x29);
      } else if (c === '\r') {
        // An unescaped end of line in a string reads as a single newline.
        if (t[i + 1] === '\n') i++;
        out.push(10);
      } else out.push(c.charCodeAt(0));
    }
    this.position = i + 1;
    return { type: 'string', bytes: Uint8Array.from(out) };
  }

  /** A <hex string>: whitespace ignored, an odd last digit padded with 0. */
  private hex(): Token {
    const end = this.text.indexOf('>', this.position);
    const stop = end < 0 ? this.text.length : end;
    let digits = this.text.slice(this.position + 1, stop).replace(/[\0\t\n\f\r ]/g, '');
    this.position = stop + 1;
    if (!/^[0-9a-fA-F]*$/.test(digits)) return { type: 'word', text: '' };
    if (digits.length % 2) digits += '0';
    return { type: 'string', bytes: Uint8Array.from(Buffer.from(digits, 'hex')) };
  }
}

/** Names may spell bytes as #xx. */
function decodeName(raw: string): string {
  return raw.replace(/#([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/**
 * PDF text strings are UTF-16BE with a byte order mark, UTF-8 with one (PDF 2.0), or
 * PDFDocEncoding: Latin-1 except for the typographic characters in 0x18–0x1F and 0x80–0xA0.
 */
export function decodeTextString(bytes: Uint8Array): string {
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) {
    let s = '';
    for (let i = 2; i + 1 < bytes.length; i += 2) s += String.fromCharCode((bytes[i] << 8) | bytes[i + 1]);
    return s;
  }
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    return new TextDecoder('utf-8').decode(bytes.subarray(3));
  }
  let s = '';
  for (const b of bytes) s += String.fromCharCode(PDF_DOC_ENCODING[b] ?? b);
  return s;
}

// PDFDocEncoding's departures from Latin-1 (PDF 32000-1, Annex D). 0x9F is undefined and
// 0xAD is undefined too; both are left as their Latin-1 code points.
const PDF_DOC_ENCODING: Record<number, number> = {
  0x18: 0x02d8, 0x19: 0x02c7, 0x1a: 0x02c6, 0x1b: 0x02d9, 0x1c: 0x02dd, 0x1d: 0x02db, 0x1e: 0x02da, 0x1f: 0x02dc,
  0x80: 0x2022, 0x81: 0x2020, 0x82: 0x2021, 0x83: 0x2026, 0x84: 0x2014, 0x85: 0x2013, 0x86: 0x0192, 0x87: 0x2044,
  0x88: 0x2039, 0x89: 0x203a, 0x8a: 0x2212, 0x8b: 0x2030, 0x8c: 0x201e, 0x8d: 0x201c, 0x8e: 0x201d, 0x8f: 0x2018,
  0x90: 0x2019, 0x91: 0x201a, 0x92: 0x2122, 0x93: 0xfb01, 0x94: 0xfb02, 0x95: 0x0141, 0x96: 0x0152, 0x97: 0x0160,
  0x98: 0x0178, 0x99: 0x017d, 0x9a: 0x0131, 0x9b: 0x0142, 0x9c: 0x0153, 0x9d: 0x0161, 0x9e: 0x017e, 0xa0: 0x20ac,
};
