import { test, expect } from '@playwright/test';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  startFlyProxy,
  validateProxyConfig,
  type FlyProxy,
  type MachineStart,
  type MachineStatus,
  type ProxyConfig,
  type StatusReport,
} from '../../fixtures/fly-proxy/index.js';
import { freePort } from '../../fixtures/listen.js';
import { startFakeDocker } from '../support/fake-docker.js';
import { send } from '../support/send.js';

// The emulated Machines API suspend call and the proxy's resume, against a real spawned machine
// (fixtures/fly-proxy/sleepy-machine.ts, built by `npm run build`) that calls the API itself
// with the token the emulator put in its environment. Freezing is checked in /proc (Linux).

const ROOT = join(import.meta.dirname, '..', '..');
const SLEEPY = join(ROOT, 'dist/fixtures/fly-proxy/sleepy-machine.js');
/** Bound on every wait for a state change; they normally take well under a second. */
const WAIT_MS = 5000;

interface SleepyAnswer {
  pid: number;
  sameGroupChild: number;
  detachedChild: number;
  hits: number;
}

interface SuspendRelay {
  status: number;
  body: { ok?: boolean; error?: string };
}

const cleanups: (() => Promise<unknown>)[] = [];
test.afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

test.beforeAll(() => {
  if (!existsSync(SLEEPY)) throw new Error(`${SLEEPY} is missing: run npm run build first`);
});

/** The single-letter state from /proc/<pid>/stat ('T' = stopped), or 'gone'. */
function procState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return 'gone';
  }
}

