import { test, expect } from '@playwright/test';
import { ConfigError, defaultImageMemoryMb, defaultRenderMemoryMb, loadConfig } from '../../../src/config/config.js';
import { parseDuration } from '../../../src/config/duration.js';

const base = { TARGET_URL: 'http://127.0.0.1:3000', CHROME_PATH: '/usr/bin/chromium' };

test('defaults', () => {
  const c = loadConfig(base);
  expect(c.port).toBe(3000);
  expect(c.targetOrigin).toBe('http://127.0.0.1:3000');
  expect(c.idleTimeoutMs).toBe(15 * 60_000);
  expect(c.renderTimeoutMs).toBe(30_000);
  expect(c.pdf.format).toMatch(/^letter$/i);
  expect(c.pdf.printBackground).toBe(true);
  expect(c.metricsPort).toBe(9091);
  expect(c.forwardHeaders).toEqual(
    expect.arrayContaining(['cookie', 'authorization', 'accept-language', 'user-agent']),
  );
});

test('IDLE_TIMEOUT accepts 90s, 15m, 1h, a bare number of minutes, and 0 (disabled)', () => {
  const idle = (v: string) => loadConfig({ ...base, IDLE_TIMEOUT: v }).idleTimeoutMs;
  expect(idle('90s')).toBe(90_000);
  expect(idle('15m')).toBe(900_000);
  expect(idle('1h')).toBe(3_600_000);
  expect(idle('5')).toBe(300_000);
  expect(idle('0')).toBe(0);
});

test('parseDuration', () => {
  expect(parseDuration('250ms', 's')).toBe(250);
  expect(parseDuration('1.5s', 's')).toBe(1500);
  expect(parseDuration('2', 's')).toBe(2000);
  expect(parseDuration('soon', 's')).toBeNull();
  expect(parseDuration('-1s', 's')).toBeNull();
});

test('TARGET_URL from FLY_APP_NAME ending in -pdf; HOSTNAME is never read', () => {
  const c = loadConfig({ CHROME_PATH: '/usr/bin/chromium', FLY_APP_NAME: 'shop-pdf', HOSTNAME: 'evil.example' });
  expect(c.targetOrigin).toBe('https://shop.fly.dev');
  expect(() => loadConfig({ CHROME_PATH: '/usr/bin/chromium', FLY_APP_NAME: 'shop', HOSTNAME: 'x' })).toThrow(
    /TARGET_URL/,
  );
});

const bad: Array<[Record<string, string>, RegExp]> = [
  [{ TARGET_URL: 'ftp://x' }, /^TARGET_URL=/],
  [{ TARGET_URL: 'https://x.example/path' }, /^TARGET_URL=/],
  [{ TARGET_URL: 'https://user:pw@x.example' }, /^TARGET_URL=/],
  [{ PORT: 'abc' }, /^PORT=/],
  [{ PORT: '70000' }, /^PORT=/],
  [{ IDLE_TIMEOUT: 'forever' }, /^IDLE_TIMEOUT=/],
  [{ RENDER_TIMEOUT: '10ms' }, /^RENDER_TIMEOUT=/],
  [{ CONCURRENCY: '0' }, /^CONCURRENCY=/],
  [{ FORMAT: 'B52' }, /^FORMAT=/],
  [{ MARGIN: 'lots' }, /^MARGIN=/],
  [{ SCALE: '9' }, /^SCALE=/],
  [{ LANDSCAPE: 'maybe' }, /^LANDSCAPE=/],
  [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL=/],
  [{ CHROME_PATH: '/nope/chrome' }, /^CHROME_PATH=/],
  [{ CHROME_SANDBOX: 'sometimes' }, /^CHROME_SANDBOX=/],
  [{ FORWARD_HEADERS: 'x-forwarded-for' }, /^FORWARD_HEADERS=/],
  [{ FORWARD_HEADERS: 'fly-client-ip' }, /^FORWARD_HEADERS=/],
  // Forwarding the secret's header would hand REPLAY_SECRET to the main app's pages.
  [
    { REPLAY_SECRET_HEADER: 'x-internal-token', FORWARD_HEADERS: 'x-internal-token' },
    /^FORWARD_HEADERS names x-internal-token, the header carrying REPLAY_SECRET/,
  ],
  [{ ALLOW_ORIGINS: 'not a url' }, /^ALLOW_ORIGINS=/],
  [{ TARGET_HOSTS: 'a b' }, /^TARGET_HOSTS=/],
  [{ REPLAY_SECRET: 'short' }, /^REPLAY_SECRET/],
  [{ PDF_STANDARD: 'PDF/A-1b' }, /^PDF_STANDARD=/],
  [{ IMAGE_WIDTH: '10' }, /^IMAGE_WIDTH=/],
  [{ IMAGE_HEIGHT: '9000' }, /^IMAGE_HEIGHT=/],
  [{ IMAGE_SCALE: '5' }, /^IMAGE_SCALE=/],
  [{ IMAGE_FULL_PAGE: 'sometimes' }, /^IMAGE_FULL_PAGE=/],
  [{ IMAGE_QUALITY: '0' }, /^IMAGE_QUALITY=/],
  [{ IMAGE_MAX_PIXELS: '1e9' }, /^IMAGE_MAX_PIXELS=/],
  [{ IDLE_ACTION: 'sleep' }, /^IDLE_ACTION=/],
  // Checked whenever set, not only with IDLE_ACTION=suspend: a typo shows at the first start.
  [{ MACHINES_API_URL: 'ftp://_api.internal' }, /^MACHINES_API_URL=/],
  [{ FLY_API_TOKEN: 'two words' }, /^FLY_API_TOKEN=/],
  [
    { IDLE_ACTION: 'suspend', FLY_APP_NAME: 'shop-pdf', FLY_MACHINE_ID: 'm1' },
    /^IDLE_ACTION=suspend needs FLY_API_TOKEN/,
  ],
  [
    { IDLE_ACTION: 'suspend', FLY_API_TOKEN: 'FlyV1 x', FLY_APP_NAME: 'shop-pdf' },
    /^IDLE_ACTION=suspend needs FLY_MACHINE_ID/,
  ],
];
for (const [env, message] of bad) {
  test(`rejects ${JSON.stringify(env)} with one line naming the variable`, () => {
    let err: unknown;
    try {
      loadConfig({ ...base, ...env });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toMatch(message);
    expect(msg).not.toContain('\n');
  });
}

test('image defaults, and PDF_STANDARD (none = off)', () => {
  expect(loadConfig(base).image).toEqual({
    width: 1280,
    height: 800,
    scale: 1,
    fullPage: false,
    quality: 85,
    maxPixels: 25_000_000,
  });
  expect(loadConfig(base).pdf.standard).toBeNull();
  expect(loadConfig({ ...base, PDF_STANDARD: 'none' }).pdf.standard).toBeNull();
  expect(loadConfig({ ...base, PDF_STANDARD: 'pdf/a-2b' }).pdf.standard).toBe('PDF/A-2b');
});

test('PDF_STANDARD without Ghostscript stops the start with one line naming both', () => {
  const path = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    expect(() => loadConfig({ ...base, PDF_STANDARD: 'PDF/A-3b' })).toThrow(
      /^PDF_STANDARD=PDF\/A-3b cannot be met: PDF\/A output needs Ghostscript: no gs executable on PATH \(Debian package ghostscript\)$/,
    );
  } finally {
    process.env.PATH = path;
  }
});

