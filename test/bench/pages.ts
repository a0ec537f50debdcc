/** The three page kinds the issue benchmarks, as the fixture main app serves them. */
export interface BenchPage {
  name: 'invoice' | 'report' | 'js';
  /** Page path on the main app; the appliance gets the same path with `.pdf` before the query. */
  path: string;
  query: string;
  /** Text the printed PDF must contain to count as complete. */
  expectText: string;
  /**
   * For the baseline only: an in-page condition it waits for after `load`. The appliance has to
   * discover on its own when the page is done; the baseline is handed the answer (the cheapest
   * complete print there can be), so the JS page's cost is compared against a true floor.
   */
  readyWhen?: string;
  /** Pages the PDF must have, when fixed. */
  expectPages?: number;
}

export const PAGES: Record<BenchPage['name'], BenchPage> = {
  invoice: { name: 'invoice', path: '/t/invoice', query: '', expectText: 'Invoice #T-1', expectPages: 1 },
  report: { name: 'report', path: '/t/report', query: '?pages=30', expectText: 'End of section 30', expectPages: 30 },
  js: {
    name: 'js',
    path: '/t/js',
    query: '',
    expectText: 'Data loaded',
    readyWhen: `(function(){var e=document.getElementById('out');return !!e&&e.textContent.indexOf('Data ')===0})()`,
  },
};

export function pageUrl(origin: string, p: BenchPage): string {
  return `${origin}${p.path}${p.query}`;
}

export function appliancePdfUrl(applianceUrl: string, p: BenchPage): string {
  return `${applianceUrl}${p.path}.pdf${p.query}`;
}

export function byPath(pathAndQuery: string): BenchPage | undefined {
  return Object.values(PAGES).find((p) => `${p.path}${p.query}` === pathAndQuery);
}

/** Cheap per-response check under load: a whole PDF, not a truncated one or an HTML error. */
export function looksLikeWholePdf(body: Uint8Array): boolean {
  if (body.byteLength < 64) return false;
  const head = Buffer.from(body.subarray(0, 5)).toString('latin1');
  const tail = Buffer.from(body.subarray(Math.max(0, body.byteLength - 32))).toString('latin1');
  return head === '%PDF-' && tail.includes('%%EOF');
}