/** Exited (a zombie counts: whether anything reaps orphans depends on the host's init). */
function dead(pid: number): boolean {
  return ['gone', 'Z', 'X'].includes(procState(pid));
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

async function proxy(cfg: ProxyConfig): Promise<FlyProxy> {
  const p = await startFlyProxy(cfg);
  cleanups.push(() => p.close());
  return p;
}

/** How the emulator spawns a sleepy machine listening on `port`. */
function sleepy(port: number): MachineStart {
  return { command: [process.execPath, SLEEPY], env: { PORT: String(port) } };
}

/** A proxy whose entry app is one sleepy machine `pdf-1`, stopped until the first request. */
async function sleepyProxy(): Promise<FlyProxy> {
  const port = await freePort();
  return proxy({
    entryApp: 'pdf',
    startTimeoutMs: 10_000,
    apps: [{ name: 'pdf', machines: [{ id: 'pdf-1', url: `http://127.0.0.1:${port}`, start: sleepy(port) }] }],
  });
}

/** GET / through the proxy; remembers the pids so no test leaves a process behind. */
async function hit(p: FlyProxy, headers?: Record<string, string>): Promise<SleepyAnswer> {
  const r = await send(p.url, '/', { headers });
  expect(r.status, r.text).toBe(200);
  const answer = r.json<SleepyAnswer>();
  cleanups.push(async () => [answer.pid, answer.sameGroupChild, answer.detachedChild].forEach(killQuietly));
  return answer;
}

async function machineStatus(p: FlyProxy, id: string): Promise<MachineStatus> {
  const r = await send(p.url, '/__fly/status');
  const m = r.json<StatusReport>().machines.find((x) => x.id === id);
  if (!m) throw new Error(`machine ${id} missing from /__fly/status: ${r.text}`);
  return m;
}

/**
 * Asks the machine to suspend itself. Not awaited by callers until after a resume: the machine
 * may be frozen before it relays the API's answer, which then arrives once it is resumed.
 */
function askToSuspend(p: FlyProxy, token?: string, headers?: Record<string, string>): Promise<SuspendRelay> {
  const query = token === undefined ? '' : `?token=${encodeURIComponent(token)}`;
  return send(p.url, `/suspend${query}`, { method: 'POST', headers }).then((r) => {
    if (r.status !== 200) throw new Error(`POST /suspend: ${r.status} ${r.text}`);
    return r.json<SuspendRelay>();
  });
}

async function waitForState(p: FlyProxy, id: string, state: MachineStatus['state']): Promise<void> {
  await expect.poll(async () => (await machineStatus(p, id)).state, { timeout: WAIT_MS }).toBe(state);
}

function eventsOf(p: FlyProxy, type: string): string[] {
  return p.log.filter((e) => e.type === type).map((e) => `${e.type}:${e.machine}`);
}

test.describe('Machines API suspend', () => {
  test('a wrong or missing token is a 401 and the machine keeps answering', async () => {
    const p = await sleepyProxy();
    const before = await hit(p);

    expect(await askToSuspend(p, 'not-the-token')).toEqual({
      status: 401,
      body: { error: expect.stringContaining('unauthorized') },
    });
    expect(await askToSuspend(p, '')).toEqual({
      status: 401,
      body: { error: expect.stringContaining('unauthorized') },
    });

    const after = await hit(p);
    expect(after.pid).toBe(before.pid);
    expect(after.hits).toBe(before.hits + 1);
    expect(procState(before.pid)).not.toBe('T');
    expect(await machineStatus(p, 'pdf-1')).toMatchObject({ state: 'running', starts: 1, suspends: 0, resumes: 0 });
    expect(eventsOf(p, 'suspend')).toEqual([]);
  });

  test('a suspend stops the process group and detached descendants; the next request resumes them', async () => {
    const p = await sleepyProxy();
    const before = await hit(p);
    const pids = [before.pid, before.sameGroupChild, before.detachedChild];

    const asked = askToSuspend(p);
    await waitForState(p, 'pdf-1', 'suspended');
    // SIGSTOP is delivered when each process is next scheduled: poll, bounded.
    await expect.poll(() => pids.map(procState), { timeout: WAIT_MS }).toEqual(['T', 'T', 'T']);
    expect(await machineStatus(p, 'pdf-1')).toMatchObject({ state: 'suspended', starts: 1, suspends: 1, resumes: 0 });
    expect(p.suspends('pdf')).toBe(1);
    expect(eventsOf(p, 'suspend')).toEqual(['suspend:pdf-1']);

    // Same process, same memory: a resume, not a restart.
    const after = await hit(p);
    expect(after.pid).toBe(before.pid);
    expect(after.hits).toBe(before.hits + 1);
    expect(await machineStatus(p, 'pdf-1')).toMatchObject({ state: 'running', starts: 1, suspends: 1, resumes: 1 });
    expect(p.resumes('pdf')).toBe(1);
    expect(p.starts('pdf')).toBe(1);
    expect(eventsOf(p, 'resume')).toEqual(['resume:pdf-1']);
    await expect
      .poll(() => pids.filter((pid) => procState(pid) === 'T' || dead(pid)), { timeout: WAIT_MS })
      .toEqual([]);

    // The machine's own call got its answer, before the freeze or right after the resume.
    expect(await asked).toEqual({ status: 200, body: { ok: true } });
  });

  test('concurrent requests to a suspended machine share one resume', async () => {
    const p = await sleepyProxy();
    const before = await hit(p);
    const asked = askToSuspend(p);
    await waitForState(p, 'pdf-1', 'suspended');

    const answers = await Promise.all([1, 2, 3, 4, 5].map(() => hit(p)));
    expect(new Set(answers.map((a) => a.pid))).toEqual(new Set([before.pid]));
    expect(await machineStatus(p, 'pdf-1')).toMatchObject({ state: 'running', starts: 1, suspends: 1, resumes: 1 });
    expect(eventsOf(p, 'resume')).toHaveLength(1);
    expect(eventsOf(p, 'start')).toHaveLength(1);
    expect((await asked).status).toBe(200);
  });

  test('a suspended machine whose process was killed meanwhile is started afresh', async () => {
    const p = await sleepyProxy();
    const before = await hit(p);
    void askToSuspend(p).catch(() => undefined); // Its connection dies with the machine.
    await waitForState(p, 'pdf-1', 'suspended');
    await expect.poll(() => procState(before.pid), { timeout: WAIT_MS }).toBe('T');

    process.kill(-before.pid, 'SIGKILL');
    await waitForState(p, 'pdf-1', 'stopped');

    const after = await hit(p);
    expect(after.pid).not.toBe(before.pid);
    expect(after.hits).toBe(1);
    expect(await machineStatus(p, 'pdf-1')).toMatchObject({ state: 'running', starts: 2, suspends: 1, resumes: 0 });
    // The detached child was frozen outside the killed group; the emulator let it go so it
    // could notice its parent was gone and exit.
    await expect.poll(() => dead(before.detachedChild), { timeout: WAIT_MS }).toBe(true);
  });

  test('requests go to a running machine of the app rather than resuming a suspended one', async () => {
    const [port1, port2] = [await freePort(), await freePort()];
    const p = await proxy({
      entryApp: 'pdf',
      apps: [
        {
          name: 'pdf',
          machines: [
            { id: 'pdf-1', url: `http://127.0.0.1:${port1}`, start: sleepy(port1) },
            { id: 'pdf-2', url: `http://127.0.0.1:${port2}`, start: sleepy(port2) },
          ],
        },
      ],
    });
    await hit(p, { 'fly-force-instance-id': 'pdf-1' });
    const two = await hit(p, { 'fly-force-instance-id': 'pdf-2' });
    void askToSuspend(p, undefined, { 'fly-force-instance-id': 'pdf-1' }).catch(() => undefined);
    await waitForState(p, 'pdf-1', 'suspended');

    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await hit(p));
    expect(answers.map((a) => a.pid)).toEqual(Array(4).fill(two.pid));
    expect(await machineStatus(p, 'pdf-1')).toMatchObject({ state: 'suspended', resumes: 0 });
  });

  test('close() lets a suspended machine go and still terminates it', async () => {
    const p = await sleepyProxy();
    const before = await hit(p);
    void askToSuspend(p).catch(() => undefined);
    await waitForState(p, 'pdf-1', 'suspended');

    const t0 = Date.now();
    await p.close();
    // Without a SIGCONT the SIGTERM would stay pending until the 5 s SIGKILL.
    expect(Date.now() - t0).toBeLessThan(4000);
    for (const pid of [before.pid, before.sameGroupChild]) expect(dead(pid)).toBe(true);
    await expect.poll(() => dead(before.detachedChild), { timeout: WAIT_MS }).toBe(true);
  });

  test('the API refuses bad calls: 401, 404, 405, 409', async () => {
    const port = await freePort();
    const apiPort = await freePort();
    const p = await proxy({
      entryApp: 'pdf',
      machinesApiPort: apiPort,
      machinesApiToken: 's3cret-token',
      apps: [
        {
          name: 'pdf',
          machines: [
            { id: 'pdf-1', url: `http://127.0.0.1:${port}`, start: sleepy(port) },
            { id: 'pdf-2', url: `http://127.0.0.1:${await freePort()}` },
          ],
        },
      ],
    });
    expect(p.machinesApiUrl).toBe(`http://127.0.0.1:${apiPort}`);
    expect(p.machinesApiToken).toBe('s3cret-token');
    const auth = { authorization: 'Bearer s3cret-token' };
    const post = (path: string, headers: Record<string, string> = auth) =>
      send(p.machinesApiUrl, path, { method: 'POST', headers });

    expect((await post('/v1/apps/pdf/machines/pdf-1/suspend', {})).status).toBe(401);
    expect((await post('/v1/apps/pdf/machines/pdf-1/suspend', { authorization: 'Bearer s3cret-tokeN' })).status).toBe(
      401,
    );
    expect((await post('/v1/apps/pdf/machines/pdf-1/suspend', { authorization: 's3cret-token' })).status).toBe(401);
    const get = await send(p.machinesApiUrl, '/v1/apps/pdf/machines/pdf-1/suspend', { headers: auth });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    expect((await post('/v1/apps/nope/machines/pdf-1/suspend')).status).toBe(404);
    expect((await post('/v1/apps/pdf/machines/pdf-9/suspend')).status).toBe(404);
    expect((await post('/v1/apps/pdf/machines/pdf-1/stop')).status).toBe(404);

    // Not started yet, and a machine the emulator does not manage: nothing to freeze.
    const notRunning = await post('/v1/apps/pdf/machines/pdf-1/suspend');
    expect(notRunning.status).toBe(409);
    expect(notRunning.json<{ error: string }>().error).toContain('not running');
    expect((await post('/v1/apps/pdf/machines/pdf-2/suspend')).status).toBe(409);

    // Running: accepted once; a second call before the freeze is a conflict, not a second freeze.
    const m = await send(p.url, '/', { headers: { 'fly-force-instance-id': 'pdf-1' } });
    cleanups.push(async () => [m.json<SleepyAnswer>().detachedChild].forEach(killQuietly));
    const ok = await post('/v1/apps/pdf/machines/pdf-1/suspend');
    expect(ok.status).toBe(200);
    expect(ok.json()).toEqual({ ok: true });
    expect((await post('/v1/apps/pdf/machines/pdf-1/suspend')).status).toBe(409);
    await waitForState(p, 'pdf-1', 'suspended');
    expect((await post('/v1/apps/pdf/machines/pdf-1/suspend')).status).toBe(409);
    expect(p.suspends()).toBe(1);
    expect(p.starts()).toBe(1);
  });

  test('spawned machines get the Fly environment; start.env still wins', async () => {
    const port = await freePort();
    const printEnv = `
      const keys = ['FLY_APP_NAME', 'FLY_MACHINE_ID', 'FLY_REGION', 'MACHINES_API_URL', 'FLY_API_TOKEN'];
      require('node:http').createServer((req, res) => res.end(JSON.stringify(Object.fromEntries(keys.map((k) => [k, process.env[k]])))))
        .listen(Number(process.env.PORT), '127.0.0.1');`;
    const p = await proxy({
      entryApp: 'pdf',
      region: 'ams',
      apps: [
        {
          name: 'pdf',
          machines: [
            {
              id: 'pdf-7',
              url: `http://127.0.0.1:${port}`,
              start: { command: [process.execPath, '-e', printEnv], env: { PORT: String(port), FLY_REGION: 'fra' } },
            },
          ],
        },
      ],
    });
    const r = await send(p.url, '/');
    expect(r.json()).toEqual({
      FLY_APP_NAME: 'pdf',
      FLY_MACHINE_ID: 'pdf-7',
      FLY_REGION: 'fra',
      MACHINES_API_URL: p.machinesApiUrl,
      FLY_API_TOKEN: p.machinesApiToken,
    });
    expect(p.machinesApiToken.length).toBeGreaterThanOrEqual(32);
  });

  test('machinesApiToken must be header-safe', () => {
    const base = { entryApp: 'a', apps: [{ name: 'a', machines: [{ id: 'm', url: 'http://127.0.0.1:1' }] }] };
    expect(() => validateProxyConfig({ ...base, machinesApiToken: 'two words' })).toThrow('machinesApiToken');
    expect(() => validateProxyConfig({ ...base, machinesApiPort: 70000 })).toThrow('machinesApiPort');
  });
});

