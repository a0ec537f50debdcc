import { existsSync, readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import type { MachinesApi } from '../admission/suspend.js';
import { parseDuration } from './duration.js';
import { checkPdfASupport } from '../output/pdfa-support.js';
import { parsePdfStandard, type PdfStandard } from '../output/pdfa-standard.js';
import { MAX_IMAGE_SIDE, QUALITY_LIMITS, SCALE_LIMITS, VIEWPORT_LIMITS, type ImageDefaults } from '../render/image-plan.js';
import { parseNumber } from '../render/page-hints.js';
import { parseFormat, parseMargin, PDF_SCALE_LIMITS, type PaperFormat, type PdfDefaults } from '../render/print-plan.js';
import { DEFAULT_SECRET_HEADER } from 'pdf-appliance-replay';
import { CONTEXT_HEADERS } from '../security/credentials.js';
import { normalizeOrigin } from '../security/ssrf.js';

/** Everything the appliance reads from its environment, validated once at start. */
export interface Config {
  port: number;
  listenAddress: string;
  metricsPort: number; // 0 = off
  /** The main app's origin, e.g. `https://example.com` (no path). */
  targetOrigin: string;
  /** Extra host names of the same main app (custom domains) the replayed `Host` may select. */
  targetHosts: string[];
  chromePath: string;
  sandbox: 'auto' | 'on' | 'off';
  logLevel: string;
  idleTimeoutMs: number; // 0 = never exit when idle
  /** What idle means: exit 0 (Fly leaves the Machine stopped), or ask the Machines API to suspend it (IDLE_ACTION). */
  idleAction: 'exit' | 'suspend';
  /** For IDLE_ACTION=suspend: the Machines API and a token that may suspend this Machine. Never logged. */
  machinesApi: MachinesApi | null;
  renderTimeoutMs: number;
  queueTimeoutMs: number;
  shutdownGraceMs: number;
  concurrency: number;
  queueSize: number;
  maxRendersPerBrowser: number;
  /** How long an idle workspace (one user's browser context) is kept for that user before it is disposed (WORKSPACE_LINGER). */
  workspaceLingerMs: number;
  javascript: boolean;
  /** How long the page's network must be quiet after `load` before printing. */
  quietWindowMs: number;
  pdf: PdfDefaults;
  /** Defaults of the image outputs (IMAGE_*), and the largest image rendered. */
  image: ImageDefaults;
  /** Lower-cased request header names forwarded to the main app's origin (and only there). */
  forwardHeaders: string[];
  allowOrigins: string[];
  replaySecret: string | null;
  replaySecretHeader: string;
  assetCacheBytes: number;
  /** Private memory one renderer process may use before its render is stopped (RENDER_MEMORY_MB). */
  renderMemoryBytes: number;
  /** What Chromium's whole process tree may use: the machine's (or container's) memory minus a reserve. */
  memoryLimitBytes: number;
  /** What image captures may use at once, outside the renders' budgets (IMAGE_MEMORY_MB). */
  imageMemoryBytes: number;
  /** Where users reach the main app, when TARGET_URL is an address only the appliance knows (PUBLIC_URL). */
  publicOrigin: string | null;
  flyAppName: string | null;
  flyMachineId: string | null;
  version: string;
}

/**
 * PDF_STANDARD: archival output for every PDF (a page may still say `none`). Ghostscript must
 * be there at start, not discovered missing by the first user.
 */
function pdfStandardFrom(value: string | undefined, fail: (name: string, accepted: string) => never): PdfStandard | null {
  if (value === undefined || value.toLowerCase() === 'none') return null;
  const standard = parsePdfStandard(value) ?? fail('PDF_STANDARD', 'PDF/A-2b, PDF/A-3b or none');
  try {
    checkPdfASupport();
  } catch (err) {
    throw new ConfigError(`PDF_STANDARD=${standard} cannot be met: ${err instanceof Error ? err.message : String(err)}`);
  }
  return standard;
}

/** What the machine offers, read once; tests pass their own. */
export interface Machine {
  memoryBytes: number;
}

/**
 * The machine as the appliance budgets it: MACHINE_MEMORY_MB when set, else what was detected.
 * The override is for a detection that is wrong (a limit the cgroup files do not show) and for
 * tests that run the appliance as if on a smaller machine.
 */
function machineFrom(raw: string | undefined, detected: Machine, fail: (name: string, accepted: string) => never): Machine {
  if (raw === undefined) return detected;
  const mb = Number(raw);
  if (!/^\d+$/.test(raw) || mb < MIN_MACHINE_MB || mb > MAX_MACHINE_MB) fail('MACHINE_MEMORY_MB', `an integer from ${MIN_MACHINE_MB} to ${MAX_MACHINE_MB} (megabytes)`);
  return { memoryBytes: mb * MB };
}

/** The memory limit of this container (cgroup v2 or v1) when there is one, else the machine's. */
export function detectMachine(): Machine {
  const total = totalmem();
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    try {
      const n = Number(readFileSync(file, 'utf8').trim());
      if (Number.isFinite(n) && n > 0 && n < total) return { memoryBytes: n };
    } catch {
      // not this cgroup version
    }
  }
  return { memoryBytes: total };
}

