import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { MainApp } from '../../fixtures/main-app/index.js';
import { cleanEnv, run, type Running } from './child.js';
import { firstPdf } from './http.js';
import { freePort } from '../../fixtures/listen.js';
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
export async function startSystems(
  mainApp: MainApp,
  applianceEnv: Record<string, string>,
  spec: ChromeSpec,
): Promise<Systems> {
  progress('starting the baseline, the appliance and the load generator');
  const ipc = { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] as ['ignore', 'inherit', 'inherit', 'ipc'] };
  const baseline = forkTracked(join(BENCH_DIST, 'baseline.js'), [JSON.stringify(spec), mainApp.url], ipc);
  const baselineReady = ready<Systems['baselineInfo']>(baseline, 60_000);
  const load = forkTracked(join(BENCH_DIST, 'load.js'), [], ipc);
  const loadReady = ready(load, 30_000);
  const started = startAppliance(applianceEnv);
  const [baselineInfo, , appliance] = await Promise.all([baselineReady, loadReady, started]);
  return { main: mainApp, appliance: appliance.running, applianceUrl: appliance.url, baseline, baselineInfo, load };
}

/** An appliance process (`node dist/src/main.js`), ready once it delivered a whole PDF. */
export async function startAppliance(env: Record<string, string>): Promise<{ running: Running; url: string }> {
  const port = await freePort();
  const running = run(process.execPath, [join(ROOT, 'dist/src/main.js')], {
    cwd: ROOT,
    env: cleanEnv({ ...env, PORT: String(port) }),
  });
  const url = `http://127.0.0.1:${port}`;
  await firstPdf(appliancePdfUrl(url, PAGES.invoice), running.gone);
  return { running, url };
}

export async function stopSystems(sys: Systems): Promise<void> {
  // The baseline closes its Chromium itself when asked; the rest is signalled.
  await call(sys.baseline, { kind: 'stop' }, 20_000).catch(() => undefined);
  await Promise.all([sys.appliance.stop(), killAll()]);
}
