/**
 * The cold-start reference: a bare node process that launches the same Chromium with the same
 * flags and prints the same page, nothing else. It reports `PDF <bytes>` on stdout the moment
 * the PDF is in hand (that is "delivered"), then closes Chromium and exits.
 *
 * argv: [spec JSON, page URL]
 */
import { launch, parseSpec } from './launch.js';
import { looksLikeWholePdf } from './pages.js';

const spec = parseSpec(process.argv[2]);
const url = process.argv[3];
if (!url) throw new Error('usage: bare-print <spec> <url>');

const browser = await launch(spec);
try {
  const page = await browser.newPage();
  await page.goto(url, { waitUntil: 'load', timeout: 30_000 });
  const pdf = await page.pdf(spec.pdf);
  if (!looksLikeWholePdf(pdf)) throw new Error('incomplete PDF');
  process.stdout.write(`PDF ${pdf.byteLength}\n`);
} finally {
  await browser.close();
}
