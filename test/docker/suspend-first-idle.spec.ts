import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '@playwright/test';
import { isPdf, readPdf } from '../support/pdf.js';
import {
  composeProject,
  containerState,
  ensureDocker,
  fetchBytes,
  freePort,
  login,
  proxyStatus,
  ROOT,
  waitFor,
  type ComposeProject,
} from '../support/docker.js';

// `docker compose up` with PDF_IDLE_ACTION=suspend, and nobody asks for a PDF: the appliance's
// first idle must pause its container through the emulated Machines API, as a Fly suspend
// freezes the Machine. The emulator used to refuse that call (409: it counted the container as
// running only once a request had gone through it), and the appliance exited instead.
// A stack of its own (own project name, own port), apart from compose.spec.ts's.

const IDLE_TIMEOUT_S = 10;

test.describe.configure({ mode: 'serial' });

let stack: ComposeProject;

test.beforeAll(async () => {
  // A first build downloads Chromium's packages; later ones come from the cache.
  test.setTimeout(45 * 60_000);
  await ensureDocker();
  stack = composeProject(`pdfa-suspend-${process.pid}`, await freePort(), {
    PDF_IDLE_ACTION: 'suspend',
    PDF_IDLE_TIMEOUT: `${IDLE_TIMEOUT_S}s`,
    PDF_HEALTH_INTERVAL: '2s',
  });
  await stack.compose(['build'], 40 * 60_000);
  await stack.compose(['up', '-d'], 5 * 60_000);
  await waitFor(
    'the proxy to answer',
    60_000,
    async () => (await proxyStatus(stack.proxyUrl)).machines.length > 0 || undefined,
  );
});

test.afterAll(async () => {
  test.setTimeout(5 * 60_000);
  if (!stack) return;
  try {
    const logs = await stack.compose(['logs', '--no-color', '--timestamps'], 60_000);
    mkdirSync(join(ROOT, 'test-results'), { recursive: true });
    writeFileSync(join(ROOT, 'test-results', `docker-${stack.name}.log`), `${logs.stdout}\n${logs.stderr}`);
  } catch (err) {
    console.error(`[docker] could not collect logs: ${String(err)}`);
  }
  await stack.compose(['down', '-v', '--remove-orphans', '--timeout', '10'], 3 * 60_000);
});

test('the first idle after compose up pauses the appliance container; the first PDF resumes it', async () => {
  test.setTimeout(5 * 60_000);
  // No request at all: the container was started by compose, not by the proxy.
  const paused = await waitFor(
    'the appliance container to be paused (or to exit, which is the bug)',
    (IDLE_TIMEOUT_S + 120) * 1000,
    async () => {
      const s = await containerState(stack.pdfContainer);
      return s.Paused || !s.Running ? s : undefined;
    },
    1000,
  );
  expect(paused, `the appliance exited (code ${paused.ExitCode}) instead of being paused`).toMatchObject({
    Running: true,
    Paused: true,
  });
  const before = (await proxyStatus(stack.proxyUrl)).machines.find((m) => m.app === 'pdf')!;
  expect(before).toMatchObject({ state: 'suspended', starts: 0, suspends: 1 });

  const cookie = await login(stack.proxyUrl, 'alice', 'alice-pw');
  const r = await fetchBytes(`${stack.proxyUrl}/invoices/42.pdf`, { headers: { cookie } });
  expect(r.status, r.body.toString('utf8').slice(0, 300)).toBe(200);
  expect(isPdf(r.body)).toBe(true);
  expect((await readPdf(r.body)).text.join(' ')).toContain('Alice Anderson');
  const after = (await proxyStatus(stack.proxyUrl)).machines.find((m) => m.app === 'pdf')!;
  // Resumed, not restarted.
  expect(after).toMatchObject({ state: 'running', starts: 0, resumes: 1 });
  expect((await containerState(stack.pdfContainer)).Paused).toBe(false);
});