const MB = 1024 * 1024;
/** Node, the kernel and Chromium's browser, GPU and utility processes: kept out of the renders' share. */
const RESERVED_MB = 320;
/** Less than this cannot run Chromium at all; more than 1 TB is a typo. */
const MIN_MACHINE_MB = 256;
const MAX_MACHINE_MB = 1024 * 1024;

/**
 * RENDER_MEMORY_MB when unset: three quarters of the memory left after the reserve, shared by
 * CONCURRENCY renders, between 128 MB and 2 GB. On a 1 GB machine with CONCURRENCY=3: 176 MB.
 */
export function defaultRenderMemoryMb(machineBytes: number, concurrency: number): number {
  const share = ((machineBytes / MB - RESERVED_MB) * 0.75) / concurrency;
  return Math.max(128, Math.min(2048, Math.floor(share)));
}

/**
 * IMAGE_MEMORY_MB when unset: the quarter of the memory after the reserve that the default
 * RENDER_MEMORY_MB leaves to others, at least 64 MB. On a 1 GB machine: 176 MB, room for two
 * large PNGs and a viewport image at once (their costs are in render/capture.ts).
 */
export function defaultImageMemoryMb(machineBytes: number): number {
  return Math.max(64, Math.floor((machineBytes / MB - RESERVED_MB) * 0.25));
}

export class ConfigError extends Error {}

/**
 * The identity and locale headers a main app needs to render a page as the user sees it: the
 * user's cookie and Authorization, and the context headers (credentials.ts), which describe the
 * request rather than the user.
 */
export const DEFAULT_FORWARD_HEADERS = ['cookie', 'authorization', ...CONTEXT_HEADERS];

/**
 * Never forwarded, whatever FORWARD_HEADERS says: hop-by-hop headers, headers that describe this
 * connection rather than the user, and the proxy's own headers (forwarding `fly-*` could steer
 * Fly's proxy; forwarding `x-forwarded-*` would let a client claim another IP to the main app).
 */
const NEVER_FORWARD = /^(connection|keep-alive|proxy-.*|te|trailer|transfer-encoding|upgrade|host|content-length|content-type|accept-encoding|fly-.*|x-forwarded-.*|forwarded|via|x-pdf-appliance.*|expect)$/;

export function isNeverForwarded(name: string): boolean {
  return NEVER_FORWARD.test(name.toLowerCase());
}

