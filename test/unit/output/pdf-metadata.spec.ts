import { test, expect } from '@playwright/test';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import * as pdfjs from 'pdfjs-dist/legacy/build/pdf.mjs';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withMetadata, type PdfMetadata } from '../../../src/output/pdf-metadata.js';

/** The whole output of withMetadata over `input` cut into `chunkSize` pieces (as Chromium's stream is). */
async function applyMetadata(input: Uint8Array, meta: PdfMetadata, chunkSize = 1 << 20): Promise<Uint8Array> {
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < input.length; i += chunkSize) yield input.subarray(i, i + chunkSize);
  }
  const parts: Uint8Array[] = [];
  for await (const part of withMetadata(chunks(), meta)) parts.push(part);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

const CREATED = new Date('2026-01-02T03:04:05Z');

// Stands in for Chrome's output: two pages of text and Chrome-style Title/Producer/Creator.
async function chromeLikePdf(): Promise<Uint8Array> {
  const doc = await PDFDocument.create({ updateMetadata: false });
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (const text of ['First page', 'Second page']) {
    doc.addPage([595, 842]).drawText(text, { x: 50, y: 780, size: 12, font });
  }
  doc.setTitle('Original Title');
  doc.setProducer('Skia/PDF m156');
  doc.setCreator('HeadlessChrome');
  doc.setCreationDate(CREATED);
  return doc.save({ useObjectStreams: false });
}

interface ReadBack {
  info: Record<string, unknown>;
  pages: string[];
}

async function readBack(pdf: Uint8Array): Promise<ReadBack> {
  // pdfjs takes ownership of the buffer it is given, so hand it a copy.
  const doc = await pdfjs.getDocument({ data: new Uint8Array(pdf), verbosity: 0 }).promise;
  try {
    const { info } = await doc.getMetadata();
    const pages: string[] = [];
    for (let i = 1; i <= doc.numPages; i++) {
      const content = await (await doc.getPage(i)).getTextContent();
      pages.push(content.items.map((item) => ('str' in item ? item.str : '')).join(''));
    }
    return { info: info as Record<string, unknown>, pages };
  } finally {
    await doc.destroy();
  }
}

test('sets Author, Subject and Keywords; keeps Title, Producer, Creator, CreationDate and the pages', async () => {
  const input = await chromeLikePdf();
  const output = await applyMetadata(input, {
    author: 'Ada Lovelace',
    subject: 'A page that describes itself',
    keywords: 'invoice, pdf, metadata',
  });
  expect(output).not.toBe(input);
  const { info, pages } = await readBack(output);
  expect(info).toMatchObject({
    Title: 'Original Title',
    Author: 'Ada Lovelace',
    Subject: 'A page that describes itself',
    Keywords: 'invoice, pdf, metadata',
    Producer: 'Skia/PDF m156',
    Creator: 'HeadlessChrome',
  });
  expect(info.CreationDate).toBe((await readBack(input)).info.CreationDate);
  expect(pages).toEqual(['First page', 'Second page']);
});

test('sets the Title when given, and round-trips non-ASCII text', async () => {
  const output = await applyMetadata(await chromeLikePdf(), {
    title: 'Faktura č. 42 – Zażółć',
    author: 'Łukasz Żółw 🐢',
  });
  const { info } = await readBack(output);
  expect(info.Title).toBe('Faktura č. 42 – Zażółć');
  expect(info.Author).toBe('Łukasz Żółw 🐢');
});

test('the original bytes are kept and an incremental update appended; pdf-lib and poppler read it without complaint', async () => {
  const input = await chromeLikePdf();
  // Small chunks: the Info dictionary and the trailer each arrive split across chunks.
  const output = await applyMetadata(input, { subject: 'S (with) \\ parens' }, 97);
  expect(Buffer.from(output.subarray(0, input.length)).equals(Buffer.from(input))).toBe(true);
  const update = Buffer.from(output.subarray(input.length)).toString('latin1');
  expect(update).toMatch(/\/Prev \d+/);
  expect(update).not.toContain('/ObjStm');
  const doc = await PDFDocument.load(output, { updateMetadata: false });
  expect(doc.getSubject()).toBe('S (with) \\ parens');
  expect(doc.getTitle()).toBe('Original Title');
  expect(doc.getPageCount()).toBe(2);
  const file = join(mkdtempSync(join(tmpdir(), 'pdf-metadata-')), 'out.pdf');
  writeFileSync(file, output);
  // pdfinfo reports a broken xref or trailer on stderr (and recovers): none may appear.
  const result = execFileSync('pdfinfo', [file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  expect(result).toMatch(/^Subject:\s+S \(with\) \\ parens$/m);
  expect(result).toMatch(/^Pages:\s+2$/m);
  const stderr = execFileSync('sh', ['-c', `pdfinfo '${file}' 2>&1 >/dev/null`], { encoding: 'utf8' });
  expect(stderr).toBe('');
});

test('a file without a classic trailer at its end passes through unchanged', async () => {
  const garbage = new TextEncoder().encode('%PDF-1.4\nnot really a pdf\n');
  const output = await applyMetadata(garbage, { author: 'A' });
  expect(Buffer.from(output).equals(Buffer.from(garbage))).toBe(true);
});

test('control characters are flattened and blank values are ignored', async () => {
  const output = await applyMetadata(await chromeLikePdf(), { author: 'Ada\r\nLovelace', keywords: '   ' });
  const { info } = await readBack(output);
  expect(info.Author).toBe('Ada Lovelace');
  expect(info.Keywords).toBeUndefined();
});

test('nothing to set: the very same bytes', async () => {
  const input = await chromeLikePdf();
  for (const meta of [{}, { author: '  ', subject: '', keywords: undefined }]) {
    const output = await applyMetadata(input, meta);
    expect(Buffer.from(output).equals(Buffer.from(input))).toBe(true);
  }
});
