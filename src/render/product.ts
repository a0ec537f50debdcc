import type { Logger } from '../observability/log.js';
import { loggableUrl } from '../observability/log.js';
import type { Output, OutputName } from './output.js';
import type { Warning } from './page-hints.js';

/** A page made ready for its output: what names the file, and how to make the output. */
export interface Product {
  name: OutputName;
  produce(): Promise<Output>;
}

/** The page's own options that were ignored, each logged once with why. */
export function warnIgnored(log: Logger, url: string, warnings: Warning[]): void {
  for (const w of warnings)
    log.warn({ page: loggableUrl(url), option: w.option, value: w.value, reason: w.reason }, 'ignored page option');
}
