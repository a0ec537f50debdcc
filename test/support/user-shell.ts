import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { delimiter } from 'node:path';

/**
 * The environment of a user's shell, not of this test run: `npm test` exports npm_* settings
 * and puts the checkout's node_modules/.bin on PATH, and either could make npm or npx in a
 * scratch dir resolve things from this repository instead of from what was installed there.
 */
export function userEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^npm_/i.test(k) && k !== 'INIT_CWD' && k !== 'NODE_OPTIONS') env[k] = v;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => !dir.includes('node_modules'))
    .join(delimiter);
  return { ...env, ...extra };
}

/** Runs npm in `cwd` with a deadline; resolves with stdout, rejects with npm's own output. */
export function npm(args: string[], cwd: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'npm',
      args,
      { cwd, env: userEnv(), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`npm ${args.join(' ')} in ${cwd} failed (${err.message}):\n${stderr.slice(-4000)}`));
        else resolve(stdout);
      },
    );
  });
}

export interface Started {
  proc: ChildProcess;
  output: string[];
  /** Stops the process (SIGTERM, then SIGKILL after 5 s) and waits for it. */
  stop(): Promise<void>;
}

/** Spawns a long-running process and waits (bounded) for a line of its output matching `ready`. */
export async function startProcess(
  cmd: string,
  args: string[],
  cwd: string,
  ready: RegExp,
  timeoutMs: number,
): Promise<{ started: Started; match: RegExpMatchArray }> {
  const proc = spawn(cmd, args, { cwd, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const started: Started = {
    proc,
    output,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const killer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    },
  };
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(
      () => done(new Error(`no line matching ${ready} within ${timeoutMs} ms:\n${output.join('\n')}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer): void => {
      output.push(...chunk.toString().split('\n').filter(Boolean));
      for (const line of output) {
        const m = ready.exec(line);
        if (m) return done(undefined, m);
      }
    };
    const onExit = (code: number | null): void =>
      done(new Error(`${cmd} exited (${code}) before it was ready:\n${output.join('\n')}`));
    function done(err?: Error, m?: RegExpMatchArray): void {
      clearTimeout(timer);
      proc.stdout!.off('data', onData);
      proc.stderr!.off('data', onData);
      proc.off('exit', onExit);
      if (err) reject(err);
      else resolve(m!);
    }
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', onExit);
  }).catch(async (err: unknown) => {
    await started.stop();
    throw err;
  });
  // Keep draining, so a chatty process never blocks on a full pipe.
  proc.stdout!.on('data', (c: Buffer) => output.push(...c.toString().split('\n').filter(Boolean)));
  proc.stderr!.on('data', (c: Buffer) => output.push(...c.toString().split('\n').filter(Boolean)));
  return { started, match };
}
