import { test, expect } from '@playwright/test';
import { freePort, get, startStack, type InProcess } from '../support/stack.js';

/** One family of the Prometheus text exposition format (version 0.0.4). */
interface Family {
  name: string;
  type: string;
  help: string;
  samples: Array<{ name: string; labels: Record<string, string>; value: number }>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,\s*|$)/;
const SUFFIXES: Record<string, string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['_sum', '_count', ''],
  counter: [''],
  gauge: [''],
  untyped: [''],
};

/** A strict parser: throws on anything the format does not allow, so a test can rely on it. */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const familyOf = (sample: string): Family | undefined => {
    for (const f of families.values()) {
      if ((SUFFIXES[f.type] ?? ['']).some((s) => sample === f.name + s)) return f;
    }
    return undefined;
  };
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`bad metric name: ${line}`);
      const f = families.get(name) ?? { name, type: 'untyped', help: '', samples: [] };
      if (kind === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest))
          throw new Error(`bad type: ${line}`);
        if (f.samples.length > 0) throw new Error(`TYPE after samples: ${line}`);
        f.type = rest;
      } else {
        f.help = rest;
      }
      families.set(name, f);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const [, name, , labelText = '', raw] = m as unknown as [string, string, string, string | undefined, string];
    const labels: Record<string, string> = {};
    let rest = labelText;
    while (rest.length > 0) {
      const l = LABEL.exec(rest);
      if (!l) throw new Error(`bad labels: ${line}`);
      labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      rest = rest.slice(l[0].length);
    }
    const value = parseValue(raw);
    if (value === null) throw new Error(`bad value: ${line}`);
    const f = familyOf(name);
    if (!f) throw new Error(`sample without TYPE: ${line}`);
    f.samples.push({ name, labels, value });
  }
  return families;
}

/** Values are read with Go's ParseFloat: NaN and Inf in any case (prom-client writes "Nan"). */
function parseValue(raw: string): number | null {
  if (/^nan$/i.test(raw)) return NaN;
  const inf = /^([+-]?)inf(inity)?$/i.exec(raw);
  if (inf) return inf[1] === '-' ? -Infinity : Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw)) return null;
  return Number(raw);
}

