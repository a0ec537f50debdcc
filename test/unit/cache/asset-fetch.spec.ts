import { createServer, type Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import { test, expect } from '@playwright/test';
import { closeServer, listen } from '../../../fixtures/listen.js';
import { pinnedFetcher } from '../../../src/cache/asset-fetch.js';
import { createGuard } from '../../../src/security/ssrf.js';

// The asset cache fetches from Node. It must connect where the SSRF guard looked, never
// resolve the name again on its own: a second lookup is where DNS rebinding gets in.

let server: Server;
let port: number;
let connections = 0;
test.beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/gz') {
      res.writeHead(200, { 'content-type': 'text/css', 'content-encoding': 'gzip' });
      res.end(gzipSync('body { color: red }'));
    } else if (req.url === '/moved') {
      res.writeHead(302, { location: '/elsewhere' });
      res.end();
    } else {
      res.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] });
      res.end(`host ${req.headers.host}`);
    }
  });
  server.on('connection', () => connections++);
  ({ port } = await listen(server));
});
test.afterAll(async () => {
  await closeServer(server);
});

test('connects to the address the guard vetted, whatever DNS would say of the name', async () => {
  // No resolver on this machine knows assets.test: only the guard's answer can get there.
  const guard = createGuard({
    mainOrigin: 'http://127.0.0.1:1',
    allowOrigins: [`http://assets.test:${port}`],
    lookup: async (h) => (h === 'assets.test' ? ['127.0.0.1'] : []),
  });
  const fetch = pinnedFetcher(guard);
  const r = await fetch(`http://assets.test:${port}/x`, { accept: '*/*' });
  expect(r.status).toBe(200);
  // The name is still the one asked for (Host header, TLS server name).
  expect(r.body.toString()).toBe(`host assets.test:${port}`);
  expect(r.headers['set-cookie']).toBe('a=1\nb=2');
  fetch.reset();
});

test('a name the guard refuses is never connected to', async () => {
  const before = connections;
  // What the guard is told: a private address (what a rebinding name turns into).
  const guard = createGuard({ mainOrigin: 'http://127.0.0.1:1', allowOrigins: [], lookup: async () => ['127.0.0.1'] });
  const fetch = pinnedFetcher(guard);
  await expect(fetch(`http://cdn.test:${port}/x`, {})).rejects.toThrow(
    /refused: host cdn.test resolves to .*127\.0\.0\.1/,
  );
  expect(connections).toBe(before);
});

test('decodes the body, answers a redirect as it is', async () => {
  const guard = createGuard({ mainOrigin: `http://127.0.0.1:${port}`, allowOrigins: [] });
  const fetch = pinnedFetcher(guard);
  const gz = await fetch(`http://127.0.0.1:${port}/gz`, { 'accept-encoding': 'gzip, deflate, br, zstd' });
  expect(gz.body.toString()).toBe('body { color: red }');
  const moved = await fetch(`http://127.0.0.1:${port}/moved`, {});
  expect(moved.status).toBe(302);
  expect(moved.headers['location']).toBe('/elsewhere');
  fetch.reset();
});

test('tries the vetted addresses in turn, and only those', async () => {
  // Two answers, the first with nothing listening on it (127.0.0.2): the fetch falls back to
  // the second, as a browser would, and never to an address the guard did not hand out.
  const calls: string[] = [];
  const lookup = async (h: string): Promise<string[]> => {
    calls.push(h);
    return h === 'multi.test' ? ['127.0.0.2', '127.0.0.1'] : [];
  };
  const guard = createGuard({
    mainOrigin: 'http://127.0.0.1:1',
    allowOrigins: [`http://multi.test:${port}`],
    lookup,
    cacheTtlMs: 0,
  });
  const fetch = pinnedFetcher(guard);
  const r = await fetch(`http://multi.test:${port}/x`, {});
  expect(r.status).toBe(200);
  expect(r.body.toString()).toBe(`host multi.test:${port}`);
  // One lookup per fetch (and its retry): the guard's.
  expect(calls).toEqual(['multi.test']);
  fetch.reset();
});
