/**
 * The peer a user would otherwise pick: Browserless v2 from npm, started by the shared script
 * (../shared/peers/browserless.sh beside the checkout; it installs the package into a scratch
 * folder outside the repository on first use) with the same Chromium binary as the appliance.
 * Its `/pdf` API is driven by the same load generator with the appliance's 8-user round robin
 * at the same concurrency (CONCURRENT = c, so it neither queues nor refuses), each request
 * carrying its user's cookie for the main app. It launches a browser per request.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../fixtures/listen.js';
import { readPdf } from '../support/pdf.js';
import { cleanEnv } from './child.js';
import type { ChromeSpec } from './launch.js';
import type { LoopResult } from './loops.js';
import type { BenchOptions } from './options.js';
import { looksLikeWholePdf, pageUrl, type BenchPage } from './pages.js';
import { progress } from './paths.js';
import { peerBody, type PeerRequest } from './peer-request.js';
import { samplePeak } from './pss.js';
import type { Rate } from './scenarios.js';
import { call } from './rpc.js';
import { round } from './stats.js';
import type { Systems } from './systems.js';

const run = promisify(execFile);
const TOKEN = 'bench';
const MB = 1024 * 1024;

export interface PeerRun extends Rate {
  name: string;
  /** As the script reports it when started ("browserless 2.42.0 on …"). */
  version: string;
  /** The Chromium binary it launches per request: the appliance's. */
  chrome: string;
  concurrency: number;
  identities: number;
  /** Peak PSS of its server and every Chromium below it during the window. */
  peakMB: number;
  /** One PDF of the page, read with pdfjs; text compared with the naive floor's. */
  complete: { pages: number; hasText: boolean; sameText: boolean };
  failures: Record<string, number>;
}

export type PeerResult = PeerRun | { skipped: string };

export async function measurePeer(
  sys: Systems,
  spec: ChromeSpec,
  page: BenchPage,
  shape: { concurrency: number; identities: number },
  opts: BenchOptions,
): Promise<PeerResult> {
  if ('skipped' in opts.peer) {
    progress(`peer: left out (${opts.peer.skipped})`);
    return { skipped: opts.peer.skipped };
  }
  const script = opts.peer.script;
  const dir = mkdtempSync(join(tmpdir(), 'bench-peer-'));
  const pidfile = join(dir, 'browserless.pid');
  // Our run mark goes with the environment, so the final sweep reaches its Chromiums too.
  const env = cleanEnv({ TOKEN, QUEUED: '10', TIMEOUT: '60000', BL_CHROME: spec.executablePath });
  const logTail = (): string => {
    try {
      return readFileSync(join(dir, 'browserless.log'), 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '';
    }
  };
  try {
    const port = await freePort();
    progress(`peer: starting Browserless (${script}; the first run installs it from npm)`);
    let version: string;
    try {
      const out = await run('bash', [script, 'start', String(port), String(shape.concurrency), pidfile], {
        env,
        timeout: 600_000,
      });
      version = /^browserless (\S+) on /m.exec(out.stdout)?.[1] ?? 'unknown version';
    } catch (err) {
      const why = `could not start: ${String((err as { stderr?: string }).stderr ?? err)
        .trim()
        .split('\n')
        .slice(-3)
        .join(' / ')}`;
      progress(`peer: ${why}`);
      return { skipped: why };
    }
    const pid = Number(readFileSync(pidfile, 'utf8').trim());
    const url = `http://127.0.0.1:${port}/pdf?token=${TOKEN}`;
    const request: PeerRequest = {
      pageUrl: pageUrl(sys.main.url, page),
      origin: sys.main.url,
      pdf: spec.pdf,
      viewport: spec.viewport,
    };

    const complete = await checkPeerPdf(sys, url, request, page);
    const sampler = samplePeak(pid);
    const job = {
      kind: 'loop',
      url,
      peer: request,
      concurrency: shape.concurrency,
      warmup: Math.max(shape.concurrency, shape.identities),
      durationMs: opts.durationMs,
      identities: shape.identities,
    };
    const res = await call<LoopResult>(sys.load, job, opts.durationMs + 120_000);
    const peak = await sampler.stop();
    const out: PeerRun = {
      name: 'Browserless',
      version,
      chrome: spec.executablePath,
      concurrency: shape.concurrency,
      identities: shape.identities,
      perSecond: round(res.perSecond, 2),
      ok: res.ok,
      windowMs: Math.round(res.windowMs),
      users: res.users ?? 0,
      peakMB: round(peak.peakBytes / MB),
      complete,
      failures: res.failures,
    };
    progress(
      `peer: Browserless ${version} ${out.perSecond} PDFs/s at c=${shape.concurrency}, ${out.users} users; peak PSS ${Math.round(out.peakMB)} MB; PDF ${complete.pages} page(s) ${complete.hasText ? 'ok' : 'INCOMPLETE'}`,
    );
    return out;
  } catch (err) {
    // The rest of the run stands without the peer: say why, keep going.
    const why = `failed: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200)}`;
    progress(`peer: ${why}; last lines of its log:\n${logTail()}`);
    return { skipped: why };
  } finally {
    await run('bash', [script, 'stop', pidfile], { env, timeout: 30_000 }).catch((err: unknown) =>
      progress(`peer: stop failed: ${String(err)}`),
    );
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One PDF from the peer as user bench-0, read with pdfjs, against the naive floor's. */
async function checkPeerPdf(
  sys: Systems,
  url: string,
  request: PeerRequest,
  page: BenchPage,
): Promise<PeerRun['complete']> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(peerBody(request, 'bench-0')),
    signal: AbortSignal.timeout(90_000),
  });
  const body = new Uint8Array(await res.arrayBuffer());
  if (res.status !== 200 || !looksLikeWholePdf(body))
    throw new Error(
      `/pdf answered ${res.status}, ${body.byteLength} bytes: ${Buffer.from(body.subarray(0, 200)).toString('utf8')}`,
    );
  const a = await readPdf(body);
  const b = await readPdf(
    Buffer.from(await call<string>(sys.baseline, { kind: 'pdf', page: page.name }, 60_000), 'base64'),
  );
  return {
    pages: a.pages,
    hasText:
      a.text.join(' ').includes(page.expectText) && (page.expectPages === undefined || a.pages === page.expectPages),
    sameText: a.text.length === b.text.length && a.text.every((t, i) => t === b.text[i]),
  };
}
