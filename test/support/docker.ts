// Helpers for the compose-stack tests: run docker / compose, inspect containers, talk to the
// proxy. Kept apart from test/support/stack.ts so these tests do not load the appliance itself.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { StatusReport } from '../../fixtures/fly-proxy/types.js';

export const ROOT = join(import.meta.dirname, '..', '..');
/** In CI the repository is a fresh clone next to `shared/`. */
export const SHARED_DOCKER = join(ROOT, '..', 'shared', 'docker');

export interface RunResult {
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(
    message: string,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(message);
  }
}

/** Runs argv (no shell) and rejects with the tail of its output when it exits non-zero. */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      {
        cwd: opts.cwd ?? ROOT,
        env: opts.env ?? process.env,
        timeout: opts.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        if (err) {
          const tail = `${stdout}\n${stderr}`.trim().split('\n').slice(-40).join('\n');
          reject(
            new CommandError(
              `${cmd} ${args.join(' ')} failed (${err.message.split('\n')[0]}):\n${tail}`,
              stdout,
              stderr,
            ),
          );
        } else resolve({ stdout, stderr });
      },
    );
  });
}

/**
 * Docker as it is: an engine that answers, `docker compose` v2 and the node base image. Each
 * missing piece is provided by the workplace's helper scripts in ../shared/docker when they
 * exist; without them, the first missing piece is named in one line.
 */
export async function ensureDocker(): Promise<void> {
  const works = (cmd: string, args: string[]): Promise<boolean> =>
    run(cmd, args, { timeoutMs: 60_000 }).then(
      () => true,
      () => false,
    );
  const steps: Array<[string, () => Promise<boolean>, string[]]> = [
    ['a Docker engine (docker info)', () => works('docker', ['info']), ['ensure-dockerd']],
    [
      'the node:24-bookworm-slim image',
      () => works('docker', ['image', 'inspect', 'node:24-bookworm-slim']),
      ['base-image', '24'],
    ],
    ['docker compose v2', () => works('docker', ['compose', 'version']), ['ensure-compose']],
  ];
  for (const [what, present, [script, ...args]] of steps) {
    if (await present()) continue;
    const helper = join(SHARED_DOCKER, script!);
    if (!existsSync(helper)) throw new Error(`the docker tests need ${what}, and ${helper} is not there to provide it`);
    await run(helper, args, { timeoutMs: 20 * 60_000 });
  }
}

/**
 * The tag of the images the tests build (compose.yaml's PDF_IMAGE_TAG): never `local`, the one a
 * developer's own `docker compose up --build` uses, or re-tagging it would have their next
 * `docker compose up -d` recreate their containers. One per checkout, so that two checkouts
 * testing at once do not swap images under each other, and rebuilds reuse the layer cache.
 */
export const TEST_IMAGE_TAG = `test-${createHash('sha256').update(ROOT).digest('hex').slice(0, 10)}`;

export interface ComposeProject {
  name: string;
  env: NodeJS.ProcessEnv;
  /** Container name of the appliance (`container_name` in compose.yaml). */
  pdfContainer: string;
  proxyUrl: string;
  compose(args: string[], timeoutMs?: number): Promise<RunResult>;
}

export function composeProject(name: string, proxyPort: number, extraEnv: Record<string, string>): ComposeProject {
  const env = {
    ...process.env,
    COMPOSE_PROJECT_NAME: name,
    PROXY_PORT: String(proxyPort),
    PDF_IMAGE_TAG: TEST_IMAGE_TAG,
    ...extraEnv,
  };
  return {
    name,
    env,
    pdfContainer: `${name}-pdf`,
    proxyUrl: `http://127.0.0.1:${proxyPort}`,
    compose: (args, timeoutMs) => run('docker', ['compose', '-p', name, ...args], { env, timeoutMs }),
  };
}

export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface ContainerState {
  Status: string;
  Running: boolean;
  /** `docker pause`d: what the emulated Machines API does to suspend a container machine. */
  Paused: boolean;
  ExitCode: number;
  OOMKilled: boolean;
  StartedAt: string;
  FinishedAt: string;
  Health?: { Status: string; FailingStreak: number; Log: HealthLogEntry[] | null };
}

export async function containerState(container: string): Promise<ContainerState> {
  const { stdout } = await run('docker', ['inspect', '--format', '{{json .State}}', container]);
  return JSON.parse(stdout) as ContainerState;
}

