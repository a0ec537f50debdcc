// The PostScript handed to Ghostscript around the input PDF. Every value that comes from
// outside (the profile's path, the document's title) is written as a <hex string>, which has
// no escapes and no way to end early: nothing in it can become PostScript code.
import { INFO_FIELDS, type DocInfoText } from './pdf-docinfo.js';
import { utf16be } from './pdf-syntax.js';

function hexString(bytes: Uint8Array): string {
  return `<${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}>`;
}

/**
 * Before the input: the sRGB OutputIntent PDF/A requires (ISO 19005-2, 6.2.3), built with
 * pdfmarks. pdfwrite declares the PDF/A part in XMP by itself, but does not invent an output
 * intent: the profile is read from disk into a stream object (/N 3: three components), an
 * OutputIntent dictionary of subtype GTS_PDFA1 points at it, and the Catalog lists it.
 * "sRGB IEC61966-2.1" is the ICC registry's name for the characterisation the profile implements.
 */
export function outputIntentPostScript(iccPath: string): string {
  const path = hexString(Buffer.from(iccPath, 'utf8'));
  return [
    '[ /_objdef {pdfa_srgb_profile} /type /stream /OBJ pdfmark',
    '[ {pdfa_srgb_profile} << /N 3 >> /PUT pdfmark',
    `[ {pdfa_srgb_profile} ${path} (r) file /PUT pdfmark`,
    '[ /_objdef {pdfa_output_intent} /type /dict /OBJ pdfmark',
    '[ {pdfa_output_intent} << /Type /OutputIntent /S /GTS_PDFA1 /DestOutputProfile {pdfa_srgb_profile}',
    '  /OutputConditionIdentifier (sRGB IEC61966-2.1) /Info (sRGB IEC61966-2.1) /RegistryName (http://www.color.org) >> /PUT pdfmark',
    '[ {Catalog} << /OutputIntents [ {pdfa_output_intent} ] >> /PUT pdfmark',
  ].join('\n');
}

/**
 * Before the input: how re-encoded images are compressed. Converting colour to DeviceRGB
 * decodes every image Chromium tagged with an ICC profile (photos included), and pdfwrite's default
 * re-encodes photographs as JPEG at medium quality with halved chroma: measured on a 720×477
 * photo, 34 dB PSNR against the original print. These settings (quality factor 0.15, no chroma
 * subsampling, pdfwrite still choosing JPEG or Flate per image) measured 45.5 dB, at 0.8× the
 * size of Chromium's own JPEG. Lossless Flate everywhere measured 2.8× the size.
 */
export const IMAGE_QUALITY_POSTSCRIPT = (() => {
  const jpeg = '<< /QFactor 0.15 /Blend 1 /HSamples [1 1 1 1] /VSamples [1 1 1 1] >>';
  return `<< /ColorACSImageDict ${jpeg} /ColorImageDict ${jpeg} /GrayACSImageDict ${jpeg} /GrayImageDict ${jpeg} >> setdistillerparams`;
})();

// Info strings are for a viewer's properties dialog; anything longer is abuse.
const MAX_FIELD_CHARS = 2000;

/**
 * After the input: the document's Info text, put straight into pdfwrite's Info dictionary
 * (the {DocInfo} named object), from which it writes both Info and the XMP that PDF/A requires
 * to match it. The /DOCINFO route the PDF interpreter uses is no good here: in PDF/A mode
 * Ghostscript 10.0 drops any entry whose string needs an escape, i.e. every title with a
 * non-ASCII character or a parenthesis, leaving "Untitled" in XMP.
 * Takes text from cleanDocInfo; null when there is nothing to write.
 */
export function docInfoPostScript(info: DocInfoText): string | null {
  const entries: string[] = [];
  for (const [field, key] of INFO_FIELDS) {
    const value = info[field];
    if (value !== undefined) entries.push(`/${key} ${hexString(utf16be(value))}`);
  }
  return entries.length ? `[ {DocInfo} << ${entries.join(' ')} >> /PUT pdfmark` : null;
}

/** Each field through cleanText; empty ones dropped. */
export function cleanDocInfo(info: DocInfoText): DocInfoText {
  const out: DocInfoText = {};
  for (const [field] of INFO_FIELDS) {
    const value = cleanText(info[field]);
    if (value !== undefined) out[field] = value;
  }
  return out;
}

/**
 * Control characters become spaces, characters outside the Basic Multilingual Plane (emoji)
 * become U+FFFD: Ghostscript 10.0 converts the Info text to UTF-8 for XMP and, given a
 * surrogate pair, silently writes no XMP at all, which is not PDF/A.
 */
function cleanText(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value
    .replace(/[\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replace(/[\uD800-\uDFFF]/g, '\uFFFD') // lone surrogates
    .replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ')
    .trim();
  return v === '' ? undefined : v.slice(0, MAX_FIELD_CHARS);
}
