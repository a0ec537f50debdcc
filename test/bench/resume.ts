/**
 * Resume → first PDF delivered, for IDLE_ACTION=suspend. The appliance runs as a real process
 * with a stand-in Machines API in this runner: on the suspend call it answers 200 and, 100 ms
 * later, stops the appliance's whole process tree (SIGSTOP, Chromium included), as a Fly suspend
 * freezes the VM. After a pause the tree is continued (SIGCONT) and the request that "woke" it
 * is timed to its last PDF byte. What a real resume adds on top (the platform restoring the
 * VM, a few hundred ms by Fly's account) is not the appliance's and not measured here.
 */
import { createServer, type Server } from 'node:http';
import type { Running } from './child.js';
import { fetchPdf } from './http.js';
import { listen } from '../../fixtures/listen.js';
import { appliancePdfUrl, PAGES } from './pages.js';
import { progress } from './paths.js';
import { descendants } from './procs.js';
import type { Resume } from './results.js';
import { median, round } from './stats.js';
import { startAppliance } from './systems.js';

const IDLE = '2s';
const FROZEN_MS = 1500;

function signalTree(root: number, sig: NodeJS.Signals): void {
  for (const pid of [root, ...descendants(root)]) {
    try {
      process.kill(pid, sig);
    } catch {
      // gone
    }
  }
}

export async function resumes(applianceEnv: Record<string, string>, reps: number): Promise<Resume> {
  let appPid = -1;
  let suspended: () => void = () => undefined;
  let calls = 0;
  const api: Server = createServer((req, res) => {
    calls++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}', () => {
      setTimeout(() => {
        // The pid is known once the appliance delivered its first PDF; it does not go idle before.
        if (appPid > 0) signalTree(appPid, 'SIGSTOP');
        suspended();
      }, 100);
    });
    req.resume();
  });
  const { url: apiUrl } = await listen(api);
  let appliance: Running | undefined;
  const runs: number[] = [];
  try {
    const { running, url: base } = await startAppliance({
      ...applianceEnv,
      IDLE_TIMEOUT: IDLE,
      IDLE_ACTION: 'suspend',
      MACHINES_API_URL: apiUrl,
      FLY_APP_NAME: 'bench-pdf',
      FLY_MACHINE_ID: 'bench-1',
      FLY_API_TOKEN: 'bench-token',
    });
    appliance = running;
    appPid = running.pid;
    const url = appliancePdfUrl(base, PAGES.invoice);
    for (let i = 0; i < reps; i++) {
      await new Promise<void>((resolve, reject) => {
        suspended = resolve;
        running.gone.catch(reject);
      });
      await new Promise((r) => setTimeout(r, FROZEN_MS));
      signalTree(appPid, 'SIGCONT');
      const t0 = performance.now();
      await fetchPdf(url);
      runs.push(round(performance.now() - t0));
      progress(`resume ${i + 1}/${reps}: ${Math.round(runs.at(-1)!)} ms to the PDF`);
    }
  } finally {
    if (appPid > 0) signalTree(appPid, 'SIGCONT');
    await appliance?.stop();
    api.close();
  }
  return { runs, medianMs: round(median(runs)), suspendCalls: calls };
}
