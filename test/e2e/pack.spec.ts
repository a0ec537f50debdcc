import { test, expect } from '@playwright/test';
import { constants } from 'node:fs';
import { access, copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFlyProxy, type FlyProxy } from '../../fixtures/fly-proxy/index.js';
import { freePort } from '../../fixtures/listen.js';
import { isPdf, readPdf } from '../support/pdf.js';
import { npm, startProcess, userEnv, type Started } from '../support/user-shell.js';

const ROOT = join(import.meta.dirname, '..', '..');

// Both packages as they would be published, used the way their users would: `npm pack` them,
// install the middleware alone into a main app outside this repository, and run the click path
// through the Fly-proxy emulator with the appliance installed from its tarball and started with
// `npx pdf-appliance`. The appliance comes from its tarball, not from this checkout's dist/, so
// that a file left out of `files`, a broken `bin` or a dependency on something outside the
// package fails here rather than for the first user.
//
// Packed with --ignore-scripts: prepack would rebuild dist/ of this checkout while other test
// workers load it. `npm test` has just built it, as the other process tests assume.

interface PackResult {
  filename: string;
  files: Array<{ path: string }>;
}

async function pack(dir: string, dest: string): Promise<PackResult> {
  const out = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dest], dir, 120_000);
  const [result] = JSON.parse(out) as PackResult[];
  return result;
}

let tmp: string | undefined;
let proxy: FlyProxy | undefined;
let mainApp: Started | undefined;
test.afterEach(async ({}, testInfo) => {
  if (mainApp && testInfo.status !== testInfo.expectedStatus) {
    await testInfo.attach('main-app.log', { body: mainApp.output.join('\n'), contentType: 'text/plain' });
  }
  if (tmp && testInfo.status !== testInfo.expectedStatus) {
    const log = await readFile(join(tmp, 'appliance.log'), 'utf8').catch(() => '');
    await testInfo.attach('appliance.log', { body: log, contentType: 'text/plain' });
  }
  // The proxy stops the appliance it started (and waits for it).
  await proxy?.close();
  await mainApp?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
  proxy = mainApp = tmp = undefined;
});

