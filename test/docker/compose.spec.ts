import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '@playwright/test';
import { isPdf, readLinks, readPdf } from '../support/pdf.js';
import {
  composeNames,
  composeProject,
  containerState,
  dockerExec,
  ensureDocker,
  fetchBytes,
  freePort,
  login,
  processesIn,
  proxyStatus,
  ROOT,
  run,
  stackState,
  TEST_IMAGE_TAG,
  userEnv,
  waitFor,
  type ComposeNames,
  type ComposeProject,
  type ContainerState,
  type StackState,
} from '../support/docker.js';

// The whole compose stack (compose.yaml) built from the Dockerfile, driven only through the
// Fly-proxy emulator's published port, as a user with a browser would.

const IDLE_TIMEOUT_S = 20;
const HEALTH_INTERVAL = '2s';

test.describe.configure({ mode: 'serial' });

let stack: ComposeProject;
let userNames: ComposeNames;
let userBefore: StackState;
let cookie: string;
let upAt = 0;
/** Measurements for the closing note; printed and attached as annotations. */
const measured: Record<string, string> = {};

function note(key: string, value: string): void {
  measured[key] = value;
  try {
    test.info().annotations.push({ type: key, description: value });
  } catch {
    // Outside a test (e.g. a hook): the console line and the JSON file still carry it.
  }
  console.log(`[docker] ${key}: ${value}`);
}

const pdfUrl = (path: string) => `${stack.proxyUrl}${path}`;

async function invoicePdf(): Promise<{ text: string; ms: number }> {
  const r = await fetchBytes(pdfUrl('/invoices/42.pdf'), { headers: { cookie } });
  expect(r.status, r.body.toString('utf8').slice(0, 300)).toBe(200);
  expect(r.headers.get('content-type')).toBe('application/pdf');
  expect(isPdf(r.body)).toBe(true);
  const pdf = await readPdf(r.body);
  return { text: pdf.text.join(' '), ms: r.ms };
}

test.beforeAll(async () => {
  // First run: the Chromium + fonts layer downloads 274 MB of Debian packages.
  test.setTimeout(45 * 60_000);
  await ensureDocker();
  // The pid keeps parallel runs (and a developer's own `docker compose up`) apart.
  stack = composeProject(`pdfa-test-${process.pid}`, await freePort(), {
    PDF_IDLE_TIMEOUT: `${IDLE_TIMEOUT_S}s`,
    PDF_HEALTH_INTERVAL: HEALTH_INTERVAL,
  });

  // A developer's own stack, as it is before the tests build anything: it must be so after.
  userNames = await composeNames(userEnv());
  userBefore = await stackState(userNames);

  let started = performance.now();
  await stack.compose(['build'], 40 * 60_000);
  note('compose build (s)', ((performance.now() - started) / 1000).toFixed(1));
  const size = Number(
    (
      await run('docker', ['image', 'inspect', '--format', '{{.Size}}', `pdf-appliance:${TEST_IMAGE_TAG}`])
    ).stdout.trim(),
  );
  note('appliance image size (MB)', (size / 1e6).toFixed(0));

  started = performance.now();
  await stack.compose(['up', '-d'], 5 * 60_000);
  upAt = performance.now();
  note('compose up -d (s)', ((upAt - started) / 1000).toFixed(1));
  await waitFor(
    'the proxy to answer',
    60_000,
    async () => (await proxyStatus(stack.proxyUrl)).machines.length > 0 || undefined,
  );
});

test.afterAll(async () => {
  test.setTimeout(5 * 60_000);
  if (!stack) return;
  // Logs first (the containers are gone after `down`), kept for post-mortems.
  try {
    const logs = await stack.compose(['logs', '--no-color', '--timestamps'], 60_000);
    mkdirSync(join(ROOT, 'test-results'), { recursive: true });
    writeFileSync(join(ROOT, 'test-results', `docker-${stack.name}.log`), `${logs.stdout}\n${logs.stderr}`);
    writeFileSync(
      join(ROOT, 'test-results', `docker-${stack.name}.measurements.json`),
      JSON.stringify(measured, null, 2),
    );
  } catch (err) {
    console.error(`[docker] could not collect logs: ${String(err)}`);
  }
  await stack.compose(['down', '-v', '--remove-orphans', '--timeout', '10'], 3 * 60_000);
});

