import type { ChildProcess } from 'node:child_process';
import { killTree, RUN_MARK, RUN_MARK_NAME, spawnTracked } from './procs.js';

/** A spawned process whose output we keep (the tail) for error messages. */
export interface Running {
  child: ChildProcess;
  pid: number;
  /** Last lines of stdout+stderr. */
  tail(): string;
  /** Rejects when the process exits; for racing against what we wait for. */
  gone: Promise<never>;
  /** Resolves with the first stdout line matching `re`. */
  line(re: RegExp): Promise<string>;
  stop(): Promise<void>;
}

export function run(cmd: string, args: string[], opts: { cwd: string; env: Record<string, string> }): Running {
  const child = spawnTracked(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const watchers: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  const feed = (stream: NodeJS.ReadableStream | null): void => {
    let buf = '';
    stream?.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const l = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(l);
        if (lines.length > 60) lines.shift();
        for (const w of [...watchers])
          if (w.re.test(l)) {
            watchers.splice(watchers.indexOf(w), 1);
            w.resolve(l);
          }
      }
    });
  };
  feed(child.stdout);
  feed(child.stderr);
  const tail = (): string => lines.slice(-20).join('\n');
  const gone = new Promise<never>((_, reject) => {
    child.once('exit', (code, sig) =>
      reject(new Error(`${cmd} ${args.join(' ').slice(0, 80)} exited (${code ?? sig}):\n${tail()}`)),
    );
    child.once('error', (err) => reject(err));
  });
  gone.catch(() => undefined);
  return {
    child,
    pid: child.pid ?? -1,
    tail,
    gone,
    line: (re) => Promise.race([new Promise<string>((resolve) => watchers.push({ re, resolve })), gone]),
    stop: () => killTree(child),
  };
}

/** PATH, HOME and our run mark: nothing of the runner's own npm environment leaks into what it starts. */
export function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    [RUN_MARK_NAME]: RUN_MARK,
  };
  for (const k of ['LANG', 'TMPDIR', 'XDG_RUNTIME_DIR']) if (process.env[k]) env[k] = process.env[k]!;
  return { ...env, ...extra };
}
