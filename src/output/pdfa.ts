// Converts a PDF printed by Chromium into PDF/A-2b or PDF/A-3b with Ghostscript's pdfwrite.
// Ghostscript runs as a separate program (no shell, arguments as an array, -dSAFER, an empty
// environment) in a private temporary directory that is removed whatever happens.
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCompletePdf, readDocInfo, type DocInfoText } from './pdf-docinfo.js';
import {
  cleanDocInfo,
  docInfoPostScript,
  IMAGE_QUALITY_POSTSCRIPT,
  outputIntentPostScript,
} from './pdfa-postscript.js';
import { pdfAPart, type PdfStandard } from './pdfa-standard.js';
import {
  ghostscriptVersion,
  PdfAError,
  resolveGhostscript,
  resolveProfile,
  usesLegacyInterpreter,
} from './pdfa-support.js';
import { checkAndRepairXmp } from './pdfa-xmp.js';

export type { PdfStandard } from './pdfa-standard.js';
export { checkPdfASupport, findGhostscript, PdfAError } from './pdfa-support.js';

export interface PdfAOptions {
  /** Aborting kills Ghostscript at once; the call then rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Ghostscript executable; default: `gs` on PATH. */
  gsPath?: string;
  /** sRGB ICC profile for the OutputIntent; default: the one Ghostscript ships. */
  iccProfile?: string;
  /** Parent of the private working directory; default: the OS temp directory. */
  tmpDir?: string;
  /** Document title; default: the input's Info /Title (Chromium writes the page's <title>). */
  title?: string;
}

/** Ghostscript's output kept for the log: the end is where the reason for a failure is. */
const DETAIL_BYTES = 8 * 1024;

/** The converted document: a file in a private directory, until dispose() removes both. */
export interface PdfAFile {
  path: string;
  size: number;
  open(): Readable;
  dispose(): Promise<void>;
}

/**
 * `input` (a complete PDF, whole or as it streams) as PDF/A. Files, not pipes, carry the
 * document to and from Ghostscript (it needs random access to a PDF), so neither the input
 * nor the result is ever held whole in memory. On failure nothing is left behind.
 */
