import { test, expect } from '@playwright/test';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startFlyProxy,
  loadProxyConfig,
  REPLAY_CONTENT_TYPE,
  type FlyProxy,
  type ProxyConfig,
} from '../../fixtures/fly-proxy/index.js';
import { parseReplaySrc } from '../../src/http/replay-src.js';
import { closeServer, freePort, listen } from '../../fixtures/listen.js';
import { startFakeDocker } from '../support/fake-docker.js';
import { send as sendRequest, type Reply, type SendOptions } from '../support/send.js';

// Every "app" here is a tiny node:http server on loopback; every test closes what it opened.

interface Seen {
  machine: string;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Echo extends Seen {
  bodyLength: number;
}

type Handler = (req: IncomingMessage, body: Buffer, res: ServerResponse) => boolean | void;

interface TestMachine {
  id: string;
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}

const cleanups: (() => Promise<unknown>)[] = [];
test.afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

/** A machine that records requests and, unless `handler` answers, echoes them as JSON. */
async function machine(id: string, handler?: Handler): Promise<TestMachine> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const entry: Seen = {
        machine: id,
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: body.length <= 10_000 ? body.toString() : '',
      };
      seen.push(entry);
      if (handler?.(req, body, res)) return;
      const echo: Echo = { ...entry, bodyLength: body.length };
      res.writeHead(200, { 'content-type': 'application/json', 'x-machine': id });
      res.end(JSON.stringify(echo));
    });
  });
  const { url } = await listen(server);
  const m = { id, url, seen, close: () => closeServer(server) };
  cleanups.push(m.close);
  return m;
}

async function proxy(cfg: ProxyConfig): Promise<FlyProxy> {
  const p = await startFlyProxy(cfg);
  cleanups.push(() => p.close());
  return p;
}

/** A request; its reply's json() is an Echo unless the call names another type. */
const send = (base: string, path: string, opts?: SendOptions): Promise<Reply<Echo>> =>
  sendRequest<Echo>(base, path, opts);

function replayWith(header: string): Handler {
  return (_req, _body, res) => {
    res.writeHead(307, { 'fly-replay': header, location: '/elsewhere' });
    res.end('replaying');
    return true;
  };
}

