// The little of PDF's syntax the appliance reads and writes itself: dictionaries (to find the
// trailer and the Info dictionary of the PDFs Chromium prints) and text strings.

/** A dictionary value, with its source text (`raw`) so it can be copied into a new dictionary. */
export type PdfValue = (
  { kind: 'string'; bytes: Uint8Array } | { kind: 'ref'; num: number; gen: number } | { kind: 'other' }
) & { raw: string };

/**
 * The top level of the dictionary starting at `start` ("<<"): string values, indirect
 * references, and everything else skipped over (nested dictionaries and arrays included).
 */
export function parseDict(text: string, start: number): Map<string, PdfValue> | null {
  if (start < 0 || !text.startsWith('<<', start)) return null;
  const lexer = new Lexer(text, start + 2);
  const entries = new Map<string, PdfValue>();
  for (;;) {
    const key = lexer.next();
    if (key === null || key.type === 'end-dict') return entries;
    if (key.type !== 'name') return null;
    const from = lexer.position;
    const value = lexer.next();
    if (value === null) return null;
    const raw = (): string => text.slice(from, lexer.position).trim();
    if (value.type === 'string') {
      entries.set(key.text, { kind: 'string', bytes: value.bytes, raw: raw() });
    } else if (value.type === 'word' && /^\d+$/.test(value.text)) {
      // "12 0 R" is a reference; a lone number is not. Peek without losing a key.
      const mark = lexer.position;
      const gen = lexer.next();
      const r = lexer.next();
      if (gen?.type === 'word' && /^\d+$/.test(gen.text) && r?.type === 'word' && r.text === 'R') {
        entries.set(key.text, { kind: 'ref', num: Number(value.text), gen: Number(gen.text), raw: raw() });
      } else {
        lexer.position = mark;
        entries.set(key.text, { kind: 'other', raw: raw() });
      }
    } else if (value.type === 'begin-dict' || value.type === 'begin-array') {
      lexer.skipNested();
      entries.set(key.text, { kind: 'other', raw: raw() });
    } else {
      entries.set(key.text, { kind: 'other', raw: raw() });
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
  constructor(
    private readonly text: string,
    public position: number,
  ) {}

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
  0x18: 0x02d8,
  0x19: 0x02c7,
  0x1a: 0x02c6,
  0x1b: 0x02d9,
  0x1c: 0x02dd,
  0x1d: 0x02db,
  0x1e: 0x02da,
  0x1f: 0x02dc,
  0x80: 0x2022,
  0x81: 0x2020,
  0x82: 0x2021,
  0x83: 0x2026,
  0x84: 0x2014,
  0x85: 0x2013,
  0x86: 0x0192,
  0x87: 0x2044,
  0x88: 0x2039,
  0x89: 0x203a,
  0x8a: 0x2212,
  0x8b: 0x2030,
  0x8c: 0x201e,
  0x8d: 0x201c,
  0x8e: 0x201d,
  0x8f: 0x2018,
  0x90: 0x2019,
  0x91: 0x201a,
  0x92: 0x2122,
  0x93: 0xfb01,
  0x94: 0xfb02,
  0x95: 0x0141,
  0x96: 0x0152,
  0x97: 0x0160,
  0x98: 0x0178,
  0x99: 0x017d,
  0x9a: 0x0131,
  0x9b: 0x0142,
  0x9c: 0x0153,
  0x9d: 0x0161,
  0x9e: 0x017e,
  0xa0: 0x20ac,
};

/** A text string as PDF source: a (literal) when it is printable ASCII, else <FEFF…> UTF-16BE hex. */
export function encodeTextString(value: string): string {
  if (/^[\x20-\x7e]*$/.test(value)) return `(${value.replace(/[\\()]/g, (c) => `\\${c}`)})`;
  return `<${utf16be(value).toString('hex').toUpperCase()}>`;
}

/** A PDF text string in UTF-16BE with its byte order mark. */
export function utf16be(text: string): Buffer {
  const out = Buffer.alloc(2 + text.length * 2);
  out[0] = 0xfe;
  out[1] = 0xff;
  for (let i = 0; i < text.length; i++) out.writeUInt16BE(text.charCodeAt(i), 2 + i * 2);
  return out;
}

/**
 * The last trailer dictionary in `tail` (the end of a file) and the last startxref offset, as
 * written; null when either is missing or the dictionary does not parse.
 */
export function lastTrailer(tail: string): { trailer: Map<string, PdfValue>; startxref: string } | null {
  let startxref: string | null = null;
  for (const m of tail.matchAll(/startxref\s+(\d+)/g)) startxref = m[1] ?? null;
  const trailerAt = tail.lastIndexOf('trailer');
  if (startxref === null || trailerAt < 0) return null;
  const trailer = parseDict(tail, tail.indexOf('<<', trailerAt));
  return trailer ? { trailer, startxref } : null;
}

/**
 * The dictionary of indirect object `ref` ("num gen obj <<…>>") in `text`: right at its start
 * (only whitespace before) with `atStart`, else at its first occurrence after a line break or a
 * space. Null when the object is not there or its dictionary does not parse.
 */
export function objectDict(
  text: string,
  ref: { num: number; gen: number },
  atStart: boolean,
): Map<string, PdfValue> | null {
  const before = atStart ? '^\\s*' : '(?:^|[\\r\\n\\s])';
  const header = new RegExp(`${before}${ref.num}\\s+${ref.gen}\\s+obj\\s*`).exec(text);
  if (!header) return null;
  return parseDict(text, header.index + header[0].length);
}
