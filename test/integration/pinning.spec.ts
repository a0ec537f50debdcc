import { test, expect } from '@playwright/test';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { Writable } from 'node:stream';
import { startAppliance, type Appliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/log.js';
import { parseReplaySrc } from '../../src/http/replay-src.js';
import { startFlyProxy, type FlyProxy } from '../../fixtures/fly-proxy/index.js';
import { startMainApp, type MainApp } from '../../fixtures/main-app/index.js';
import { closeServer, listen } from '../../fixtures/listen.js';
import { readPdf } from '../support/pdf.js';
import { baseEnv, freePort } from '../support/stack.js';

// Two main-app machines behind the Fly-proxy emulator, each with its own in-memory sessions
// (like separate machines). The appliance loads pages through the proxy, as on Fly, so only
// `fly-prefer-instance-id` can bring its requests back to the machine that replayed.

interface Tap {
  url: string;
  /** Headers of every request that reached the appliance. */
  seen: IncomingHttpHeaders[];
  close(): Promise<void>;
}

/** A pass-through in front of the appliance, to see what the proxy's replay delivered. */
async function tap(upstream: string): Promise<Tap> {
  const seen: IncomingHttpHeaders[] = [];
  const target = new URL(upstream);
  const server: Server = createServer((req, res) => {
    seen.push(req.headers);
    const out = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', () => res.writeHead(502).end());
    req.pipe(out);
  });
  const { url } = await listen(server);
  return { url, seen, close: () => closeServer(server) };
}

interface Pinned {
  proxy: FlyProxy;
  machines: Record<'main-a' | 'main-b', MainApp>;
  appliance: Appliance;
  tap: Tap;
  close(): Promise<void>;
}

async function startPinnedStack(): Promise<Pinned> {
  const a = await startMainApp({ instanceId: 'main-a' });
  const b = await startMainApp({ instanceId: 'main-b' });
  // The appliance's TARGET_URL is the proxy, so the proxy's port is fixed before either starts.
  const proxyPort = await freePort();
  const proxyUrl = `http://127.0.0.1:${proxyPort}`;
  const config = loadConfig(baseEnv(proxyUrl));
  const quiet = new Writable({ write: (_c, _e, cb) => cb() });
  const appliance = await startAppliance({ config, log: createLogger('warn', quiet) });
  const t = await tap(appliance.url);
  const proxy = await startFlyProxy({
    port: proxyPort,
    entryApp: 'main',
    apps: [
      {
        name: 'main',
        machines: [
          { id: 'main-a', region: 'ams', url: a.url },
          { id: 'main-b', region: 'syd', url: b.url },
        ],
      },
      { name: 'pdf', machines: [{ id: 'pdf-1', url: t.url }] },
    ],
  });
  return {
    proxy,
    machines: { 'main-a': a, 'main-b': b },
    appliance,
    tap: t,
    async close() {
      await proxy.close();
      await t.close();
      await appliance.shutdown('test');
      await a.close();
      await b.close();
    },
  };
}

/** Signs in on one specific machine (sessions are per machine) and returns the cookie. */
async function signInOn(proxyUrl: string, instance: string): Promise<string> {
  const res = await fetch(`${proxyUrl}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'fly-force-instance-id': instance },
    body: 'username=alice&password=alice-pw',
  });
  expect(res.status).toBe(303);
  expect(res.headers.get('x-instance-id')).toBe(instance);
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .find((c) => c.startsWith('session='));
  expect(cookie).toBeTruthy();
  return cookie!;
}

let stack: Pinned | undefined;
test.afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

test('the appliance loads the page from the machine that replayed the request', async () => {
  test.setTimeout(120_000);
  stack = await startPinnedStack();
  const s = stack;

  for (const [instance, other] of [
    ['main-b', 'main-a'],
    ['main-a', 'main-b'],
  ] as const) {
    const cookie = await signInOn(s.proxy.url, instance);
    const mine = s.machines[instance];
    const theirs = s.machines[other];
    const mineFrom = mine.requests.length;
    const theirsFrom = theirs.requests.length;
    const tapFrom = s.tap.seen.length;

    const res = await fetch(`${s.proxy.url}/invoices/42.pdf`, {
      redirect: 'manual',
      headers: { cookie, 'fly-force-instance-id': instance },
    });
    const body = Buffer.from(await res.arrayBuffer());
    expect(res.status, body.toString().slice(0, 200)).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pdf');

    // The replay reached the appliance naming the main-app machine it came from.
    const delivered = s.tap.seen.slice(tapFrom);
    expect(delivered).toHaveLength(1);
    expect(parseReplaySrc(String(delivered[0]['fly-replay-src'])).instance).toBe(instance);

    // The page (and everything it loaded from the main app) came from that same machine.
    const text = (await readPdf(body)).text.join(' ');
    expect(text).toContain('Invoice #42');
    expect(text).toContain('Alice Anderson');
    expect(text).toContain(`Served by ${instance}`);

    const fromAppliance = mine.requests.slice(mineFrom).filter((r) => r.headers['x-pdf-appliance'] === '1');
    expect(fromAppliance.map((r) => r.path)).toContain('/invoices/42');
    for (const r of fromAppliance) expect(r.headers['fly-prefer-instance-id'], r.path).toBe(instance);
    // The only other request on this machine is the user's own `.pdf` that it answered with a replay.
    expect(
      mine.requests
        .slice(mineFrom)
        .filter((r) => r.headers['x-pdf-appliance'] === undefined)
        .map((r) => r.path),
    ).toEqual(['/invoices/42.pdf']);
    expect(theirs.requests.slice(theirsFrom)).toEqual([]);
  }
  expect(s.proxy.log.filter((e) => e.type === 'replay').map((e) => e.machine)).toEqual(['main-b', 'main-a']);
});