export async function convertToPdfA(
  input: AsyncIterable<Uint8Array> | Uint8Array,
  standard: PdfStandard,
  opts: PdfAOptions = {},
): Promise<PdfAFile> {
  opts.signal?.throwIfAborted();
  // mkdtemp creates the directory 0700: other users on the machine cannot read the document.
  const dir = await mkdtemp(join(opts.tmpDir ?? tmpdir(), 'pdfa-'));
  const dispose = () => rm(dir, { recursive: true, force: true });
  try {
    const inputPath = join(dir, 'input.pdf');
    const outputPath = join(dir, 'output.pdf');
    const source = input instanceof Uint8Array ? [input] : input;
    await pipeline(Readable.from(source, { objectMode: false }), createWriteStream(inputPath, { mode: 0o600 }), {
      signal: opts.signal,
    });
    await convert(inputPath, outputPath, dir, standard, opts);
    await rm(inputPath);
    const { size } = await stat(outputPath);
    return { path: outputPath, size, open: () => createReadStream(outputPath), dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

async function convert(
  inputPath: string,
  outputPath: string,
  workDir: string,
  standard: PdfStandard,
  opts: PdfAOptions,
): Promise<void> {
  const gs = resolveGhostscript(opts.gsPath);
  const icc = resolveProfile(opts.iccProfile);
  const found = await inspectInput(inputPath);
  if (opts.title !== undefined && opts.title.trim() !== '') found.title = opts.title;
  const info = cleanDocInfo(found);

  const legacy = usesLegacyInterpreter(await ghostscriptVersion(gs));

  const part = pdfAPart(standard);
  const args = ghostscriptArgs({ part, icc, inputPath, outputPath, info, legacy });
  opts.signal?.throwIfAborted();
  const { code, signal, detail } = await run(gs, args, workDir, opts.signal);
  if (opts.signal?.aborted) throw opts.signal.reason;
  if (code !== 0) {
    const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
    throw new PdfAError(`Ghostscript could not convert the document to ${standard}: it ${how}`, 'failed', detail);
  }
  // pdfwrite gives up PDF/A for some documents and still succeeds: a .notdef glyph (a
  // character no installed font has) makes Ghostscript 10.0 "revert to normal PDF output"
  // whatever the compatibility policy. The XMP identification it writes only for PDF/A tells.
  const xmp = await checkAndRepairXmp(outputPath, part, info);
  if (xmp === 'no-pdfa-identification') {
    throw new PdfAError(
      `Ghostscript could not make the document ${standard}: its output is not PDF/A`,
      'not-conformant',
      detail,
    );
  }
  if (xmp === 'info-mismatch') {
    throw new PdfAError(
      `Ghostscript could not make the document ${standard}: its XMP metadata does not match the document info`,
      'not-conformant',
      detail,
    );
  }
}

async function inspectInput(inputPath: string): Promise<DocInfoText> {
  const file = await open(inputPath, 'r');
  try {
    const { size } = await file.stat();
    if (!(await isCompletePdf(file, size))) throw new PdfAError('The input is not a complete PDF', 'not-a-pdf');
    return await readDocInfo(file, size);
  } finally {
    await file.close();
  }
}

interface ArgsInput {
  part: 2 | 3;
  icc: string;
  inputPath: string;
  outputPath: string;
  info: DocInfoText;
  legacy: boolean;
}

/** The command line, each choice with its reason. */
function ghostscriptArgs({ part, icc, inputPath, outputPath, info, legacy }: ArgsInput): string[] {
  const docInfo = docInfoPostScript(info);
  return [
    // Files only where we allow them (input, output, profile); no %pipe%, no deleting or
    // renaming. The default since 9.50, stated because the input is web content.
    '-dSAFER',
    // Exit after the input instead of waiting at a prompt; no pause between pages.
    '-dBATCH',
    '-dNOPAUSE',
    // No banner or per-page progress: what is left on stdout/stderr is warnings and errors.
    '-dQUIET',
    // Ghostscript 10.0's default PDF interpreter corrupts the text layer (see usesLegacyInterpreter).
    ...(legacy ? ['-dNEWPDF=false'] : []),
    // A damaged PDF is an error, not something to "repair" into a page with missing content.
    // (Honoured by the legacy interpreter; 10.0's pdfi repairs regardless, hence the
    // %%EOF check before Ghostscript runs.)
    '-dPDFSTOPONERROR',
    '-sDEVICE=pdfwrite',
    `-dPDFA=${part}`,
    // 1: leave out what PDF/A forbids and carry on. 0 would write a file that claims PDF/A
    // and is not; 2 fails on harmless things (Chromium's Creator string has parentheses,
    // which Ghostscript 10.0 cannot put in XMP) and does not even set the exit code.
    '-dPDFACompatibilityPolicy=1',
    // Every colour as DeviceRGB, which the sRGB OutputIntent covers (ISO 19005-2, 6.2.4.3).
    '-sColorConversionStrategy=RGB',
    // Keep Chromium's page orientation: by default pdfwrite turns pages whose text mostly
    // runs vertically.
    '-dAutoRotatePages=/None',
    // Under SAFER the PostScript below may only open the profile because of this.
    `--permit-file-read=${icc}`,
    // '%' would start a page-number template in the output name ("%d").
    `-sOutputFile=${outputPath.replaceAll('%', '%%')}`,
    '-c',
    `${IMAGE_QUALITY_POSTSCRIPT}\n${outputIntentPostScript(icc)}`,
    // -f ends the PostScript and names the input; an absolute path cannot be read as a
    // %device% name.
    '-f',
    inputPath,
    ...(docInfo ? ['-c', docInfo] : []),
  ];
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  detail: string;
}

function run(gs: string, args: string[], cwd: string, abort: AbortSignal | undefined): Promise<Outcome> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(gs, args, {
      cwd,
      // Nothing of ours: GS_OPTIONS could add -dNOSAFER, GS_LIB change what it loads.
      // TMPDIR keeps its scratch files in the private directory that is removed afterwards.
      env: { TMPDIR: cwd },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let detail = '';
    const keep = (chunk: Buffer) => {
      detail = (detail + chunk.toString('utf8')).slice(-DETAIL_BYTES);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    // SIGKILL: Ghostscript has nothing to save, and the work directory goes once it exits.
    const onAbort = () => child.kill('SIGKILL');
    abort?.addEventListener('abort', onAbort, { once: true });
    if (abort?.aborted) onAbort();
    child.once('error', (err: NodeJS.ErrnoException) => {
      abort?.removeEventListener('abort', onAbort);
      reject(
        new PdfAError(`Ghostscript could not be started (${err.code ?? err.message})`, 'unavailable', String(err)),
      );
    });
    // 'close', not 'exit': the output streams are drained, so `detail` is complete.
    child.once('close', (code, signal) => {
      abort?.removeEventListener('abort', onAbort);
      resolvePromise({ code, signal, detail: detail.trim() });
    });
  });
}
