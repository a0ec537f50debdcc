import type { ChildProcess } from 'node:child_process';

/**
 * Request/response over a forked child's IPC channel. Jobs are run one at a time by the
 * children, so a simple id match is enough.
 */
interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

let nextId = 1;

export function call<T>(child: ChildProcess, job: object, timeoutMs: number): Promise<T> {
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(
        new Error(`child ${child.pid} did not answer ${JSON.stringify(job).slice(0, 120)} within ${timeoutMs} ms`),
      );
    }, timeoutMs);
    const onMessage = (m: unknown): void => {
      const r = m as Reply;
      if (typeof r !== 'object' || r === null || r.id !== id) return;
      cleanup();
      if (r.ok) resolve(r.result as T);
      else reject(new Error(r.error ?? 'child failed'));
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`child ${child.pid} exited (${code}) during ${JSON.stringify(job).slice(0, 120)}`));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
    try {
      child.send({ id, job });
    } catch (err) {
      cleanup();
      reject(err instanceof Error ? err : new Error(String(err)));
    }
  });
}

/** Resolves with the first `{ ready: … }` message a child sends after starting. */
export function ready<T>(child: ChildProcess, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child ${child.pid} not ready within ${timeoutMs} ms`)), timeoutMs);
    child.on('message', function onMessage(m: unknown) {
      const r = m as { ready?: T; failed?: string };
      if (r && typeof r === 'object' && ('ready' in r || 'failed' in r)) {
        clearTimeout(timer);
        child.off('message', onMessage);
        if (r.failed !== undefined) reject(new Error(r.failed));
        else resolve(r.ready as T);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child ${child.pid} exited (${code}) before it was ready`));
    });
  });
}

/** Child side: answers jobs with `handle`; `onGone` runs when the parent goes away or signals. */
export function serve(
  handle: (job: Record<string, unknown>) => Promise<unknown>,
  onGone: () => Promise<void> = async () => undefined,
): void {
  let leaving = false;
  const leave = (): void => {
    if (leaving) return;
    leaving = true;
    void onGone().finally(() => process.exit(0));
  };
  process.on('disconnect', leave);
  process.once('SIGTERM', leave);
  process.once('SIGINT', leave);
  process.on('message', (m: unknown) => {
    const { id, job } = m as { id: number; job: Record<string, unknown> };
    handle(job).then(
      (result) => process.send!({ id, ok: true, result }),
      (err: unknown) =>
        process.send!({ id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  });
}
