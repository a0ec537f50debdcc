import { createServer } from 'node:http';
import { test, expect } from '@playwright/test';
import { preload } from '../src/index.js';
import { closeServer, freePort, listen } from '../../../fixtures/listen.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
test.beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
test.afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('sends one GET to the warm-up URL without being awaited', async () => {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.end('warm');
  });
  const { url } = await listen(server);
  try {
    expect(preload({ url: `${url}/healthz` })).toBeUndefined();
    await expect.poll(() => seen).toEqual(['GET /healthz']);
  } finally {
    await closeServer(server);
  }
});

test('does not follow the redirect the appliance answers a warm-up with', async () => {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    res.statusCode = 302;
    res.setHeader('Location', '/followed');
    res.end();
  });
  const { url } = await listen(server);
  try {
    preload({ url: `${url}/warm` });
    await expect.poll(() => seen).toEqual(['/warm']);
    await settle(200);
    expect(seen).toEqual(['/warm']);
  } finally {
    await closeServer(server);
  }
});

test('never throws or rejects when the target refuses connections', async () => {
  // A free port nothing listens on, so connecting is refused.
  const url = `http://127.0.0.1:${await freePort()}`;

  expect(() => preload({ url: `${url}/warm` })).not.toThrow();
  expect(() => preload({ url: 'not a url' })).not.toThrow();
  expect(() =>
    preload({
      url: `${url}/x`,
      fetchImpl: () => {
        throw new Error('sync boom');
      },
    }),
  ).not.toThrow();
  expect(() => preload({ url: `${url}/x`, fetchImpl: () => Promise.reject(new Error('async boom')) })).not.toThrow();
  expect(() => preload(undefined as unknown as { url: string })).not.toThrow();
  await settle(300);
  expect(unhandled).toEqual([]);
});

test('gives up after timeoutMs on a target that never answers', async () => {
  // Watched from the connection, not the request: under load the whole request can take
  // longer than a short timeout to reach the server. 1 s leaves the connection time to happen.
  let connections = 0;
  let closed = 0;
  const server = createServer(() => undefined);
  server.on('connection', (socket) => {
    connections++;
    socket.on('close', () => closed++);
  });
  const { url } = await listen(server);
  try {
    const started = Date.now();
    preload({ url: `${url}/hang`, timeoutMs: 1000 });
    await expect.poll(() => connections, { timeout: 10_000 }).toBe(1);
    await expect.poll(() => closed, { timeout: 10_000 }).toBe(1);
    // The preload hung up itself, at its deadline and not before.
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(unhandled).toEqual([]);
  } finally {
    await closeServer(server);
  }
});
