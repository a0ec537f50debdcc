// Reading what makes a PDF a PDF/A: the XMP identification, the OutputIntent and its ICC
// profile, the Info dictionary and fonts as poppler reports them.
import { expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePDFRawStream, PDFArray, PDFDict, PDFDocument, PDFName, PDFRawStream, PDFStream } from 'pdf-lib';

/** Runs a poppler tool on the bytes (given as a file: they need random access). */
export function poppler(cmd: 'pdfinfo' | 'pdffonts', pdf: Uint8Array): string {
  const dir = mkdtempSync(join(tmpdir(), 'pdfa-test-'));
  try {
    const file = join(dir, 'doc.pdf');
    writeFileSync(file, pdf);
    return execFileSync(cmd, [file], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function infoField(info: string, key: string): string | undefined {
  return new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(info)?.[1];
}

function unescapeXml(s: string): string {
  return s.replace(
    /&(lt|gt|amp|apos|quot);/g,
    (_, e: string) => ({ lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' })[e]!,
  );
}

export interface PdfAStructure {
  xmp: string;
  intentSubtype: string | undefined;
  profile: Uint8Array;
}

/** The stream under `key`, as loaded (still encoded). */
function rawStream(dict: PDFDict, key: string): PDFRawStream {
  const stream = dict.lookup(PDFName.of(key), PDFStream);
  if (!(stream instanceof PDFRawStream)) throw new Error(`${key} is not a stream read from the file`);
  return stream;
}

export async function structure(pdf: Uint8Array): Promise<PdfAStructure> {
  const doc = await PDFDocument.load(pdf, { updateMetadata: false });
  const catalog = doc.catalog;
  const metadata = rawStream(catalog, 'Metadata');
  const intents = catalog.lookup(PDFName.of('OutputIntents'), PDFArray);
  expect(intents.size()).toBe(1);
  const intent = intents.lookup(0, PDFDict);
  const profile = rawStream(intent, 'DestOutputProfile');
  return {
    xmp: Buffer.from(decodePDFRawStream(metadata).decode()).toString('utf8'),
    intentSubtype: intent.lookup(PDFName.of('S'), PDFName).asString(),
    profile: decodePDFRawStream(profile).decode(),
  };
}

/** pdfaid:part / conformance, in either XMP form (attribute or element). */
export function xmpValue(xmp: string, name: string): string | undefined {
  return new RegExp(`${name}\\s*=\\s*["']([^"']*)["']|<${name}>([^<]*)</${name}>`)
    .exec(xmp)
    ?.slice(1)
    .find((v) => v !== undefined);
}

export function xmpTitle(xmp: string): string | undefined {
  const raw = /<dc:title>\s*<rdf:Alt>\s*<rdf:li[^>]*>([^<]*)<\/rdf:li>/.exec(xmp)?.[1];
  return raw === undefined ? undefined : unescapeXml(raw);
}

/** The parts of an ICC header (ICC.1 section 7.2) and description that say "sRGB display profile". */
export function describeProfile(icc: Uint8Array) {
  const b = Buffer.from(icc);
  return {
    declaredSize: b.readUInt32BE(0),
    signature: b.toString('latin1', 36, 40),
    deviceClass: b.toString('latin1', 12, 16),
    colourSpace: b.toString('latin1', 16, 20),
    majorVersion: b[8],
    // ASCII in a version 2 'desc' tag, UTF-16BE in a version 4 'mluc' one.
    mentionsSrgb: b.includes('sRGB', 128, 'latin1') || b.includes(Buffer.from('\0s\0R\0G\0B', 'latin1'), 128),
    length: b.length,
  };
}