// The headless shell first (isHeadlessShell in browser/chromium.ts says why).
const CHROME_CANDIDATES = [
  '/usr/lib/chromium/chromium-headless-shell',
  '/usr/bin/chromium-headless-shell',
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome-stable',
  '/usr/bin/google-chrome',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env, version = '0.0.0', detected: Machine = detectMachine()): Config {
  const read = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const fail = (name: string, accepted: string): never => {
    throw new ConfigError(`${name}=${JSON.stringify(env[name])} is invalid: expected ${accepted}`);
  };
  const int = (name: string, def: number, min: number, max: number): number => {
    const v = read(name);
    if (v === undefined) return def;
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) fail(name, `an integer from ${min} to ${max}`);
    return n;
  };
  const bool = (name: string, def: boolean): boolean => {
    const v = read(name)?.toLowerCase();
    if (v === undefined) return def;
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off'].includes(v)) return false;
    return fail(name, 'true or false');
  };
  const duration = (name: string, def: string, bare: 'ms' | 's' | 'm', min: number): number => {
    const v = read(name) ?? def;
    const ms = parseDuration(v, bare);
    if (ms === null || (ms !== 0 && ms < min)) fail(name, `a duration like 90s, 15m, 1h (a bare number means ${bare === 'm' ? 'minutes' : bare === 's' ? 'seconds' : 'milliseconds'})`);
    return ms as number;
  };
  const list = (name: string): string[] =>
    (read(name) ?? '').split(',').map((s) => s.trim()).filter(Boolean);

  const targetOrigin = targetFrom(read('TARGET_URL'), read('FLY_APP_NAME'), fail);

  const targetHosts = list('TARGET_HOSTS').map((h) => {
    const host = h.toLowerCase();
    if (!/^[a-z0-9.-]+(:\d{1,5})?$/.test(host)) fail('TARGET_HOSTS', 'a comma-separated list of host names (host or host:port)');
    return host;
  });

  const chromePath = read('CHROME_PATH') ?? CHROME_CANDIDATES.find((p) => existsSync(p));
  if (!chromePath) {
    throw new ConfigError(`CHROME_PATH is not set and no Chromium was found in ${CHROME_CANDIDATES.slice(0, 5).join(', ')}`);
  }
  if (!existsSync(chromePath)) fail('CHROME_PATH', 'the path of a Chromium or Chrome executable');

  const sandbox = (read('CHROME_SANDBOX') ?? 'auto').toLowerCase();
  if (!['auto', 'on', 'off'].includes(sandbox)) fail('CHROME_SANDBOX', 'auto, on or off');

  const logLevel = (read('LOG_LEVEL') ?? 'info').toLowerCase();
  if (!LOG_LEVELS.includes(logLevel)) fail('LOG_LEVEL', LOG_LEVELS.join(', '));

  const format = read('FORMAT') ?? 'letter';
  const parsedFormat = parseFormat(format);
  if (!parsedFormat) fail('FORMAT', 'a paper format such as letter, legal, A4, A3, A5');
  const margin = parseMargin(read('MARGIN') ?? '0.4in');
  if (!margin) fail('MARGIN', 'one to four CSS lengths, e.g. 10mm or "0.5in 1in"');
  const decimal = (name: string, def: number, min: number, max: number): number => {
    const v = read(name);
    if (v === undefined) return def;
    return parseNumber(v, min, max) ?? fail(name, `a number from ${min} to ${max}`);
  };
  const scale = decimal('SCALE', 1, PDF_SCALE_LIMITS.min, PDF_SCALE_LIMITS.max);
  const standard = pdfStandardFrom(read('PDF_STANDARD'), fail);

  const forwardExtra = list('FORWARD_HEADERS').map((h) => h.toLowerCase());
  for (const h of forwardExtra) {
    if (!/^[a-z0-9-]+$/.test(h) || isNeverForwarded(h)) {
      fail('FORWARD_HEADERS', 'header names other than hop-by-hop, host, content-*, accept-encoding, fly-*, x-forwarded-*, via');
    }
  }

  const allowOrigins = list('ALLOW_ORIGINS').map((o) => {
    try {
      return normalizeOrigin(o);
    } catch {
      return fail('ALLOW_ORIGINS', 'a comma-separated list of origins like https://cdn.example.com');
    }
  });

  const replaySecret = read('REPLAY_SECRET') ?? null;
  if (replaySecret !== null && replaySecret.length < 16) {
    throw new ConfigError('REPLAY_SECRET is too short: use at least 16 characters');
  }
  const replaySecretHeader = (read('REPLAY_SECRET_HEADER') ?? DEFAULT_SECRET_HEADER).toLowerCase();
  if (!/^[a-z0-9-]+$/.test(replaySecretHeader)) fail('REPLAY_SECRET_HEADER', 'a header name');
  // The secret proves the request came through Fly's proxy; forwarding it would hand it to the main app's pages.
  if (forwardExtra.includes(replaySecretHeader)) {
    throw new ConfigError(`FORWARD_HEADERS names ${replaySecretHeader}, the header carrying REPLAY_SECRET: it must never be forwarded`);
  }

  let publicOrigin: string | null = null;
  const publicUrl = read('PUBLIC_URL');
  if (publicUrl !== undefined) {
    try {
      publicOrigin = normalizeOrigin(publicUrl);
    } catch {
      fail('PUBLIC_URL', 'an http(s) origin such as https://example.com');
    }
  }

  const idleAction = (read('IDLE_ACTION') ?? 'exit').toLowerCase();
  if (idleAction !== 'exit' && idleAction !== 'suspend') fail('IDLE_ACTION', 'exit or suspend');
  let machinesApi: Config['machinesApi'] = null;
  if (idleAction === 'suspend') {
    // Fly sets FLY_APP_NAME and FLY_MACHINE_ID in every Machine; the token is a secret the
    // operator sets (fly secrets set FLY_API_TOKEN=...).
    for (const name of ['FLY_APP_NAME', 'FLY_MACHINE_ID', 'FLY_API_TOKEN']) {
      if (read(name) === undefined) throw new ConfigError(`IDLE_ACTION=suspend needs ${name}${name === 'FLY_API_TOKEN' ? ' (a token allowed to suspend this app\'s Machines: see the README, "Suspend instead of exit")' : ' (set by Fly in every Machine)'}`);
    }
    const apiUrl = read('MACHINES_API_URL') ?? 'http://_api.internal:4280';
    let api: URL;
    try {
      api = new URL(apiUrl);
    } catch {
      return fail('MACHINES_API_URL', 'an http(s) URL such as http://_api.internal:4280');
    }
    if (api.protocol !== 'http:' && api.protocol !== 'https:') fail('MACHINES_API_URL', 'an http(s) URL such as http://_api.internal:4280');
    const token = read('FLY_API_TOKEN')!;
    if (/[\x00-\x20\x7f]/.test(token.replace(/^FlyV1 /, ''))) fail('FLY_API_TOKEN', 'a token without spaces or control characters');
    machinesApi = { url: api.href.replace(/\/$/, ''), token, app: read('FLY_APP_NAME')!, machine: read('FLY_MACHINE_ID')! };
  }

  const machine = machineFrom(read('MACHINE_MEMORY_MB'), detected, fail);
  const concurrency = int('CONCURRENCY', 3, 1, 64);
  const renderMemoryMb = int('RENDER_MEMORY_MB', defaultRenderMemoryMb(machine.memoryBytes, concurrency), 64, 65_536);
  return {
    port: int('PORT', 3000, 0, 65535),
    listenAddress: read('LISTEN_ADDRESS') ?? '0.0.0.0',
    metricsPort: int('METRICS_PORT', 9091, 0, 65535),
    targetOrigin,
    targetHosts,
    chromePath,
    sandbox: sandbox as Config['sandbox'],
    logLevel,
    idleTimeoutMs: duration('IDLE_TIMEOUT', '15m', 'm', 1000),
    idleAction: idleAction as Config['idleAction'],
    machinesApi,
    renderTimeoutMs: duration('RENDER_TIMEOUT', '30s', 's', 100),
    queueTimeoutMs: duration('QUEUE_TIMEOUT', '10s', 's', 100),
    shutdownGraceMs: duration('SHUTDOWN_GRACE', '25s', 's', 0),
    concurrency,
    queueSize: int('QUEUE_SIZE', concurrency * 4, 0, 10_000),
    maxRendersPerBrowser: int('MAX_RENDERS_PER_BROWSER', 200, 1, 1_000_000),
    workspaceLingerMs: duration('WORKSPACE_LINGER', '30s', 's', 1000),
    javascript: bool('JAVASCRIPT', true),
    quietWindowMs: duration('QUIET_WINDOW', '40ms', 'ms', 0),
    pdf: {
      format: parsedFormat as PaperFormat,
      landscape: bool('LANDSCAPE', false),
      printBackground: bool('PRINT_BACKGROUND', true),
      margin: margin as PdfDefaults['margin'],
      scale,
      outline: bool('OUTLINE', false),
      tagged: bool('TAGGED', false),
      standard,
    },
    image: {
      width: int('IMAGE_WIDTH', 1280, VIEWPORT_LIMITS.min, VIEWPORT_LIMITS.max),
      height: int('IMAGE_HEIGHT', 800, VIEWPORT_LIMITS.min, VIEWPORT_LIMITS.max),
      scale: decimal('IMAGE_SCALE', 1, SCALE_LIMITS.min, SCALE_LIMITS.max),
      fullPage: bool('IMAGE_FULL_PAGE', false),
      quality: int('IMAGE_QUALITY', 85, QUALITY_LIMITS.min, QUALITY_LIMITS.max),
      // 25 megapixels: 100 MB as a bitmap before it is encoded, e.g. 1280 × 19,500 px.
      maxPixels: int('IMAGE_MAX_PIXELS', 25_000_000, 1, MAX_IMAGE_SIDE * MAX_IMAGE_SIDE),
    },
    forwardHeaders: [...new Set([...DEFAULT_FORWARD_HEADERS, ...forwardExtra])],
    allowOrigins,
    replaySecret,
    replaySecretHeader,
    assetCacheBytes: int('ASSET_CACHE_MB', 32, 0, 4096) * 1024 * 1024,
    renderMemoryBytes: renderMemoryMb * MB,
    memoryLimitBytes: Math.max(renderMemoryMb * MB, machine.memoryBytes - RESERVED_MB * MB),
    imageMemoryBytes: int('IMAGE_MEMORY_MB', defaultImageMemoryMb(machine.memoryBytes), 16, 65_536) * MB,
    publicOrigin,
    flyAppName: read('FLY_APP_NAME') ?? null,
    flyMachineId: read('FLY_MACHINE_ID') ?? null,
    version,
  };
}

function targetFrom(raw: string | undefined, flyApp: string | undefined, fail: (n: string, a: string) => never): string {
  if (raw === undefined) {
    // On Fly the appliance is conventionally deployed as `<main>-pdf` next to `<main>`.
    if (flyApp && /^[a-z0-9-]+-pdf$/.test(flyApp)) return `https://${flyApp.slice(0, -4)}.fly.dev`;
    throw new ConfigError('TARGET_URL is not set: expected the main app\'s origin, e.g. https://example.com or http://127.0.0.1:3000');
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail('TARGET_URL', 'an http(s) origin such as https://example.com');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    fail('TARGET_URL', 'an http(s) origin such as https://example.com (no path, query or credentials)');
  }
  return url.origin;
}
