import type { CdpSession } from './cdp.js';

/**
 * Which renderer processes show a tab: its own, and those of its cross-site frames when they
 * run out of process. The memory watch needs this to hold a render (a browser context) to one
 * budget across all its processes (MemoryWatch.register).
 *
 * CDP names no process id for a target, with one exception: a trace. When tracing starts on a
 * tab's session, Chromium's first event, TracingStartedInBrowser, lists every frame of the tab
 * with the id of the process that shows it. That is Chromium's own bookkeeping, so the answer
 * is exact, not inferred. Other ways were measured and dropped:
 * - Performance.getMetrics' ProcessTime against /proc/<pid>/stat CPU time: the values agree
 *   (both count 10 ms ticks), but idle renderers share them: two of three fresh tabs matched
 *   two processes each.
 * - Runtime.getHeapUsage per target: the JS heap only, blind to array buffers and canvases,
 *   which are what pages exhaust memory with.
 * - SystemInfo.getProcessInfo: every process and its CPU time, tied to no target.
 * A lookup costs one short trace: median 17 ms in the headless shell (51 ms the first time),
 * 46 ms in full Chromium (230 ms the first), 20 in a row on a tab with a cross-site frame, this
 * 2-core machine under a load of 9-11. Chromium allows one trace at a time per browser
 * ("Tracing has already been started (possibly in another tab)"), so the lookups of one
 * browser queue behind each other. The headless shell, as launched (chromium.ts), keeps a
 * cross-site frame in its tab's process: one pid per tab there; full Chromium isolates sites.
 */

const CATEGORY = 'disabled-by-default-devtools.timeline';
/** A lookup that takes longer is abandoned (its trace ended): the browser is in trouble. */
const TRACE_TIMEOUT_MS = 5000;

interface TraceFrame {
  url?: string;
  processId?: number;
}

interface TraceEvent {
  name?: string;
  args?: { data?: { frames?: TraceFrame[] } };
}

/** One per browser: lookups through it never overlap. */
export class RendererPids {
  private tail: Promise<unknown> = Promise.resolve();

  /** The pids of the renderers showing the tab whose session this is, from Chromium itself. */
  async of(page: CdpSession): Promise<number[]> {
    return [...new Set((await this.frames(page)).map((f) => f.pid))];
  }

  /** Every frame of the tab (the top one first, as Chromium lists them) and its renderer's pid. */
  frames(page: CdpSession): Promise<FrameProcess[]> {
    const run = this.tail.then(() => traceFrames(page));
    this.tail = run.catch(() => undefined);
    return run;
  }
}

export interface FrameProcess {
  url: string;
  pid: number;
}

async function traceFrames(page: CdpSession): Promise<FrameProcess[]> {
  const events: TraceEvent[] = [];
  const onData = (e: { value: TraceEvent[] }): void => {
    events.push(...e.value);
  };
  let finish!: () => void;
  const complete = new Promise<void>((resolve) => (finish = resolve));
  const onComplete = (): void => finish();
  page.on('Tracing.dataCollected', onData);
  page.on('Tracing.tracingComplete', onComplete);
  let timer: NodeJS.Timeout | undefined;
  try {
    await page.send('Tracing.start', {
      traceConfig: { includedCategories: [CATEGORY], excludedCategories: ['*'] },
      transferMode: 'ReportEvents',
    });
    await page.send('Tracing.end');
    await Promise.race([
      complete,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`trace not complete within ${TRACE_TIMEOUT_MS} ms`)),
          TRACE_TIMEOUT_MS,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
    page.off('Tracing.dataCollected', onData);
    page.off('Tracing.tracingComplete', onComplete);
  }
  const started = events.find((e) => e.name === 'TracingStartedInBrowser');
  const frames = started?.args?.data?.frames;
  if (!frames) throw new Error('the trace named no frames');
  // A frame whose process is not running (yet) has no id: it costs no memory.
  return frames
    .filter((f) => Number.isInteger(f.processId) && f.processId! > 0)
    .map((f) => ({ url: f.url ?? '', pid: f.processId! }));
}
