import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect } from '@playwright/test';
import { startAppliance, type Appliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/log.js';
import { startFlyProxy, type FlyProxy } from '../../fixtures/fly-proxy/index.js';
import { startMainApp, type MainApp } from '../../fixtures/main-app/index.js';
import { flyCommands, flyToml, parseFly, read, shellCommands, tomlBlocks } from '../support/deploy-docs.js';
import { isPdf, readLinks, readPdf } from '../support/pdf.js';
import { freePort, logSink } from '../support/stack.js';

// docs/deploy.md, run on this machine as far as it can be: its commands that run on a laptop
// (openssl, curl) are run as written, against the appliance configured by fly.toml's [env] plus
// the walk-through's settings and secrets, the demo main app with the walk-through's
// middleware settings, and the Fly-proxy emulator standing in for Fly's proxy twice: the main
// app's address (public, and its Flycast one) and the appliance's Flycast address, which is
// what `fly proxy` tunnels to. deploy-docs.spec.ts checks the `fly` commands themselves.

const fly = flyToml();
const APPLIANCE = fly.app;
const MAIN = APPLIANCE.replace(/-pdf$/, '');
const doc = read('docs/deploy.md');
const commands = shellCommands(doc);

function bash(script: string, env: Record<string, string>, cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      ['-euo', 'pipefail', '-c', script],
      { env: { PATH: process.env.PATH ?? '', ...env }, cwd, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${script}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

let main: MainApp | undefined;
let app: Appliance | undefined;
let edge: FlyProxy | undefined;
let flycast: FlyProxy | undefined;
let dir: string | undefined;
test.afterEach(async () => {
  await flycast?.close();
  await edge?.close();
  await app?.shutdown('test');
  await main?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("docs/deploy.md: the first PDF through the private address, then a user's click, signed in and out", async () => {
  test.setTimeout(120_000);
  dir = await mkdtemp(join(tmpdir(), 'pdf-walkthrough-'));

  // Step 2: the shared secret, made the way the walk-through makes it.
  const secretLine = commands.find((c) => c.line.startsWith('SECRET='))!.line;
  const secret = (await bash(`${secretLine}\nprintf %s "$SECRET"`, {}, dir)).trim();
  expect(secret).toMatch(/^[0-9a-f]{64}$/);

  // Step 3: the private TARGET_URL and PUBLIC_URL. The main app's Flycast address goes through
  // Fly's proxy like its public one: here, the edge emulator.
  const env = tomlBlocks(doc)
    .map((b) => (b['env'] ?? {}) as Record<string, string>)
    .find((e) => e['TARGET_URL'] !== undefined)!;
  expect(new URL(env['TARGET_URL']!).hostname).toBe(`${MAIN}.flycast`);
  const publicUrl = env['PUBLIC_URL']!;
  const edgePort = await freePort();
  const apiPort = await freePort();
  const token = 'walkthrough-machines-token';

  // Step 6's middleware: pdfReplay({ app: 'my-app-pdf', secret: process.env.REPLAY_SECRET }).
  main = await startMainApp({ applianceApp: APPLIANCE, replaySecret: secret });

  // The appliance as deployed: fly.toml's [env], step 3's settings, step 2's secrets, and what
  // Fly sets in a Machine. Ports and addresses are this machine's.
  const logs: string[] = [];
  const config = loadConfig({
    ...fly.env,
    ...env,
    TARGET_URL: `http://127.0.0.1:${edgePort}`,
    REPLAY_SECRET: secret,
    FLY_API_TOKEN: token,
    FLY_APP_NAME: APPLIANCE,
    FLY_MACHINE_ID: 'pdf-1',
    MACHINES_API_URL: `http://127.0.0.1:${apiPort}`,
    PORT: '0',
    METRICS_PORT: '0',
    LISTEN_ADDRESS: '127.0.0.1',
  });
  expect(config.idleAction).toBe('suspend');
  app = await startAppliance({ config, log: createLogger(config.logLevel, logSink(logs)) });
  await app.browser.ready();
  // Step 2 done: no warning about a missing secret.
  expect(logs.filter((l) => l.includes('REPLAY_SECRET is not set'))).toEqual([]);

  edge = await startFlyProxy({
    port: edgePort,
    entryApp: MAIN,
    machinesApiPort: apiPort,
    machinesApiToken: token,
    apps: [
      { name: MAIN, machines: [{ id: `${MAIN}-1`, url: main.url }] },
      { name: APPLIANCE, machines: [{ id: 'pdf-1', url: app.url }] },
    ],
  });
  // The appliance's own Flycast address: a proxy whose entry is the appliance.
  flycast = await startFlyProxy({
    entryApp: APPLIANCE,
    apps: [{ name: APPLIANCE, machines: [{ id: 'pdf-1', url: app.url }] }],
  });

  // Step 5: `fly proxy L:80 my-app-pdf.flycast` makes http://localhost:L the Flycast address.
  const tunnel = parseFly(flyCommands(commands).find((c) => parseFly(c).subcommand === 'proxy')!);
  const localPort = tunnel.args[0]!.split(':')[0]!;
  const curls = commands.filter((c) => c.words[0] === 'curl');
  expect(curls).toHaveLength(2);
  const outputs: string[] = [];
  for (const c of curls) {
    expect(c.line).toContain(`http://localhost:${localPort}/`);
    outputs.push(
      (await bash(c.line.replaceAll(`http://localhost:${localPort}`, flycast.url), { SECRET: secret }, dir)).trim(),
    );
  }
  // What the walk-through says they print.
  expect(outputs).toEqual(['200 application/pdf', '403']);
  expect(doc).toContain('`200 application/pdf`');
  expect(doc).toContain('prints `403`');
  const first = await readFile(join(dir, 'first.pdf'));
  expect(isPdf(first)).toBe(true);
  expect((await readPdf(first)).text.join(' ')).toContain('Please sign in');

  // Step 6: a signed-in user opens /invoices/42.pdf on the main app's address.
  const login = await fetch(`${edge.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'username=alice&password=alice-pw',
  });
  const cookie = login.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const pdf = await fetch(`${edge.url}/invoices/42.pdf`, { headers: { cookie }, redirect: 'manual' });
  expect(pdf.status).toBe(200);
  expect(pdf.headers.get('content-type')).toBe('application/pdf');
  const text = (await readPdf(Buffer.from(await pdf.arrayBuffer()))).text.join(' ');
  expect(text).toContain('Invoice #42');
  expect(text).toContain('Alice Anderson');
  // Its links lead to the main app's public address, not the Flycast one it was loaded from.
  const links = await fetch(`${edge.url}/t/links.pdf`, { headers: { cookie } });
  const urls = (await readLinks(Buffer.from(await links.arrayBuffer()))).flatMap((l) => (l.url ? [l.url] : []));
  expect(urls).toContain(`${publicUrl}/docs/guide`);
  expect(urls.filter((u) => u.startsWith(`http://127.0.0.1:${edgePort}`))).toEqual([]);
  // Signed out, the same link goes through the login page and back to the PDF.
  const signedOut = await fetch(`${edge.url}/invoices/42.pdf`, { redirect: 'manual' });
  expect(signedOut.status).toBe(302);
  expect(signedOut.headers.get('location')).toBe(`${publicUrl}/login?next=${encodeURIComponent('/invoices/42.pdf')}`);
});