function value(f: Map<string, Family>, sample: string, labels: Record<string, string> = {}): number {
  const name = sample.replace(/_(bucket|sum|count)$/, '');
  const fam = f.get(name) ?? f.get(sample);
  const hits = (fam?.samples ?? []).filter(
    (s) => s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return hits.reduce((sum, s) => sum + s.value, 0);
}

test.describe('metrics on METRICS_PORT', () => {
  test.describe.configure({ timeout: 90_000 });
  let s: InProcess;
  let metricsUrl: string;
  test.beforeAll(async () => {
    s = await startStack({
      METRICS_PORT: String(await freePort()),
      CONCURRENCY: '1',
      QUEUE_SIZE: '2',
      RENDER_TIMEOUT: '15s',
    });
    expect(s.app.metricsUrl).not.toBeNull();
    metricsUrl = s.app.metricsUrl!;
  });
  test.afterAll(async () => {
    await s?.close();
  });

  const scrape = async () => {
    const r = await get(metricsUrl);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parseExposition(r.body.toString());
  };

  test('parses as Prometheus exposition with HELP and TYPE for each core metric family', async () => {
    const f = await scrape();
    const expected: Record<string, string> = {
      pdf_appliance_renders_total: 'counter',
      pdf_appliance_queue_wait_seconds: 'histogram',
      pdf_appliance_navigation_seconds: 'histogram',
      pdf_appliance_print_seconds: 'histogram',
      pdf_appliance_request_seconds: 'histogram',
      pdf_appliance_renders_in_flight: 'gauge',
      pdf_appliance_queue_depth: 'gauge',
      pdf_appliance_browser_launches_total: 'counter',
      pdf_appliance_browser_crashes_total: 'counter',
      pdf_appliance_browser_recycles_total: 'counter',
      pdf_appliance_page_crashes_total: 'counter',
      pdf_appliance_idle_exits_total: 'counter',
      pdf_appliance_output_bytes: 'histogram',
      pdf_appliance_overflow_total: 'counter',
      pdf_appliance_process_resident_memory_bytes: 'gauge',
    };
    for (const [name, type] of Object.entries(expected)) {
      expect(f.get(name)?.type, name).toBe(type);
      expect(f.get(name)?.help.length, `${name} has HELP`).toBeGreaterThan(5);
    }
    // Histograms are complete: buckets ascending and cumulative, ending in +Inf == _count.
    const q = f.get('pdf_appliance_queue_wait_seconds')!;
    const buckets = q.samples.filter((x) => x.name.endsWith('_bucket'));
    expect(buckets.at(-1)!.labels.le).toBe('+Inf');
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    expect(buckets.at(-1)!.value).toBe(value(f, 'pdf_appliance_queue_wait_seconds_count'));
  });

  test('counters and histograms move as requests are served', async () => {
    await expect
      .poll(async () => value(await scrape(), 'pdf_appliance_browser_launches_total'), { timeout: 20_000 })
      .toBe(1);
    const before = await scrape();
    for (let i = 0; i < 3; i++) expect((await get(`${s.url}/t/invoice.pdf?i=${i}`)).status).toBe(200);
    expect((await get(`${s.url}/t/404.pdf`)).status).toBe(404);
    const after = await scrape();

    const moved = (sample: string, labels: Record<string, string> = {}) =>
      value(after, sample, labels) - value(before, sample, labels);
    expect(moved('pdf_appliance_renders_total', { outcome: 'pdf', status: '200' })).toBe(3);
    expect(moved('pdf_appliance_renders_total', { outcome: 'upstream', status: '404' })).toBe(1);
    expect(moved('pdf_appliance_queue_wait_seconds_count')).toBe(4);
    expect(moved('pdf_appliance_navigation_seconds_count')).toBe(3);
    expect(moved('pdf_appliance_print_seconds_count')).toBe(3);
    expect(moved('pdf_appliance_request_seconds_count')).toBe(4);
    expect(moved('pdf_appliance_output_bytes_count', { format: 'pdf' })).toBe(3);
    expect(moved('pdf_appliance_output_bytes_sum', { format: 'pdf' })).toBeGreaterThan(3 * 1000);
    expect(moved('pdf_appliance_print_seconds_sum')).toBeGreaterThan(0);
    expect(value(after, 'pdf_appliance_renders_in_flight')).toBe(0);
    expect(value(after, 'pdf_appliance_queue_depth')).toBe(0);
  });

  test('in-flight and queue depth gauges show the renders of the moment', async () => {
    const slow = get(`${s.url}/t/slow.pdf?ms=2500`);
    await expect.poll(() => s.app.limiter.running, { timeout: 10_000 }).toBe(1);
    const waiting = get(`${s.url}/t/invoice.pdf?waiting=1`);
    await expect.poll(() => s.app.limiter.queued, { timeout: 5000 }).toBe(1);
    const during = await scrape();
    expect(value(during, 'pdf_appliance_renders_in_flight')).toBe(1);
    expect(value(during, 'pdf_appliance_queue_depth')).toBe(1);
    expect((await slow).status).toBe(200);
    expect((await waiting).status).toBe(200);
    const after = await scrape();
    expect(value(after, 'pdf_appliance_renders_in_flight')).toBe(0);
    expect(value(after, 'pdf_appliance_queue_depth')).toBe(0);
  });

  test('scraping is not activity, and /metrics is not on the public port', async () => {
    const idleBefore = s.app.idle.idleForMs;
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) {
      await scrape();
      await new Promise((r) => setTimeout(r, 60));
    }
    // The idle clock kept running through the scrapes.
    expect(s.app.idle.idleForMs).toBeGreaterThanOrEqual(idleBefore + (Date.now() - t0) - 20);

    const other = await get(metricsUrl.replace(/\/metrics$/, '/other'));
    expect(other.status).toBe(404);
    const pub = await get(`${s.url}/metrics`);
    expect(pub.status).toBe(302);
    expect(pub.body.toString()).not.toContain('pdf_appliance_');
  });
});

test('an idle exit is counted', async () => {
  const s = await startStack({ IDLE_TIMEOUT: '1s' });
  try {
    // A fresh registry counts from 0; one idle spell makes one exit.
    const idleExits = async () =>
      (await s.app.metrics.registry.getSingleMetric('pdf_appliance_idle_exits_total')?.get())?.values[0]?.value ?? 0;
    await expect.poll(idleExits, { timeout: 15_000 }).toBe(1);
    await expect.poll(() => s.logs.some((l) => l.includes('"msg":"stopped"')), { timeout: 15_000 }).toBe(true);
  } finally {
    await s.close();
  }
});