export async function dockerExec(container: string, args: string[]): Promise<string> {
  return (await run('docker', ['exec', container, ...args])).stdout;
}

export interface ProcInfo {
  pid: number;
  uid: number;
  name: string;
}

// Runs inside the container: the slim image has no `ps`, but it has node and /proc.
const LIST_PROCESSES = `
const fs = require('fs'); const out = [];
for (const d of fs.readdirSync('/proc')) {
  if (!/^\\d+$/.test(d)) continue;
  try {
    const s = fs.readFileSync('/proc/' + d + '/status', 'utf8');
    out.push({ pid: Number(d), uid: Number(/^Uid:\\s+(\\d+)/m.exec(s)[1]), name: /^Name:\\s+(.*)$/m.exec(s)[1] });
  } catch {}
}
console.log(JSON.stringify(out));`;

export async function processesIn(container: string): Promise<ProcInfo[]> {
  return JSON.parse(await dockerExec(container, ['node', '-e', LIST_PROCESSES])) as ProcInfo[];
}

export { freePort } from '../../fixtures/listen.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `probe` returns a value (not undefined) or the deadline passes. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  everyMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

export async function proxyStatus(proxyUrl: string): Promise<StatusReport> {
  const res = await fetch(`${proxyUrl}/__fly/status`);
  if (!res.ok) throw new Error(`/__fly/status answered ${res.status}`);
  return (await res.json()) as StatusReport;
}

/** Signs in through the proxy like the login form does; returns the Cookie header to send. */
export async function login(proxyUrl: string, username: string, password: string): Promise<string> {
  const res = await fetch(`${proxyUrl}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password }).toString(),
  });
  await res.arrayBuffer();
  const cookies = res.headers.getSetCookie().map((c) => c.split(';')[0]!);
  if (res.status !== 303 || cookies.length === 0)
    throw new Error(`login as ${username}: HTTP ${res.status}, no session cookie`);
  return cookies.join('; ');
}

export async function fetchBytes(
  url: string,
  init: RequestInit = {},
  timeoutMs = 120_000,
): Promise<{ status: number; headers: Headers; body: Buffer; ms: number }> {
  const started = performance.now();
  const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs), ...init });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body, ms: Math.round(performance.now() - started) };
}

/** What a compose project made of compose.yaml is called in Docker, under `env`. */
export interface ComposeNames {
  project: string;
  images: string[];
  containers: string[];
}

/**
 * Resolves compose.yaml under `env` (`docker compose config`): the project name, the images it
 * builds and the names of its containers (`container_name`, else compose's `<project>-<service>-1`).
 */
export async function composeNames(env: NodeJS.ProcessEnv): Promise<ComposeNames> {
  const { stdout } = await run('docker', ['compose', 'config', '--format', 'json'], { env });
  const cfg = JSON.parse(stdout) as {
    name: string;
    services: Record<string, { image?: string; container_name?: string }>;
  };
  const services = Object.entries(cfg.services);
  return {
    project: cfg.name,
    images: [...new Set(services.flatMap(([, s]) => (s.image ? [s.image] : [])))].sort(),
    containers: services.map(([name, s]) => s.container_name ?? `${cfg.name}-${name}-1`).sort(),
  };
}

/** The environment of someone's plain `docker compose up` here: none of the tests' settings. */
export function userEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['COMPOSE_PROJECT_NAME', 'PROXY_PORT', 'PDF_IMAGE_TAG']) delete env[name];
  return env;
}

/** A user's stack as Docker has it: each image's id (null when absent), each container's run. */
export interface StackState {
  images: Record<string, string | null>;
  containers: Record<string, string | null>;
}

export async function stackState(names: ComposeNames): Promise<StackState> {
  const id = (args: string[]) =>
    run('docker', args).then(
      (r) => r.stdout.trim(),
      () => null,
    );
  const images: StackState['images'] = {};
  for (const image of names.images) images[image] = await id(['image', 'inspect', '--format', '{{.Id}}', image]);
  const containers: StackState['containers'] = {};
  // The container's id, its image and when it started: a recreated or restarted one differs.
  for (const c of names.containers)
    containers[c] = await id(['container', 'inspect', '--format', '{{.Id}} {{.Image}} {{.State.StartedAt}}', c]);
  return { images, containers };
}