test('the packed middleware installs alone into an outside main app, and the packed appliance serves its PDF through the proxy', async () => {
  test.setTimeout(300_000);
  tmp = await mkdtemp(join(tmpdir(), 'pdf-pack-'));
  const [packs, mainDir, applianceDir] = ['packs', 'main-app', 'appliance'].map((d) => join(tmp!, d));
  for (const d of [packs, mainDir, applianceDir]) await mkdir(d);

  // 1. Pack. Each tarball holds its build and README only, never sources or tests.
  const replayPack = await pack(join(ROOT, 'packages/replay'), packs);
  const appliancePack = await pack(ROOT, packs);
  const replayFiles = replayPack.files.map((f) => f.path);
  expect(replayFiles).toEqual(
    expect.arrayContaining(['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts']),
  );
  expect(
    replayFiles.filter((p) => !/^dist\/[^/]+\.(js|d\.ts)$/.test(p) && p !== 'package.json' && p !== 'README.md'),
  ).toEqual([]);
  const applianceFiles = appliancePack.files.map((f) => f.path);
  expect(applianceFiles).toEqual(
    expect.arrayContaining(['package.json', 'README.md', 'dist/src/main.js', 'dist/src/index.js']),
  );
  // The express shim of 0.1.0's drafts is gone; a stale build must not ship it either.
  expect(applianceFiles).not.toContain('dist/src/express.js');
  expect(applianceFiles.filter((p) => !p.startsWith('dist/src/') && p !== 'package.json' && p !== 'README.md')).toEqual(
    [],
  );
  const replayTgz = join(packs, replayPack.filename);
  const applianceTgz = join(packs, appliancePack.filename);

  // 2. The main app: depends on the middleware tarball only; its installed tree is that package alone.
  await writeFile(
    join(mainDir, 'package.json'),
    JSON.stringify(
      {
        name: 'scratch-main-app',
        version: '1.0.0',
        private: true,
        type: 'module',
        dependencies: { 'pdf-appliance-replay': `file:${replayTgz}` },
      },
      null,
      2,
    ),
  );
  await copyFile(join(ROOT, 'test/e2e/scratch-main-app/server.mjs'), join(mainDir, 'server.mjs'));
  await npm(['install', '--prefer-offline', '--no-audit', '--no-fund'], mainDir, 120_000);
  const tree = JSON.parse(await npm(['ls', '--all', '--json'], mainDir, 60_000)) as {
    dependencies?: Record<string, { version: string; dependencies?: Record<string, unknown> }>;
  };
  expect(Object.keys(tree.dependencies ?? {})).toEqual(['pdf-appliance-replay']);
  expect(tree.dependencies!['pdf-appliance-replay'].version).toBe('0.1.0');
  expect(tree.dependencies!['pdf-appliance-replay'].dependencies ?? {}).toEqual({});
  expect((await readdir(join(mainDir, 'node_modules'))).filter((n) => !n.startsWith('.'))).toEqual([
    'pdf-appliance-replay',
  ]);
  const installed = JSON.parse(
    await readFile(join(mainDir, 'node_modules/pdf-appliance-replay/package.json'), 'utf8'),
  ) as Record<string, unknown>;
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies'])
    expect(installed[field], field).toBeUndefined();

  // 3. The appliance from its tarball. The middleware's tarball is listed too because
  //    pdf-appliance depends on pdf-appliance-replay@0.1.0, which is not on the registry yet.
  await writeFile(
    join(applianceDir, 'package.json'),
    JSON.stringify(
      {
        name: 'scratch-appliance',
        version: '1.0.0',
        private: true,
        dependencies: { 'pdf-appliance': `file:${applianceTgz}`, 'pdf-appliance-replay': `file:${replayTgz}` },
      },
      null,
      2,
    ),
  );
  await npm(['install', '--prefer-offline', '--no-audit', '--no-fund'], applianceDir, 240_000);
  await access(join(applianceDir, 'node_modules/.bin/pdf-appliance'), constants.X_OK);

  // 4. Start the main app; the proxy starts the appliance on the first replay.
  const { started, match } = await startProcess(
    process.execPath,
    ['server.mjs'],
    mainDir,
    /^listening (http:\/\/\S+)$/,
    15_000,
  );
  mainApp = started;
  const mainUrl = match[1];
  const [proxyPort, appliancePort] = [await freePort(), await freePort()];
  const publicUrl = `http://127.0.0.1:${proxyPort}`;
  const applianceEnv = {
    // As on Fly: the appliance loads pages through the proxy, i.e. the main app's public URL.
    TARGET_URL: publicUrl,
    PORT: String(appliancePort),
    LISTEN_ADDRESS: '127.0.0.1',
    METRICS_PORT: '0',
    IDLE_TIMEOUT: '120s',
  };
  // `env -i`: the appliance sees exactly these settings (plus PATH and HOME for npx), as when a
  // user types `TARGET_URL=… npx pdf-appliance`, not this test runner's environment.
  const base = userEnv();
  const envArgs = Object.entries({ PATH: base.PATH ?? '', HOME: base.HOME ?? tmp, ...applianceEnv }).map(
    ([k, v]) => `${k}=${v}`,
  );
  proxy = await startFlyProxy({
    port: proxyPort,
    host: '127.0.0.1',
    entryApp: 'main',
    startTimeoutMs: 60_000,
    apps: [
      { name: 'main', machines: [{ id: 'main-1', url: mainUrl }] },
      {
        name: 'pdf',
        machines: [
          {
            id: 'pdf-1',
            url: `http://127.0.0.1:${appliancePort}`,
            start: {
              command: ['/usr/bin/env', '-i', ...envArgs, 'npx', '--no', 'pdf-appliance'],
              cwd: applianceDir,
              logFile: join(tmp, 'appliance.log'),
            },
          },
        ],
      },
    ],
  });

  // The installed middleware answers the main app's own PDF URL with a replay…
  const direct = await fetch(`${mainUrl}/reports/q3.pdf`, { redirect: 'manual', signal: AbortSignal.timeout(5000) });
  expect(direct.status).toBe(307);
  expect(direct.headers.get('fly-replay')).toBe('app=pdf');

  // …and through the proxy that replay becomes the PDF of the page, rendered by the appliance.
  expect(proxy.starts('pdf')).toBe(0);
  const res = await fetch(`${publicUrl}/reports/q3.pdf`, { signal: AbortSignal.timeout(120_000) });
  const body = Buffer.from(await res.arrayBuffer());
  expect(res.status, body.subarray(0, 300).toString()).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/pdf');
  expect(isPdf(body)).toBe(true);
  const text = (await readPdf(body)).text.join(' ');
  expect(text).toContain('Quarterly report Q3');
  expect(text).toContain('Loaded by the appliance.');
  expect(proxy.starts('pdf')).toBe(1);
});
