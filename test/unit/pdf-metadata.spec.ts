import { test, expect } from '@playwright/test';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import * as pdfjs from 'pdfjs-dist/legacy/build/pdf.mjs';
import { applyMetadata } from '../../src/output/pdf-metadata.js';

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
  const doc = await pdfjs.getDocument({ data: pdf.slice(), verbosity: 0 }).promise;
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

test('the result can be read back by pdf-lib too and is still a classic-xref PDF', async () => {
  const output = await applyMetadata(await chromeLikePdf(), { subject: 'S' });
  const doc = await PDFDocument.load(output, { updateMetadata: false });
  expect(doc.getSubject()).toBe('S');
  expect(doc.getPageCount()).toBe(2);
  expect(Buffer.from(output).toString('latin1')).not.toContain('/ObjStm');
});

test('control characters are flattened and blank values are ignored', async () => {
  const output = await applyMetadata(await chromeLikePdf(), { author: 'Ada\r\nLovelace', keywords: '   ' });
  const { info } = await readBack(output);
  expect(info.Author).toBe('Ada Lovelace');
  expect(info.Keywords).toBeUndefined();
});

test('fast path: nothing to set returns the very same bytes without parsing', async () => {
  const input = await chromeLikePdf();
  expect(await applyMetadata(input, {})).toBe(input);
  expect(await applyMetadata(input, { author: '  ', subject: '', keywords: undefined })).toBe(input);
  // Not a PDF at all: proves no parsing happens on the fast path.
  const garbage = new TextEncoder().encode('not a pdf');
  expect(await applyMetadata(garbage, {})).toBe(garbage);
});
