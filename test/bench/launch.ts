import puppeteer, { type Browser, type PDFOptions } from 'puppeteer-core';
import { isHeadlessShell } from '../../src/browser/chromium.js';

/**
 * How the baseline and the bare cold-start process launch Chromium and print. Computed once by
 * the runner from the appliance's own flags and config (see spec.ts) and handed over as JSON,
 * so these processes import nothing but puppeteer — they stay as bare as a baseline should.
 */
export interface ChromeSpec {
  executablePath: string;
  args: string[];
  pdf: PDFOptions;
  viewport: { width: number; height: number };
}

export function launch(spec: ChromeSpec): Promise<Browser> {
  return puppeteer.launch({
    executablePath: spec.executablePath,
    headless: isHeadlessShell(spec.executablePath) ? 'shell' : true,
    args: spec.args,
    pipe: true,
    defaultViewport: spec.viewport,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    timeout: 30_000,
  });
}

export function parseSpec(json: string | undefined): ChromeSpec {
  if (!json) throw new Error('missing Chrome spec argument');
  return JSON.parse(json) as ChromeSpec;
}