test("the test stack has names of its own: project, images, containers, none of a developer's `docker compose up`", async () => {
  const mine = await composeNames(stack.env);
  expect(mine.project).toBe(stack.name);
  expect(userNames.project).toBe('pdf-appliance');
  expect(mine.images.filter((i) => userNames.images.includes(i))).toEqual([]);
  expect(mine.containers.filter((c) => userNames.containers.includes(c))).toEqual([]);
  for (const image of mine.images) expect(image).toMatch(new RegExp(`:${TEST_IMAGE_TAG}$`));
});

test("a signed-in PDF request through the proxy returns that user's invoice", async () => {
  test.setTimeout(5 * 60_000);
  cookie = await login(stack.proxyUrl, 'alice', 'alice-pw');
  const { text, ms } = await invoicePdf();
  expect(text).toContain('Invoice #42');
  expect(text).toContain('Alice Anderson');
  note('compose up → first PDF (s)', ((performance.now() - upAt) / 1000).toFixed(1));
  note('first PDF request (ms)', String(ms));

  // The same request without the session must not produce Alice's invoice.
  const anon = await fetchBytes(pdfUrl('/invoices/42.pdf'));
  if (anon.status === 200 && isPdf(anon.body)) {
    expect((await readPdf(anon.body)).text.join(' ')).not.toContain('Alice Anderson');
  } else {
    expect(anon.status).toBeGreaterThanOrEqual(300);
  }
});

test('Chromium in the appliance container runs as a non-root user, sandbox choice visible', async () => {
  test.setTimeout(3 * 60_000);
  // A render right before looking keeps the container awake and Chromium surely started.
  await invoicePdf();
  const procs = await processesIn(stack.pdfContainer);
  const chromium = procs.filter((p) => /chrom/i.test(p.name));
  expect(chromium.length, JSON.stringify(procs)).toBeGreaterThan(0);
  // runc:[2:INIT] is docker setting up a concurrent `docker exec` (the HEALTHCHECK) before it
  // drops to the container's user; it is not part of the appliance.
  expect(
    procs.filter((p) => p.uid === 0 && !p.name.startsWith('runc')),
    'processes running as root',
  ).toEqual([]);
  expect(chromium.every((p) => p.uid === 1000)).toBe(true);
  expect(procs.find((p) => p.pid === 1)?.name).toBe('tini');

  const health = JSON.parse(
    await dockerExec(stack.pdfContainer, [
      'node',
      '-e',
      "fetch('http://127.0.0.1:3000/healthz').then(r=>r.text()).then(t=>console.log(t))",
    ]),
  ) as { status: string; browser: { sandbox: boolean | null } };
  expect(health.status).toBe('ok');
  expect(typeof health.browser.sandbox).toBe('boolean');
  const logs = (await run('docker', ['logs', stack.pdfContainer])).stdout;
  // Under docker's default seccomp profile the sandbox cannot start; the fallback must say so.
  if (health.browser.sandbox === false) expect(logs).toContain('--no-sandbox');
  note('Chromium sandbox in docker (default seccomp, uid 1000)', String(health.browser.sandbox));
});

test('an emoji/CJK page renders glyphs, not boxes', async () => {
  test.setTimeout(3 * 60_000);
  const r = await fetchBytes(pdfUrl('/t/unicode.pdf'));
  expect(r.status).toBe(200);
  const pdf = await readPdf(r.body);
  // NFKC: Chromium maps some CJK glyphs to compatibility radicals in the text layer. Spaces go
  // because emoji and CJK runs come out as separate text items.
  const text = pdf.text.join(' ').normalize('NFKC').replace(/\s+/g, '');
  for (const s of ['Zażółćgęśląjaźń', 'Přílišžluťoučkýkůň', '日本語のテキスト', '中文文本', '한국어', '😀', '🎉']) {
    expect(text, `missing ${s}`).toContain(s);
  }
  // A missing glyph prints as .notdef, which has no Unicode mapping and would leave U+FFFD or nothing.
  expect(text).not.toContain('\uFFFD');
});