test.describe('forwarding', () => {
  test('forwards to the entry app with Fly headers and without hop-by-hop or spoofed ones', async () => {
    const main = await machine('main-1');
    const p = await proxy({ entryApp: 'web', apps: [{ name: 'web', machines: [{ id: 'main-1', url: main.url }] }] });

    const r = await send(p.url, '/hello?x=1', {
      headers: {
        connection: 'keep-alive, x-hop',
        'x-hop': 'drop me',
        'x-keep': 'keep me',
        'x-forwarded-for': '203.0.113.9',
        'fly-replay-src': 'instance=evil;region=evil;t=1;state=admin',
        'fly-client-ip': '198.51.100.1',
      },
    });
    expect(r.status).toBe(200);
    const seen = r.json();
    expect(seen.url).toBe('/hello?x=1');
    expect(seen.headers['x-keep']).toBe('keep me');
    expect(seen.headers['x-hop']).toBeUndefined();
    expect(seen.headers['fly-replay-src']).toBeUndefined();
    expect(seen.headers['fly-client-ip']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-port']).toBe(String(p.port));
    expect(seen.headers['fly-region']).toBe('lcl');
    expect(seen.headers['fly-request-id']).toMatch(/^[0-9A-Z]+-lcl$/);
    expect(seen.headers.via).toBe('1.1 fly.io');
    expect(seen.headers.host).toBe(`127.0.0.1:${p.port}`);
    expect(r.headers['fly-request-id']).toBe(seen.headers['fly-request-id']);
    expect(r.headers['x-machine']).toBe('main-1');
    expect(p.replays).toBe(0);
    expect(p.log.filter((e) => e.type === 'forward')).toEqual([
      expect.objectContaining({ app: 'web', machine: 'main-1' }),
    ]);
  });

  test('round-robins between machines of the entry app', async () => {
    const a = await machine('main-1');
    const b = await machine('main-2');
    const p = await proxy({
      entryApp: 'web',
      apps: [
        {
          name: 'web',
          machines: [
            { id: 'main-1', url: a.url },
            { id: 'main-2', url: b.url },
          ],
        },
      ],
    });
    const hits = [];
    for (let i = 0; i < 4; i++) hits.push((await send(p.url, '/')).json().machine);
    expect(hits.sort()).toEqual(['main-1', 'main-1', 'main-2', 'main-2']);
  });

  test('streams a large non-replayed POST body through', async () => {
    const main = await machine('main-1');
    const p = await proxy({ entryApp: 'web', apps: [{ name: 'web', machines: [{ id: 'main-1', url: main.url }] }] });
    const big = Buffer.alloc(1_500_000, 'a');
    const r = await send(p.url, '/upload', {
      method: 'POST',
      body: big,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(r.status).toBe(200);
    expect(r.json().bodyLength).toBe(big.length);
  });

  test('/__fly/status reports machines and start counts', async () => {
    const main = await machine('main-1');
    const down = await freePort();
    const p = await proxy({
      entryApp: 'web',
      apps: [
        { name: 'web', machines: [{ id: 'main-1', url: main.url }] },
        { name: 'pdf', machines: [{ id: 'pdf-1', region: 'ams', url: `http://127.0.0.1:${down}` }] },
      ],
    });
    const r = await send(p.url, '/__fly/status');
    expect(r.status).toBe(200);
    expect(r.json<unknown>()).toEqual({
      starts: { web: 0, pdf: 0 },
      replays: 0,
      machines: [
        { app: 'web', id: 'main-1', region: 'lcl', url: `${main.url}/`, listening: true, load: 0 },
        { app: 'pdf', id: 'pdf-1', region: 'ams', url: `http://127.0.0.1:${down}/`, listening: false, load: 0 },
      ],
    });
    expect(main.seen).toHaveLength(0);
  });
});

test.describe('replay', () => {
  test('header form replays method, path, query, headers and body, and adds fly-replay-src', async () => {
    const main = await machine('main-1', (req, _b, res) =>
      req.url!.includes('.pdf') ? replayWith('app=pdf;state=inv-42')(req, _b, res) : false,
    );
    const pdf = await machine('pdf-1');
    const p = await proxy({
      entryApp: 'web',
      apps: [
        { name: 'web', machines: [{ id: 'main-1', region: 'ams', url: main.url }] },
        { name: 'pdf', machines: [{ id: 'pdf-1', url: pdf.url }] },
      ],
    });

    const before = Date.now() * 1000;
    const r = await send(p.url, '/invoices/42.pdf?lang=de&x=1', {
      method: 'POST',
      body: 'hello=world',
      headers: {
        cookie: 'session=abc',
        authorization: 'Bearer t0k',
        'content-type': 'application/x-www-form-urlencoded',
      },
    });
    expect(r.status).toBe(200);
    expect(r.headers['x-machine']).toBe('pdf-1');
    expect(r.text).not.toContain('replaying');

    const seen = r.json();
    expect(seen).toMatchObject({
      machine: 'pdf-1',
      method: 'POST',
      url: '/invoices/42.pdf?lang=de&x=1',
      body: 'hello=world',
    });
    expect(seen.headers).toMatchObject({
      cookie: 'session=abc',
      authorization: 'Bearer t0k',
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(seen.headers['content-length']).toBe('11');
    // Same request id on both hops: it is one client request.
    expect(seen.headers['fly-request-id']).toBe(main.seen[0].headers['fly-request-id']);
    expect(main.seen[0].headers['fly-replay-src']).toBeUndefined();

    const src = parseReplaySrc(seen.headers['fly-replay-src'] as string);
    expect(src).toMatchObject({ instance: 'main-1', region: 'ams', state: 'inv-42' });
    expect(src.t).toBeGreaterThanOrEqual(before);
    expect(src.t).toBeLessThanOrEqual(Date.now() * 1000);
    expect(p.replays).toBe(1);
    expect(p.log.map((e) => `${e.type}:${e.machine}`)).toEqual(['forward:main-1', 'replay:main-1', 'forward:pdf-1']);
  });

  test('JSON form applies set_headers and delete_headers', async () => {
    const main = await machine('main-1', (_req, _b, res) => {
      res.writeHead(200, { 'content-type': `${REPLAY_CONTENT_TYPE}; charset=utf-8` });
      res.end(
        JSON.stringify({
          app: 'pdf',
          state: 'json-state',
          transform: {
            set_headers: [
              { name: 'X-Added', value: 'yes' },
              { name: 'Authorization', value: 'Bearer replaced' },
            ],
            delete_headers: ['Cookie'],
          },
        }),
      );
      return true;
    });
    const pdf = await machine('pdf-1');
    const p = await proxy({
      entryApp: 'web',
      apps: [
        { name: 'web', machines: [{ id: 'main-1', url: main.url }] },
        { name: 'pdf', machines: [{ id: 'pdf-1', url: pdf.url }] },
      ],
    });
    const r = await send(p.url, '/x.pdf', {
      headers: { cookie: 'session=abc', authorization: 'Bearer orig', 'x-other': 'kept' },
    });
    expect(r.status).toBe(200);
    const seen = r.json();
    expect(seen.machine).toBe('pdf-1');
    expect(seen.headers.cookie).toBeUndefined();
    expect(seen.headers['x-added']).toBe('yes');
    expect(seen.headers.authorization).toBe('Bearer replaced');
    expect(seen.headers['x-other']).toBe('kept');
    expect(parseReplaySrc(seen.headers['fly-replay-src'] as string).state).toBe('json-state');
  });

  test('an invalid replay instruction is a 502, not a crash', async () => {
    const main = await machine('main-1', (req, _b, res) => {
      if (req.url === '/bad-header') return replayWith('this is not valid')(req, _b, res);
      if (req.url === '/bad-json') {
        res.writeHead(200, { 'content-type': REPLAY_CONTENT_TYPE });
        res.end('{"app": 42');
        return true;
      }
      return false;
    });
    const p = await proxy({ entryApp: 'web', apps: [{ name: 'web', machines: [{ id: 'main-1', url: main.url }] }] });
    const h = await send(p.url, '/bad-header');
    expect(h.status).toBe(502);
    expect(h.text).toContain('invalid replay');
    const j = await send(p.url, '/bad-json');
    expect(j.status).toBe(502);
    expect(j.text).toContain('not JSON');
    // Still serving.
    expect((await send(p.url, '/fine')).status).toBe(200);
  });

  test('a replay to an unknown app is a 502', async () => {
    const main = await machine('main-1', replayWith('app=nope'));
    const p = await proxy({ entryApp: 'web', apps: [{ name: 'web', machines: [{ id: 'main-1', url: main.url }] }] });
    const r = await send(p.url, '/');
    expect(r.status).toBe(502);
    expect(r.text).toContain('no app named nope');
  });

  test('a body over 1 MB is not replayed', async () => {
    const main = await machine('main-1', replayWith('app=pdf'));
    const pdf = await machine('pdf-1');
    const p = await proxy({
      entryApp: 'web',
      apps: [
        { name: 'web', machines: [{ id: 'main-1', url: main.url }] },
        { name: 'pdf', machines: [{ id: 'pdf-1', url: pdf.url }] },
      ],
    });
    const r = await send(p.url, '/big.pdf', { method: 'POST', body: Buffer.alloc(1024 * 1024 + 1, 'b') });
    expect(r.status).toBe(413);
    expect(r.text).toContain('Request too large to replay');
    expect(pdf.seen).toHaveLength(0);

    // Exactly 1 MB is still replayable.
    const ok = await send(p.url, '/ok.pdf', { method: 'POST', body: Buffer.alloc(1024 * 1024, 'b') });
    expect(ok.status).toBe(200);
    expect(ok.json().bodyLength).toBe(1024 * 1024);
  });

  test('elsewhere=true goes to another machine of the app that answered, and chains carry the new source', async () => {
    const main = await machine('main-1', replayWith('app=pdf;instance=pdf-1;state=first'));
    const busy = await machine('pdf-1', replayWith('elsewhere=true;state=busy'));
    const free = await machine('pdf-2');
    const p = await proxy({
      entryApp: 'web',
      apps: [
        { name: 'web', machines: [{ id: 'main-1', url: main.url }] },
        {
          name: 'pdf',
          machines: [
            { id: 'pdf-1', region: 'fra', url: busy.url },
            { id: 'pdf-2', url: free.url },
          ],
        },
      ],
    });
    for (let i = 0; i < 3; i++) {
      const r = await send(p.url, '/invoices/1.pdf', { method: 'POST', body: `n=${i}` });
      expect(r.status).toBe(200);
      const seen = r.json();
      expect(seen).toMatchObject({ machine: 'pdf-2', body: `n=${i}`, url: '/invoices/1.pdf' });
      expect(parseReplaySrc(seen.headers['fly-replay-src'] as string)).toMatchObject({
        instance: 'pdf-1',
        region: 'fra',
        state: 'busy',
      });
    }
    expect(busy.seen).toHaveLength(3);
    expect(p.replays).toBe(6);
  });

  test('elsewhere=true with no other machine is a 502', async () => {
    const main = await machine('main-1', replayWith('elsewhere=true'));
    const p = await proxy({ entryApp: 'web', apps: [{ name: 'web', machines: [{ id: 'main-1', url: main.url }] }] });
    const r = await send(p.url, '/');
    expect(r.status).toBe(502);
    expect(r.text).toContain('no other machine');
  });

  test('replay chains are capped at 5 hops', async () => {
    const a = await machine('pdf-1', replayWith('elsewhere=true'));
    const b = await machine('pdf-2', replayWith('elsewhere=true'));
    const p = await proxy({
      entryApp: 'pdf',
      apps: [
        {
          name: 'pdf',
          machines: [
            { id: 'pdf-1', url: a.url },
            { id: 'pdf-2', url: b.url },
          ],
        },
      ],
    });
    const r = await send(p.url, '/loop');
    expect(r.status).toBe(502);
    expect(r.text).toContain('too many replays');
    expect(a.seen.length + b.seen.length).toBe(6);
    expect(p.replays).toBe(5);
  });

  test('timeout + fallback=force_self hands the request back with fly-replay-failed', async () => {
    const main = await machine('main-1', (req, body, res) => {
      if (req.headers['fly-replay-failed']) {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end(`fallback: ${req.headers['fly-replay-failed']} body=${body.toString()}`);
        return true;
      }
      return replayWith('app=pdf;timeout=300ms;fallback=force_self')(req, body, res);
    });
    // pdf-1 is spawned but never listens: only the replay timeout ends the wait.
    const pdfPort = await freePort();
    const p = await proxy({
      entryApp: 'web',
      startTimeoutMs: 20_000,
      apps: [
        { name: 'web', machines: [{ id: 'main-1', url: main.url }] },
        {
          name: 'pdf',
          machines: [
            {
              id: 'pdf-1',
              url: `http://127.0.0.1:${pdfPort}`,
              start: { command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'] },
            },
          ],
        },
      ],
    });
    const t0 = Date.now();
    const r = await send(p.url, '/x.pdf', { method: 'POST', body: 'keep' });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.status).toBe(503);
    expect(r.text).toBe('fallback: reason=timeout;app=pdf body=keep');
    expect(main.seen).toHaveLength(2);
  });
});

test.describe('instance routing headers', () => {
  test('fly-force-instance-id pins the machine or fails; fly-prefer-instance-id falls back', async () => {
    const a = await machine('main-1');
    const b = await machine('main-2');
    const deadPort = await freePort();
    const p = await proxy({
      entryApp: 'web',
      apps: [
        {
          name: 'web',
          machines: [
            { id: 'main-1', url: a.url },
            { id: 'main-2', url: b.url },
            { id: 'main-3', url: `http://127.0.0.1:${deadPort}` },
          ],
        },
      ],
    });

    for (let i = 0; i < 3; i++) {
      expect((await send(p.url, '/', { headers: { 'fly-force-instance-id': 'main-2' } })).json().machine).toBe(
        'main-2',
      );
      expect((await send(p.url, '/', { headers: { 'fly-prefer-instance-id': 'main-1' } })).json().machine).toBe(
        'main-1',
      );
    }

    const unknown = await send(p.url, '/', { headers: { 'fly-force-instance-id': 'main-9' } });
    expect(unknown.status).toBe(502);
    expect(unknown.text).toContain('main-9');

    const forcedDead = await send(p.url, '/', { headers: { 'fly-force-instance-id': 'main-3' } });
    expect(forcedDead.status).toBe(502);
    expect(forcedDead.text).toContain('not reachable');

    // Preferred machine is down: another one answers instead.
    const preferredDead = await send(p.url, '/', { headers: { 'fly-prefer-instance-id': 'main-3' } });
    expect(preferredDead.status).toBe(200);
    expect(['main-1', 'main-2']).toContain(preferredDead.json().machine);

    const preferUnknown = await send(p.url, '/', { headers: { 'fly-prefer-instance-id': 'main-9' } });
    expect(preferUnknown.status).toBe(200);
  });
});

// A machine process: answers with its pid, exits on /exit, listens after a short boot delay so
// the proxy really has to wait for the port.
const CHILD_SERVER = `
const http = require('node:http');
if (process.env.IGNORE_SIGTERM) process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
const server = http.createServer((req, res) => {
  if (req.url === '/exit') { res.end('bye', () => process.exit(0)); return; }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ pid: process.pid, url: req.url, src: req.headers['fly-replay-src'] || null }));
});
setTimeout(() => server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('child listening on ' + process.env.PORT)), 150);
`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test.describe('auto-start', () => {
  test('spawns a stopped machine once, reuses it, and restarts it after it exits', async () => {
    const port = await freePort();
    const main = await machine('main-1', replayWith('app=pdf;state=s1'));
    const p = await proxy({
      entryApp: 'web',
      startTimeoutMs: 10_000,
      apps: [
        { name: 'web', machines: [{ id: 'main-1', url: main.url }] },
        {
          name: 'pdf',
          machines: [
            {
              id: 'pdf-1',
              url: `http://127.0.0.1:${port}`,
              start: { command: [process.execPath, '-e', CHILD_SERVER], env: { PORT: String(port) } },
            },
          ],
        },
      ],
    });

    // Concurrent requests share one start.
    const first = await Promise.all([1, 2, 3].map((i) => send(p.url, `/a.pdf?i=${i}`)));
    for (const r of first) expect(r.status).toBe(200);
    const pids = new Set(first.map((r) => r.json<{ pid: number }>().pid));
    expect(pids.size).toBe(1);
    const [pid1] = pids;
    expect(p.starts('pdf')).toBe(1);
    expect(p.starts('web')).toBe(0);
    expect(p.starts()).toBe(1);
    expect(parseReplaySrc(first[0].json<{ src: string }>().src).state).toBe('s1');

    const second = await send(p.url, '/b.pdf');
    expect(second.json<{ pid: number }>().pid).toBe(pid1);
    expect(p.starts('pdf')).toBe(1);

    // The machine exits on its own (idle shutdown): it is merely stopped.
    const bye = await send(`http://127.0.0.1:${port}`, '/exit');
    expect(bye.text).toBe('bye');
    await expect
      .poll(() => p.log.some((e) => e.type === 'stop' && e.machine === 'pdf-1'), { timeout: 5000 })
      .toBe(true);
    expect(alive(pid1)).toBe(false);

    const third = await send(p.url, '/c.pdf');
    expect(third.status).toBe(200);
    const pid2 = third.json<{ pid: number }>().pid;
    expect(pid2).not.toBe(pid1);
    expect(p.starts('pdf')).toBe(2);

    const status = await send(p.url, '/__fly/status');
    expect(status.json<{ starts: Record<string, number> }>().starts).toEqual({ web: 0, pdf: 2 });

    await p.close();
    expect(alive(pid2)).toBe(false);
  });

  test('close() also kills what a wrapper command started, and SIGKILLs a machine ignoring SIGTERM', async () => {
    test.setTimeout(30_000);
    const port1 = await freePort();
    const port2 = await freePort();
    const p = await proxy({
      entryApp: 'web',
      apps: [
        {
          name: 'web',
          machines: [
            // The shell stays the group leader's parent/wrapper; the server is its child.
            {
              id: 'wrapped',
              url: `http://127.0.0.1:${port1}`,
              start: {
                command: ['/bin/sh', '-c', `"${process.execPath}" -e "$SRC"; echo wrapper-done`],
                env: { PORT: String(port1), SRC: CHILD_SERVER },
              },
            },
            {
              id: 'stubborn',
              url: `http://127.0.0.1:${port2}`,
              start: {
                command: [process.execPath, '-e', CHILD_SERVER],
                env: { PORT: String(port2), IGNORE_SIGTERM: '1' },
              },
            },
          ],
        },
      ],
    });
    const a = await send(p.url, '/', { headers: { 'fly-force-instance-id': 'wrapped' } });
    const b = await send(p.url, '/', { headers: { 'fly-force-instance-id': 'stubborn' } });
    const pids = [a.json<{ pid: number }>().pid, b.json<{ pid: number }>().pid];
    expect(pids.every(alive)).toBe(true);
    expect(p.starts('web')).toBe(2);

    const t0 = Date.now();
    await p.close();
    expect(pids.some(alive)).toBe(false);
    // The stubborn one needed the SIGKILL after the 5 s grace period.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4500);
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  test('a machine that exits before listening is a 502', async () => {
    const port = await freePort();
    // Generous start timeout: the 502 must come from noticing the exit, not from a slow boot.
    const p = await proxy({
      entryApp: 'web',
      startTimeoutMs: 20_000,
      apps: [
        {
          name: 'web',
          machines: [
            {
              id: 'crash',
              url: `http://127.0.0.1:${port}`,
              start: { command: [process.execPath, '-e', 'process.exit(3)'] },
            },
          ],
        },
      ],
    });
    const t0 = Date.now();
    const crash = await send(p.url, '/');
    expect(crash.status).toBe(502);
    expect(crash.text).toContain('exited with code 3');
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(p.starts('web')).toBe(1);
  });

  test('a machine that never listens is a 503 after startTimeoutMs', async () => {
    const port = await freePort();
    const p = await proxy({
      entryApp: 'web',
      startTimeoutMs: 1000,
      apps: [
        {
          name: 'web',
          machines: [
            {
              id: 'hang',
              url: `http://127.0.0.1:${port}`,
              start: { command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'] },
            },
          ],
        },
      ],
    });
    const t0 = Date.now();
    const hang = await send(p.url, '/');
    expect(hang.status).toBe(503);
    expect(hang.text).toContain('did not listen');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(p.starts('web')).toBe(1);
  });

  test('a command that cannot be spawned is a 502', async () => {
    const port = await freePort();
    const p = await proxy({
      entryApp: 'web',
      apps: [
        {
          name: 'web',
          machines: [{ id: 'm', url: `http://127.0.0.1:${port}`, start: { command: ['/nonexistent/binary'] } }],
        },
      ],
    });
    const r = await send(p.url, '/');
    expect(r.status).toBe(502);
    expect(r.text).toContain('failed to spawn');
  });

  test('child output goes to logFile when configured', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fly-proxy-log-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const port = await freePort();
    const logFile = join(dir, 'pdf.log');
    const p = await proxy({
      entryApp: 'web',
      apps: [
        {
          name: 'web',
          machines: [
            {
              id: 'm',
              url: `http://127.0.0.1:${port}`,
              start: { command: [process.execPath, '-e', CHILD_SERVER], env: { PORT: String(port) }, logFile },
            },
          ],
        },
      ],
    });
    expect((await send(p.url, '/')).status).toBe(200);
    await p.close();
    await expect
      .poll(async () => readFile(logFile, 'utf8').catch(() => ''), { timeout: 5000 })
      .toContain(`child listening on ${port}`);
  });

  test('starts a container through the Docker Engine API on a unix socket', async () => {
    const port = await freePort();
    // Fake Engine: "starting" the container brings up an in-process server on the machine port;
    // it knows no other container (such as `ghost`).
    const docker = await startFakeDocker({ container: 'pdf-appliance', port });
    cleanups.push(() => docker.close());

    const ghostPort = await freePort();
    const p = await proxy({
      entryApp: 'pdf',
      dockerSocket: docker.socketPath,
      apps: [
        {
          name: 'pdf',
          machines: [
            { id: 'c1', url: `http://127.0.0.1:${port}`, start: { docker: 'pdf-appliance' } },
            { id: 'c2', url: `http://127.0.0.1:${ghostPort}`, start: { docker: 'ghost' } },
          ],
        },
      ],
    });
    const r = await send(p.url, '/', { headers: { 'fly-force-instance-id': 'c1' } });
    expect(r.status).toBe(200);
    expect(r.text).toBe('from container');
    expect(p.starts('pdf')).toBe(1);
    expect((await send(p.url, '/', { headers: { 'fly-force-instance-id': 'c1' } })).text).toBe('from container');
    expect(docker.calls).toEqual(['POST /containers/pdf-appliance/start']);

    const ghost = await send(p.url, '/', { headers: { 'fly-force-instance-id': 'c2' } });
    expect(ghost.status).toBe(502);
    expect(ghost.text).toContain('No such container: ghost');
  });
});

test('loadProxyConfig reads JSON, resolves relative paths and reports mistakes clearly', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fly-proxy-cfg-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'fly.json');
  await writeFile(
    file,
    JSON.stringify({
      port: 0,
      entryApp: 'web',
      apps: [
        { name: 'web', machines: [{ id: 'main-1', url: 'http://127.0.0.1:3000' }] },
        {
          name: 'pdf',
          machines: [
            {
              id: 'pdf-1',
              url: 'http://127.0.0.1:3100',
              start: { command: ['node', 'main.js'], cwd: 'app', logFile: 'pdf.log' },
            },
          ],
        },
      ],
    }),
  );
  const cfg = await loadProxyConfig(file);
  expect(cfg.entryApp).toBe('web');
  expect(cfg.apps[1].machines[0].start).toEqual({
    command: ['node', 'main.js'],
    cwd: join(dir, 'app'),
    logFile: join(dir, 'pdf.log'),
  });

  await writeFile(
    file,
    JSON.stringify({ entryApp: 'nope', apps: [{ name: 'web', machines: [{ id: 'm', url: 'http://127.0.0.1:1' }] }] }),
  );
  await expect(loadProxyConfig(file)).rejects.toThrow('entryApp: no app named nope');
  await writeFile(
    file,
    JSON.stringify({ entryApp: 'web', apps: [{ name: 'web', machines: [{ id: 'm', url: 'https://example.com' }] }] }),
  );
  await expect(loadProxyConfig(file)).rejects.toThrow('expected http://HOST:PORT');
  await writeFile(file, '{not json');
  await expect(loadProxyConfig(file)).rejects.toThrow('not JSON');
});
