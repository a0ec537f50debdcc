import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeServer, listen } from '../../fixtures/listen.js';

/** What a container started by the fake Engine answers every request with. */
const CONTAINER_BODY = 'from container';

export interface FakeDockerOptions {
  /** The one container the Engine knows; every other name is "No such container". */
  container: string;
  /** Starting the container brings up an in-process server on 127.0.0.1:port. */
  port: number;
  /** How long unpause takes; a slow one makes "concurrent" resumes really overlap. */
  unpauseDelayMs?: number;
  /** The container runs from the start, as `docker compose up` leaves it, before any proxy request. */
  running?: boolean;
}

export interface FakeDocker {
  /** The Engine's unix socket, for the proxy's `dockerSocket`. */
  socketPath: string;
  /** `METHOD url` of every call the Engine got, in order. */
  calls: string[];
  /** Closes the container's server (if started) and the Engine, and removes the socket's directory. */
  close(): Promise<void>;
}

/**
 * A fake Docker Engine API on a unix socket in a fresh temporary directory. Start, pause and
 * unpause of its one container answer 204 (start only once the container's server listens),
 * and `GET …/json` its `State` (Running, Paused); anything else answers 404, an unknown
 * container with the Engine's JSON error `No such container: <name>`.
 */
export async function startFakeDocker(opts: FakeDockerOptions): Promise<FakeDocker> {
  const dir = await mkdtemp(join(tmpdir(), 'fly-proxy-docker-'));
  const socketPath = join(dir, 'docker.sock');
  const calls: string[] = [];
  const containerServer = createServer((_req, res) => res.end(CONTAINER_BODY));
  if (opts.running) await listen(containerServer, opts.port);
  let paused = false;
  const engine = createServer((req, res) => {
    calls.push(`${req.method} ${req.url}`);
    const [, name = '', action = ''] = /^\/containers\/([^/]*)\/([^/?]*)/.exec(req.url ?? '') ?? [];
    const container = decodeURIComponent(name);
    const done = () => res.writeHead(204).end();
    if (container !== opts.container) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: `No such container: ${container}` }));
    } else if (action === 'start') {
      if (containerServer.listening) res.writeHead(304).end();
      else {
        // A port already taken fails the start, as the Engine would: 500 with its JSON message.
        listen(containerServer, opts.port).then(done, (err: Error) => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ message: `cannot start container: ${err.message}` }));
        });
      }
    } else if (action === 'pause') {
      paused = true;
      done();
    } else if (action === 'unpause') {
      setTimeout(() => {
        paused = false;
        done();
      }, opts.unpauseDelayMs ?? 0);
    } else if (action === 'json' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ Name: `/${container}`, State: { Running: containerServer.listening, Paused: paused } }));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    engine.once('error', reject);
    engine.listen(socketPath, () => {
      engine.off('error', reject);
      resolve();
    });
  });
  return {
    socketPath,
    calls,
    close: async () => {
      if (containerServer.listening) await closeServer(containerServer);
      await closeServer(engine);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