test('links in the PDF lead to the address the user used, not to http://main:3000; signed out, the login leads back to the PDF', async () => {
  test.setTimeout(3 * 60_000);
  const r = await fetchBytes(pdfUrl('/t/links.pdf'));
  expect(r.status, r.body.toString('utf8').slice(0, 300)).toBe(200);
  const links = await readLinks(r.body);
  const urls = links.flatMap((l) => (l.url !== undefined ? [l.url] : []));
  // The page was loaded from TARGET_URL=http://main:3000; the user came through the proxy.
  expect(urls).toContain(`${stack.proxyUrl}/docs/guide`);
  expect(urls).toContain(`${stack.proxyUrl}/docs/guide?x=1#intro`);
  expect(urls).toContain('https://example.org/elsewhere?q=1');
  expect(urls.filter((u) => u.startsWith('http://main:3000'))).toEqual([]);
  expect(links.filter((l) => l.internal)).toHaveLength(1);

  const anon = await fetchBytes(pdfUrl('/invoices/42.pdf'));
  expect(anon.status).toBe(302);
  expect(anon.headers.get('location')).toBe(`${stack.proxyUrl}/login?next=${encodeURIComponent('/invoices/42.pdf')}`);
});

test('the appliance exits 0 when idle despite its HEALTHCHECK, and the next PDF request starts it again', async () => {
  test.setTimeout(6 * 60_000);
  const seen = new Set<string>();
  const exited: ContainerState = await waitFor(
    'the appliance container to exit on its own',
    (IDLE_TIMEOUT_S + 120) * 1000,
    async () => {
      const s = await containerState(stack.pdfContainer);
      if (s.Health) seen.add(s.Health.Status);
      return s.Running ? undefined : s;
    },
    1000,
  );
  expect(exited.ExitCode).toBe(0);
  expect(exited.OOMKilled).toBe(false);
  expect([...seen]).toContain('healthy');

  // The checks ran through the idle period right up to the end, and passed: /healthz does not
  // count as activity, or the container would never have exited.
  const finished = Date.parse(exited.FinishedAt);
  const recent = (exited.Health?.Log ?? []).filter((e) => Date.parse(e.Start) > finished - 15_000);
  expect(recent.length, JSON.stringify(exited.Health)).toBeGreaterThanOrEqual(2);
  expect(recent.filter((e) => e.ExitCode === 0).length).toBeGreaterThanOrEqual(1);
  const idleMs = finished - Date.parse(exited.StartedAt);
  expect(idleMs).toBeGreaterThanOrEqual(IDLE_TIMEOUT_S * 1000);

  const before = (await proxyStatus(stack.proxyUrl)).starts.pdf ?? 0;
  const { text, ms } = await invoicePdf();
  expect(text).toContain('Invoice #42');
  expect(text).toContain('Alice Anderson');
  expect((await proxyStatus(stack.proxyUrl)).starts.pdf).toBe(before + 1);
  expect((await containerState(stack.pdfContainer)).Running).toBe(true);
  note('stopped container → PDF, through the proxy (ms)', String(ms));
});

test('IDLE_ACTION=suspend: idle, the appliance has its container paused through the Machines API; the next PDF resumes it warm', async () => {
  test.setTimeout(6 * 60_000);
  // The same service, recreated in suspend mode (compose.yaml's PDF_IDLE_ACTION knob).
  await run('docker', ['compose', '-p', stack.name, 'up', '-d', '--no-deps', '--force-recreate', 'pdf'], {
    env: { ...stack.env, PDF_IDLE_ACTION: 'suspend' },
    timeoutMs: 3 * 60_000,
  });
  expect((await invoicePdf()).text).toContain('Invoice #42');
  const paused = await waitFor(
    'the appliance container to be paused',
    (IDLE_TIMEOUT_S + 120) * 1000,
    async () => {
      const s = await containerState(stack.pdfContainer);
      return s.Paused ? s : undefined;
    },
    1000,
  );
  expect(paused.Running).toBe(true);
  const before = await proxyStatus(stack.proxyUrl);
  const { text, ms } = await invoicePdf();
  expect(text).toContain('Alice Anderson');
  const after = await proxyStatus(stack.proxyUrl);
  const resumes = (st: typeof after) => st.machines.find((m) => m.app === 'pdf')?.resumes ?? 0;
  expect(resumes(after)).toBe(resumes(before) + 1);
  // Resumed, not restarted: the same container run, no new start.
  expect(after.starts.pdf).toBe(before.starts.pdf);
  expect((await containerState(stack.pdfContainer)).Paused).toBe(false);
  note('paused container → PDF, through the proxy (ms)', String(ms));
});

test("a developer's own stack is untouched: the images of its tags and its containers are as they were", async () => {
  // Last, after every build and recreate above. An image absent before must still be absent.
  expect(await stackState(userNames)).toEqual(userBefore);
});
