import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { MainApp } from '../../fixtures/main-app/index.js';
import { cleanEnv, run, type Running } from './child.js';
import { firstPdf, freePort } from './http.js';
import type { ChromeSpec } from './launch.js';
import { appliancePdfUrl, PAGES } from './pages.js';
import { BENCH_DIST, progress, ROOT } from './paths.js';
import { forkTracked, killAll } from './procs.js';
import { call, ready } from './rpc.js';

/** The warm systems under test, side by side, and the load generator that drives them. */
export interface Systems {
  main: MainApp;
  appliance: Running;
  applianceUrl: string;
  baseline: ChildProcess;
  baselineInfo: { pid: number; version: string; renderUrl: string };
  load: ChildProcess;
}

/** Starts all three at once; ready when each answered (the appliance: its first whole PDF). */
export async function startSystems(mainApp: MainApp, applianceEnv: Record<string, string>, spec: ChromeSpec): Promise<Systems> {
  progress('starting the baseline, the appliance and the load generator');
  const ipc = { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] as ['ignore', 'inherit', 'inherit', 'ipc'] };
  const baseline = forkTracked(join(BENCH_DIST, 'baseline.js'), [JSON.stringify(spec), mainApp.url], ipc);
  const baselineReady = ready<Systems['baselineInfo']>(baseline, 60_000);
  const load = forkTracked(join(BENCH_DIST, 'load.js'), [], ipc);
  const loadReady = ready(load, 30_000);
  const port = await freePort();
  const appliance = run(process.execPath, [join(ROOT, 'dist/src/main.js')], { cwd: ROOT, env: cleanEnv({ ...applianceEnv, PORT: String(port) }) });
  const applianceUrl = `http://127.0.0.1:${port}`;
  const [baselineInfo] = await Promise.all([baselineReady, loadReady, firstPdf(appliancePdfUrl(applianceUrl, PAGES.invoice), appliance.gone)]);
  return { main: mainApp, appliance, applianceUrl, baseline, baselineInfo, load };
}

export async function stopSystems(sys: Systems): Promise<void> {
  // The baseline closes its Chromium itself when asked; the rest is signalled.
  await call(sys.baseline, { kind: 'stop' }, 20_000).catch(() => undefined);
  await Promise.all([sys.appliance.stop(), killAll()]);
}
