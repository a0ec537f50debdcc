/**
 * Resume → first PDF delivered, for IDLE_ACTION=suspend. The appliance runs as a real process
 * with a stand-in Machines API in this runner: on the suspend call it answers 200 and, 100 ms
 * later, stops the appliance's whole process tree (SIGSTOP, Chromium included), as a Fly suspend
 * freezes the VM. After a pause the tree is continued (SIGCONT) and the request that "woke" it
 * is timed to its last PDF byte. What a real resume adds on top (the platform restoring the
 * VM, a few hundred ms by Fly's account) is not the appliance's and not measured here.
 */
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { cleanEnv, run } from './child.js';
import { fetchPdf, firstPdf } from './http.js';
import { freePort, listen } from '../../fixtures/listen.js';
import { appliancePdfUrl, PAGES } from './pages.js';
import { progress, ROOT } from './paths.js';
import { descendants } from './procs.js';
import type { Resume } from './results.js';
import { median, round } from './stats.js';

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
        signalTree(appPid, 'SIGSTOP');
        suspended();
      }, 100);
    });
    req.resume();
  });
  const { url: apiUrl } = await listen(api);
  const port = await freePort();
  const env = cleanEnv({
    ...applianceEnv,
    PORT: String(port),
    IDLE_TIMEOUT: IDLE,
    IDLE_ACTION: 'suspend',
    MACHINES_API_URL: apiUrl,
    FLY_APP_NAME: 'bench-pdf',
    FLY_MACHINE_ID: 'bench-1',
    FLY_API_TOKEN: 'bench-token',
  });
  const proc = run(process.execPath, [join(ROOT, 'dist/src/main.js')], { cwd: ROOT, env });
  appPid = proc.pid;
  const url = appliancePdfUrl(`http://127.0.0.1:${port}`, PAGES.invoice);
  const runs: number[] = [];
  try {
    await firstPdf(url, proc.gone);
    for (let i = 0; i < reps; i++) {
      await new Promise<void>((resolve, reject) => {
        suspended = resolve;
        proc.gone.catch(reject);
      });
      await new Promise((r) => setTimeout(r, FROZEN_MS));
      signalTree(appPid, 'SIGCONT');
      const t0 = performance.now();
      await fetchPdf(url);
      runs.push(round(performance.now() - t0));
      progress(`resume ${i + 1}/${reps}: ${Math.round(runs.at(-1)!)} ms to the PDF`);
    }
  } finally {
    signalTree(appPid, 'SIGCONT');
    await proc.stop();
    api.close();
  }
  return { runs, medianMs: round(median(runs)), suspendCalls: calls };
}
