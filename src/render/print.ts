import type { Workspace } from '../browser/workspace.js';
import { loggableUrl, type Logger } from '../observability/log.js';
import { withMetadata } from '../output/pdf-metadata.js';
import { fail } from '../failure.js';
import { convertToPdfA, PdfAError } from '../output/pdfa.js';
import { pageReady, type ReadySettings } from './page-ready.js';
import type { RawPageHints } from './page-hints.js';
import { planPrint, printParams, type PdfDefaults, type PrintPlan } from './print-plan.js';
import type { Output } from './output.js';
import { warnIgnored, type Product } from './product.js';

/**
 * Readies a loaded page for its PDF: the page's own print options read from its hints, the
 * waits it asks for, its media type.
 */
export async function preparePdf(
  ws: Workspace,
  hints: RawPageHints,
  settings: ReadySettings & { pdf: PdfDefaults },
  log: Logger,
  url: string,
  signal: AbortSignal,
): Promise<Product> {
  const plan = planPrint(hints, settings.pdf);
  warnIgnored(log, url, plan.warnings);
  await pageReady(ws, plan.waitFor, settings);
  if (plan.media === 'screen') await ws.emulateMedia('screen');
  return {
    name: { title: hints.title.trim() || undefined, meta: plan.filename },
    produce: () => printOutput(ws, plan, log, url, signal),
  };
}

/**
 * The page as a PDF. Chromium's PDF streams to the client as it is read from Chromium (with
 * the page's author/description/keywords appended as an incremental update), so a 1,000-page
 * report is never whole in Node's memory. An archival PDF (pdf-standard / PDF_STANDARD) goes
 * through Ghostscript, which needs the whole file: on disk, in a private directory removed once
 * the result has been delivered.
 */
async function printOutput(
  ws: Workspace,
  plan: PrintPlan,
  log: Logger,
  url: string,
  signal: AbortSignal,
): Promise<Output> {
  const { author, subject, keywords } = plan.metadata;
  // Chromium already writes the Title; only the other fields are added.
  const pdf = withMetadata(await print(ws, plan, log, url), { author, subject, keywords });
  if (!plan.standard) return { contentType: 'application/pdf', body: pdf };
  const standard = plan.standard;
  const file = await convertToPdfA(pdf, standard, { signal, title: plan.metadata.title }).catch((err: unknown) => {
    if (!(err instanceof PdfAError)) throw err;
    const problem = err.reason === 'unavailable' || err.reason === 'not-conformant' ? err.reason : 'failed';
    return fail({ kind: 'archival', standard, problem, reason: err.message }, err);
  });
  return { contentType: 'application/pdf', body: file.open(), length: file.size, dispose: file.dispose };
}

async function print(ws: Workspace, plan: PrintPlan, log: Logger, url: string): Promise<AsyncIterable<Buffer>> {
  try {
    return await ws.print(printParams(plan.pdf));
  } catch (err) {
    // A page range past the end is the page author's mistake, not the user's: print it all.
    if (plan.pdf.pageRanges && /Page range exceeds page count|page range/i.test(String(err))) {
      log.warn(
        { page: loggableUrl(url), option: 'pdf-page-ranges', value: plan.pdf.pageRanges, reason: 'exceeds page count' },
        'ignored page option',
      );
      return ws.print(printParams({ ...plan.pdf, pageRanges: undefined }));
    }
    throw err;
  }
}
