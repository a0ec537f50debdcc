import { test, expect } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPdf } from '../support/pdf.js';
import { descendantsOf, freePort, ROOT, stillAlive } from '../support/stack.js';

// `npm run demo` as a person runs it: a real process, stopped with Ctrl-C (SIGINT).
// Runs the compiled launcher, so `npm run build` first (as for the other process tests).

interface Running {
  proc: ChildProcess;
  out: string[];
  exited: Promise<number | null>;
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

function run(args: string[], env: Record<string, string>): Running {
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  const listeners = new Set<() => void>();
  const feed = (chunk: Buffer) => {
    out.push(...chunk.toString().split('\n').filter(Boolean));
    for (const l of [...listeners]) l();
  };
  proc.stdout!.on('data', feed);
  proc.stderr!.on('data', feed);
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const waitFor = (re: RegExp, timeoutMs = 30_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        for (const line of out) {
          const m = re.exec(line);
          if (m) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve(m);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`no line matching ${re} within ${timeoutMs} ms; output:\n${out.slice(-30).join('\n')}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });
  return { proc, out, exited, waitFor };
}

let running: Running | undefined;
let dir: string | undefined;
test.afterEach(async () => {
  if (running && running.proc.exitCode === null && running.proc.signalCode === null) {
    running.proc.kill('SIGKILL');
    await running.exited;
  }
  running = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

test('the demo prints where to go, auto-starts the appliance on a PDF request, and Ctrl-C leaves no process behind', async () => {
  test.setTimeout(120_000);
  expect(existsSync(join(ROOT, 'dist/fixtures/demo.js')), 'run `npm run build` first').toBe(true);
  dir = await mkdtemp(join(tmpdir(), 'pdf-demo-cli-'));
  const [proxyPort, mainPort, appliancePort] = [await freePort(), await freePort(), await freePort()];
  running = run([join(ROOT, 'dist/fixtures/demo.js')], {
    DEMO_PORT: String(proxyPort),
    DEMO_MAIN_PORT: String(mainPort),
    DEMO_APPLIANCE_PORT: String(appliancePort),
    DEMO_IDLE_TIMEOUT: '120s',
    DEMO_APPLIANCE_LOG: join(dir, 'appliance.log'),
  });
  const base = `http://127.0.0.1:${proxyPort}`;
  await running.waitFor(new RegExp(`Open ${base}/ — sign in as alice / alice-pw`));

  const login = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'username=alice&password=alice-pw',
  });
  expect(login.status).toBe(303);
  const cookie = login.headers.getSetCookie()[0].split(';')[0];

  const pdf = await fetch(`${base}/invoices/44.pdf`, { headers: { cookie } });
  expect(pdf.status).toBe(200);
  expect(pdf.headers.get('content-type')).toBe('application/pdf');
  expect(isPdf(Buffer.from(await pdf.arrayBuffer()))).toBe(true);

  const [, pid] = await running.waitFor(/appliance started \(spawned pid (\d+)\)/);
  // The appliance and its Chromium: all of these must be gone after Ctrl-C.
  const pids = [Number(pid), ...descendantsOf(Number(pid))];
  expect(pids.length).toBeGreaterThan(1);

  running.proc.kill('SIGINT');
  expect(await running.exited).toBe(0);
  await expect.poll(() => stillAlive(pids), { timeout: 15_000 }).toEqual([]);
  // Nothing keeps listening on the demo's ports either.
  for (const port of [proxyPort, mainPort, appliancePort]) {
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  }
});

test('without Chromium the launcher stops with one line saying how to install it', async () => {
  const r = run([join(ROOT, 'fixtures/demo-bootstrap.mjs')], { CHROME_PATH: '/nonexistent/chromium' });
  expect(await r.exited).toBe(1);
  expect(r.out.join('\n')).toContain('Chromium not found at /nonexistent/chromium (CHROME_PATH); install it with:');
  expect(r.out.join('\n')).toContain('apt-get update && apt-get install -y chromium-headless-shell fonts-liberation');
});
