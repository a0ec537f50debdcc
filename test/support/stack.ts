import { spawn, type ChildProcess } from 'node:child_process';
import { treeOf } from './pss.js';
import { Writable } from 'node:stream';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { startAppliance, type Appliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/log.js';
import { startMainApp, type MainApp, type MainAppOptions } from '../../fixtures/main-app/index.js';
import { startRecorder, type Recorder } from '../../fixtures/third-party.js';

export { freePort } from '../../fixtures/listen.js';

export const ROOT = join(import.meta.dirname, '..', '..');

/** Environment every test appliance gets: loopback only, no metrics port clash, quiet logs. */
export function baseEnv(targetUrl: string): Record<string, string> {
  return {
    TARGET_URL: targetUrl,
    PORT: '0',
    LISTEN_ADDRESS: '127.0.0.1',
    METRICS_PORT: '0',
    IDLE_TIMEOUT: '0',
    LOG_LEVEL: 'info',
  };
}

export interface InProcess {
  main: MainApp;
  recorder: Recorder;
  app: Appliance;
  url: string;
  /** Every log line the appliance wrote, raw JSON text. */
  logs: string[];
  close(): Promise<void>;
}

/** Main app + third-party recorder + appliance, all in this process, on loopback. */
export async function startStack(env: Record<string, string> = {}, mainOpts: MainAppOptions = {}): Promise<InProcess> {
  const recorder = await startRecorder();
  const main = await startMainApp({ thirdPartyOrigin: recorder.url, ...mainOpts });
  const logs: string[] = [];
  const sink = logSink(logs);
  // The recorder plays a public CDN: allow it through the SSRF guard (it is on loopback).
  const config = loadConfig({ ...baseEnv(main.url), ALLOW_ORIGINS: recorder.url, ...env });
  const log = createLogger(config.logLevel, sink);
  const app = await startAppliance({ config, log });
  // A test's deadline starts with its first request; Chromium's launch is not what it measures.
  await app.browser.ready();
  return {
    main,
    recorder,
    app,
    url: app.url,
    logs,
    async close() {
      await app.shutdown('test');
      await main.close();
      await recorder.close();
    },
  };
}

/** A stream for the appliance's logger that keeps every line it writes, for assertions. */
export function logSink(lines: string[]): Writable {
  return new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
}

export interface Spawned {
  proc: ChildProcess;
  url: string;
  lines: string[];
  exited: Promise<number | null>;
  waitForLog(pred: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** PIDs of every process below the appliance (Chromium and its children). */
  descendants(): number[];
}

/** The appliance as a real process (`node dist/src/main.js`), for lifecycle tests. */
export async function spawnAppliance(
  env: Record<string, string>,
  opts: { waitListening?: boolean } = {},
): Promise<Spawned> {
  const proc = spawn(process.execPath, [join(ROOT, 'dist/src/main.js')], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: Array<{ pred: (l: string) => boolean; resolve: (l: string) => void }> = [];
  const onLine = (l: string): void => {
    lines.push(l);
    for (const w of [...waiters])
      if (w.pred(l)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(l);
      }
  };
  let buf = '';
  const feed = (chunk: Buffer): void => {
    buf += chunk.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  };
  proc.stdout!.on('data', feed);
  proc.stderr!.on('data', feed);
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const waitForLog = (pred: (l: string) => boolean, timeoutMs = 20_000): Promise<string> => {
    const hit = lines.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`log line not seen in ${timeoutMs} ms; got:\n${lines.slice(-20).join('\n')}`)),
        timeoutMs,
      );
      waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(t);
          resolve(l);
        },
      });
    });
  };
  let url = '';
  if (opts.waitListening !== false) {
    const line = await waitForLog((l) => l.includes('"msg":"listening"'));
    url = (JSON.parse(line) as { url: string }).url;
  }
  return { proc, url, lines, exited, waitForLog, descendants: () => descendantsOf(proc.pid!) };
}

export const descendantsOf = treeOf;

/** PIDs from `pids` that still exist in any state (a zombie counts: nobody reaped it). */
export function stillAlive(pids: number[]): number[] {
  return pids.filter((p) => {
    try {
      process.kill(p, 0);
      return true;
    } catch {
      return false;
    }
  });
}

export async function get(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(url, { redirect: 'manual', ...init });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** fetch() will not send a custom Host header; node:http will. */
export function getWithHost(
  url: string,
  host: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { ...headers, host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}