test.describe('Docker machines', () => {
  test('are paused and unpaused through the Engine API, with one unpause for concurrent requests', async () => {
    const port = await freePort();
    // A real Engine answers unpause quickly; a slow one here makes "concurrent" really overlap.
    const docker = await startFakeDocker({ container: 'pdf-c', port, unpauseDelayMs: 300 });
    cleanups.push(() => docker.close());

    const p = await proxy({
      entryApp: 'pdf',
      dockerSocket: docker.socketPath,
      apps: [{ name: 'pdf', machines: [{ id: 'c1', url: `http://127.0.0.1:${port}`, start: { docker: 'pdf-c' } }] }],
    });
    expect((await send(p.url, '/')).text).toBe('from container');

    const ok = await send(p.machinesApiUrl, '/v1/apps/pdf/machines/c1/suspend', {
      method: 'POST',
      headers: { authorization: `Bearer ${p.machinesApiToken}` },
    });
    expect(ok.status).toBe(200);
    await waitForState(p, 'c1', 'suspended');
    expect(docker.calls).toEqual(['POST /containers/pdf-c/start', 'POST /containers/pdf-c/pause']);

    const answers = await Promise.all([1, 2, 3, 4].map(() => send(p.url, '/')));
    expect(answers.map((a) => a.text)).toEqual(Array(4).fill('from container'));
    expect(docker.calls).toEqual([
      'POST /containers/pdf-c/start',
      'POST /containers/pdf-c/pause',
      'POST /containers/pdf-c/unpause',
    ]);
    expect(await machineStatus(p, 'c1')).toMatchObject({ state: 'running', starts: 1, suspends: 1, resumes: 1 });
  });

  test('a container that compose started and no request has reached yet can be suspended on its first idle', async () => {
    const port = await freePort();
    const docker = await startFakeDocker({ container: 'pdf-c', port, running: true });
    cleanups.push(() => docker.close());
    const p = await proxy({
      entryApp: 'pdf',
      dockerSocket: docker.socketPath,
      apps: [{ name: 'pdf', machines: [{ id: 'c1', url: `http://127.0.0.1:${port}`, start: { docker: 'pdf-c' } }] }],
    });
    expect((await machineStatus(p, 'c1')).state).toBe('unknown');

    // The appliance's first idle: no request ever went through the proxy.
    const ok = await send(p.machinesApiUrl, '/v1/apps/pdf/machines/c1/suspend', {
      method: 'POST',
      headers: { authorization: `Bearer ${p.machinesApiToken}` },
    });
    expect(ok.status, ok.text).toBe(200);
    await waitForState(p, 'c1', 'suspended');
    expect(docker.calls).toEqual(['GET /containers/pdf-c/json', 'POST /containers/pdf-c/pause']);

    // The next request resumes it (no start: it was never stopped).
    expect((await send(p.url, '/')).text).toBe('from container');
    expect(await machineStatus(p, 'c1')).toMatchObject({ state: 'running', starts: 0, suspends: 1, resumes: 1 });
  });

  test('a container that is not running is still refused (409), after asking Docker', async () => {
    const port = await freePort();
    const docker = await startFakeDocker({ container: 'pdf-c', port });
    cleanups.push(() => docker.close());
    const p = await proxy({
      entryApp: 'pdf',
      dockerSocket: docker.socketPath,
      apps: [{ name: 'pdf', machines: [{ id: 'c1', url: `http://127.0.0.1:${port}`, start: { docker: 'pdf-c' } }] }],
    });
    const refused = await send(p.machinesApiUrl, '/v1/apps/pdf/machines/c1/suspend', {
      method: 'POST',
      headers: { authorization: `Bearer ${p.machinesApiToken}` },
    });
    expect(refused.status).toBe(409);
    expect(refused.json<{ error: string }>().error).toContain('not running');
    expect(docker.calls).toEqual(['GET /containers/pdf-c/json']);
  });

  test('close() unpauses a container it paused', async () => {
    const port = await freePort();
    const docker = await startFakeDocker({ container: 'pdf-c', port });
    cleanups.push(() => docker.close());

    const p = await proxy({
      entryApp: 'pdf',
      dockerSocket: docker.socketPath,
      apps: [{ name: 'pdf', machines: [{ id: 'c1', url: `http://127.0.0.1:${port}`, start: { docker: 'pdf-c' } }] }],
    });
    expect((await send(p.url, '/')).status).toBe(200);
    await send(p.machinesApiUrl, '/v1/apps/pdf/machines/c1/suspend', {
      method: 'POST',
      headers: { authorization: `Bearer ${p.machinesApiToken}` },
    });
    await waitForState(p, 'c1', 'suspended');
    await p.close();
    expect(docker.calls).toEqual([
      'POST /containers/pdf-c/start',
      'POST /containers/pdf-c/pause',
      'POST /containers/pdf-c/unpause',
    ]);
  });
});