test("a secret's value never appears in a config error (REPLAY_SECRET, FLY_API_TOKEN)", () => {
  for (const env of [{ REPLAY_SECRET: 'tiny' }, { FLY_API_TOKEN: 'FlyV1 fm2_secret part' }]) {
    const value = Object.values(env)[0]!;
    expect(() => loadConfig({ ...base, ...env })).toThrow(ConfigError);
    try {
      loadConfig({ ...base, ...env });
    } catch (e) {
      expect((e as Error).message).toMatch(new RegExp(`^${Object.keys(env)[0]}`));
      expect((e as Error).message).not.toContain(value.split(' ').at(-1));
    }
  }
});

test('the render memory budget defaults from the machine and CONCURRENCY, and a bad value stops the start', () => {
  const MB = 1024 * 1024;
  expect(defaultRenderMemoryMb(1024 * MB, 3)).toBe(176);
  expect(defaultRenderMemoryMb(2048 * MB, 3)).toBe(432);
  expect(defaultRenderMemoryMb(512 * MB, 8)).toBe(128);
  expect(defaultRenderMemoryMb(64 * 1024 * MB, 1)).toBe(2048);
  const c = loadConfig({ TARGET_URL: 'http://127.0.0.1:1', CONCURRENCY: '4' }, '0', { memoryBytes: 2048 * MB });
  expect(c.renderMemoryBytes).toBe(324 * MB);
  expect(() =>
    loadConfig({ TARGET_URL: 'http://127.0.0.1:1', RENDER_MEMORY_MB: 'lots' }, '0', { memoryBytes: 2048 * MB }),
  ).toThrow(/^RENDER_MEMORY_MB="lots" is invalid/);
});

test('MACHINE_MEMORY_MB replaces the detected memory in every memory budget; IMAGE_MEMORY_MB has its own default', () => {
  const MB = 1024 * 1024;
  const detected = { memoryBytes: 24 * 1024 * MB };
  const onOneGb = loadConfig({ TARGET_URL: 'http://127.0.0.1:1', MACHINE_MEMORY_MB: '1024' }, '0', detected);
  expect(onOneGb.renderMemoryBytes).toBe(176 * MB);
  expect(onOneGb.memoryLimitBytes).toBe((1024 - 320) * MB);
  expect(onOneGb.imageMemoryBytes).toBe(176 * MB);
  expect(defaultImageMemoryMb(2048 * MB)).toBe(432);
  expect(defaultImageMemoryMb(256 * MB)).toBe(64);
  // Unset: what was detected.
  expect(loadConfig({ TARGET_URL: 'http://127.0.0.1:1' }, '0', detected).memoryLimitBytes).toBe((24 * 1024 - 320) * MB);
  expect(
    loadConfig({ TARGET_URL: 'http://127.0.0.1:1', MACHINE_MEMORY_MB: '1024', IMAGE_MEMORY_MB: '300' }, '0', detected)
      .imageMemoryBytes,
  ).toBe(300 * MB);
  for (const bad of ['1g', '100', '-1', '2000000']) {
    expect(() => loadConfig({ TARGET_URL: 'http://127.0.0.1:1', MACHINE_MEMORY_MB: bad }, '0', detected)).toThrow(
      /^MACHINE_MEMORY_MB=".*" is invalid: expected an integer from 256 to 1048576/,
    );
  }
  expect(() => loadConfig({ TARGET_URL: 'http://127.0.0.1:1', IMAGE_MEMORY_MB: '8' }, '0', detected)).toThrow(
    /^IMAGE_MEMORY_MB="8" is invalid/,
  );
});
