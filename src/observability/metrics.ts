import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';

// prom-client's index also loads its default-metrics collectors, @opentelemetry/api, the
// push gateway and the cluster aggregator: about 60 ms of CPU, 90 % of its import, on the path
// of every cold start (measured: process start → first PDF 1.24× → 1.14× a bare launch-and-print
// without it). The four classes the appliance's own metrics need are loaded from their files
// (8 ms); the default metrics come with the first scrape (scrape() below).
const load = createRequire(import.meta.url);
const Counter = load('prom-client/lib/counter.js') as typeof Prom.Counter;
const Gauge = load('prom-client/lib/gauge.js') as typeof Prom.Gauge;
const Histogram = load('prom-client/lib/histogram.js') as typeof Prom.Histogram;
const Registry = load('prom-client/lib/registry.js') as typeof Prom.Registry;

const PREFIX = 'pdf_appliance_';

/**
 * Prometheus metrics. They observe; nothing in the appliance reads them to decide anything.
 * Served on METRICS_PORT, apart from the public port, and scraping never counts as activity.
 */
export function createMetrics() {
  const registry = new Registry();
  // The gauges of "now" read the limiter when scraped, so they are exact at scrape time
  // whatever order requests start and finish in.
  const live: { counts: (() => RenderCounts) | null } = { counts: null };
  /** Node's standard process metrics, registered on the first scrape. */
  let defaults: Promise<void> | null = null;
  return {
    registry,
    ...requestMetrics(registry, live),
    ...browserMetrics(registry),
    ...pageMetrics(registry),
    /** Lets the in-flight and queue-depth gauges read the limiter at scrape time. */
    track(source: () => RenderCounts): void {
      live.counts = source;
    },
    /** The exposition, Node's process metrics included (their collectors start with the first scrape). */
    async scrape(): Promise<string> {
      defaults ??= import('prom-client').then((p) => p.collectDefaultMetrics({ register: registry, prefix: PREFIX }));
      await defaults;
      return registry.metrics();
    },
  };
}

const DURATIONS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Requests: outcomes, waits, durations, sizes, and what is running and waiting now. */
function requestMetrics(registry: Prom.Registry, live: { counts: (() => RenderCounts) | null }) {
  const registers = [registry];
  return {
    renders: new Counter({
      name: 'pdf_appliance_renders_total',
      help: 'Finished render requests by outcome (the format delivered: pdf, png, jpeg, webp; or redirect, upstream, error...) and HTTP status',
      labelNames: ['outcome', 'status'] as const,
      registers,
    }),
    queueWait: new Histogram({
      name: 'pdf_appliance_queue_wait_seconds',
      help: 'Time waiting for a render slot',
      buckets: DURATIONS,
      registers,
    }),
    navigation: new Histogram({
      name: 'pdf_appliance_navigation_seconds',
      help: 'Time from navigation start until the page was ready to print or capture',
      buckets: DURATIONS,
      registers,
    }),
    print: new Histogram({
      name: 'pdf_appliance_print_seconds',
      help: 'Time spent producing the output: printing the PDF (and any PDF/A conversion) or capturing the image',
      buckets: DURATIONS,
      registers,
    }),
    render: new Histogram({
      name: 'pdf_appliance_request_seconds',
      help: 'Whole render request duration, delivery included',
      buckets: DURATIONS,
      registers,
    }),
    inFlight: new Gauge({
      name: 'pdf_appliance_renders_in_flight',
      help: 'Renders holding a slot now',
      registers,
      collect() {
        if (live.counts) this.set(live.counts().running);
      },
    }),
    queueDepth: new Gauge({
      name: 'pdf_appliance_queue_depth',
      help: 'Requests waiting for a slot now',
      registers,
      collect() {
        if (live.counts) this.set(live.counts().queued);
      },
    }),
    outputBytes: new Histogram({
      name: 'pdf_appliance_output_bytes',
      help: 'Size of delivered documents and images, by format (pdf, png, jpeg, webp)',
      labelNames: ['format'] as const,
      buckets: [10e3, 50e3, 100e3, 250e3, 500e3, 1e6, 5e6, 20e6, 100e6],
      registers,
    }),
    overflow: new Counter({
      name: 'pdf_appliance_overflow_total',
      help: 'Requests refused because slots and queue were full, by answer (replay or 503)',
      labelNames: ['answer'] as const,
      registers,
    }),
    idleExits: new Counter({
      name: 'pdf_appliance_idle_exits_total',
      help: 'Exits after IDLE_TIMEOUT with nothing in flight',
      registers,
    }),
    idleSuspends: new Counter({
      name: 'pdf_appliance_idle_suspends_total',
      help: 'Suspends asked of the Machines API after IDLE_TIMEOUT (IDLE_ACTION=suspend)',
      registers,
    }),
    resumes: new Counter({
      name: 'pdf_appliance_resumes_total',
      help: 'Resumes after a suspend, by what showed it (request: the waking request; clock-gap: the process had not run for a while)',
      labelNames: ['how'] as const,
      registers,
    }),
  };
}

/** Chromium and its workspaces: launches, crashes, contexts, memory. */
function browserMetrics(registry: Prom.Registry) {
  const registers = [registry];
  return {
    browserLaunches: new Counter({
      name: 'pdf_appliance_browser_launches_total',
      help: 'Chromium launches (first, relaunch after crash, recycle)',
      registers,
    }),
    browserCrashes: new Counter({
      name: 'pdf_appliance_browser_crashes_total',
      help: 'Unexpected Chromium disconnections',
      registers,
    }),
    browserRecycles: new Counter({
      name: 'pdf_appliance_browser_recycles_total',
      help: 'Planned browser replacements after MAX_RENDERS_PER_BROWSER',
      registers,
    }),
    pageCrashes: new Counter({
      name: 'pdf_appliance_page_crashes_total',
      help: 'Renderer crashes (e.g. out of memory) that failed one request',
      registers,
    }),
    workspaces: new Counter({
      name: 'pdf_appliance_workspaces_total',
      help: "Workspaces handed to renders, by how (hot: the same identity's own, settled; spare: opened ahead, never used; opened: opened for this render)",
      labelNames: ['how'] as const,
      registers,
    }),
    workspaceRetirements: new Counter({
      name: 'pdf_appliance_workspace_retirements_total',
      help: 'Workspaces disposed (a render that did not end cleanly, anonymous, idle, room for another user, age)',
      registers,
    }),
    memoryKills: new Counter({
      name: 'pdf_appliance_memory_kills_total',
      help: 'Renderer processes stopped for memory, by budget (render-budget: RENDER_MEMORY_MB; tree-budget: the machine)',
      labelNames: ['reason'] as const,
      registers,
    }),
  };
}

/** What pages did: refused requests, the asset cache. */
function pageMetrics(registry: Prom.Registry) {
  const registers = [registry];
  return {
    blockedRequests: new Counter({
      name: 'pdf_appliance_blocked_requests_total',
      help: 'Sub-requests of rendered pages refused by the SSRF guard',
      labelNames: ['reason'] as const,
      registers,
    }),
    assetCache: new Counter({
      name: 'pdf_appliance_asset_cache_total',
      help: 'Sub-resource lookups in the shared asset cache by outcome',
      labelNames: ['outcome'] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Renders running and waiting now (the limiter's counts), read at each scrape. */
export interface RenderCounts {
  running: number;
  queued: number;
}
