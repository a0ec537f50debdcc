import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import type { MachinesApi } from '../admission/suspend.js';
import type { ImageDefaults } from '../render/image-plan.js';
import type { PdfDefaults } from '../render/print-plan.js';
import { CONTEXT_HEADERS } from '../security/credentials.js';
import { ConfigError } from './parsers.js';
import { readSettings, type Settings } from './settings.js';

export { ConfigError } from './parsers.js';

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
  /**
   * How long an idle workspace (one user's browser context) is kept for that user before it is
   * disposed (WORKSPACE_LINGER).
   */
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

/** What the machine offers, read once; tests pass their own. */
export interface Machine {
  memoryBytes: number;
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

/**
 * The identity and locale headers a main app needs to render a page as the user sees it: the
 * user's cookie and Authorization, and the context headers (credentials.ts), which describe the
 * request rather than the user.
 */
export const DEFAULT_FORWARD_HEADERS = ['cookie', 'authorization', ...CONTEXT_HEADERS];

type Env = Record<string, string | undefined>;

/**
 * The settings (settings.ts reads and checks each one) made into the appliance's Config: the
 * defaults that derive from other settings, and the checks that span two.
 */
export function loadConfig(env: Env = process.env, version = '0.0.0', detected: Machine = detectMachine()): Config {
  const s = readSettings(env);
  const machineBytes = s.MACHINE_MEMORY_MB === null ? detected.memoryBytes : s.MACHINE_MEMORY_MB * MB;
  const renderMemoryMb = s.RENDER_MEMORY_MB ?? defaultRenderMemoryMb(machineBytes, s.CONCURRENCY);
  // The secret proves the request came through Fly's proxy; forwarding it would hand it to the main app's pages.
  if (s.FORWARD_HEADERS.includes(s.REPLAY_SECRET_HEADER)) {
    throw new ConfigError(
      `FORWARD_HEADERS names ${s.REPLAY_SECRET_HEADER}, the header carrying REPLAY_SECRET: it must never be forwarded`,
    );
  }
  return {
    port: s.PORT,
    listenAddress: s.LISTEN_ADDRESS,
    metricsPort: s.METRICS_PORT,
    targetOrigin: s.TARGET_URL ?? targetOnFly(s.FLY_APP_NAME),
    targetHosts: s.TARGET_HOSTS,
    chromePath: s.CHROME_PATH,
    sandbox: s.CHROME_SANDBOX,
    logLevel: s.LOG_LEVEL,
    idleTimeoutMs: s.IDLE_TIMEOUT,
    idleAction: s.IDLE_ACTION,
    machinesApi: s.IDLE_ACTION === 'suspend' ? machinesApiFrom(s) : null,
    renderTimeoutMs: s.RENDER_TIMEOUT,
    queueTimeoutMs: s.QUEUE_TIMEOUT,
    shutdownGraceMs: s.SHUTDOWN_GRACE,
    concurrency: s.CONCURRENCY,
    queueSize: s.QUEUE_SIZE ?? s.CONCURRENCY * 4,
    maxRendersPerBrowser: s.MAX_RENDERS_PER_BROWSER,
    workspaceLingerMs: s.WORKSPACE_LINGER,
    javascript: s.JAVASCRIPT,
    quietWindowMs: s.QUIET_WINDOW,
    pdf: pdfDefaults(s),
    image: imageDefaults(s),
    forwardHeaders: [...new Set([...DEFAULT_FORWARD_HEADERS, ...s.FORWARD_HEADERS])],
    allowOrigins: s.ALLOW_ORIGINS,
    replaySecret: s.REPLAY_SECRET,
    replaySecretHeader: s.REPLAY_SECRET_HEADER,
    assetCacheBytes: s.ASSET_CACHE_MB * MB,
    renderMemoryBytes: renderMemoryMb * MB,
    memoryLimitBytes: Math.max(renderMemoryMb * MB, machineBytes - RESERVED_MB * MB),
    imageMemoryBytes: (s.IMAGE_MEMORY_MB ?? defaultImageMemoryMb(machineBytes)) * MB,
    publicOrigin: s.PUBLIC_URL,
    flyAppName: s.FLY_APP_NAME,
    flyMachineId: s.FLY_MACHINE_ID,
    version,
  };
}

/** On Fly the appliance is conventionally deployed as `<main>-pdf` next to `<main>`. */
function targetOnFly(flyApp: string | null): string {
  if (flyApp && /^[a-z0-9-]+-pdf$/.test(flyApp)) return `https://${flyApp.slice(0, -4)}.fly.dev`;
  throw new ConfigError(
    "TARGET_URL is not set: expected the main app's origin, e.g. https://example.com or http://127.0.0.1:3000",
  );
}

/**
 * IDLE_ACTION=suspend: Fly sets FLY_APP_NAME and FLY_MACHINE_ID in every Machine; the token is
 * a secret the operator sets (fly secrets set FLY_API_TOKEN=...).
 */
function machinesApiFrom(s: Settings): MachinesApi {
  const { FLY_APP_NAME: app, FLY_MACHINE_ID: machine, FLY_API_TOKEN: token } = s;
  if (app === null) throw new ConfigError('IDLE_ACTION=suspend needs FLY_APP_NAME (set by Fly in every Machine)');
  if (machine === null) throw new ConfigError('IDLE_ACTION=suspend needs FLY_MACHINE_ID (set by Fly in every Machine)');
  if (token === null) {
    throw new ConfigError(
      'IDLE_ACTION=suspend needs FLY_API_TOKEN (a token allowed to suspend this app\'s Machines: see the README, "Suspend instead of exit")',
    );
  }
  return { url: s.MACHINES_API_URL, token, app, machine };
}

function pdfDefaults(s: Settings): PdfDefaults {
  return {
    format: s.FORMAT,
    landscape: s.LANDSCAPE,
    printBackground: s.PRINT_BACKGROUND,
    margin: s.MARGIN,
    scale: s.SCALE,
    outline: s.OUTLINE,
    tagged: s.TAGGED,
    standard: s.PDF_STANDARD,
  };
}

function imageDefaults(s: Settings): ImageDefaults {
  return {
    width: s.IMAGE_WIDTH,
    height: s.IMAGE_HEIGHT,
    scale: s.IMAGE_SCALE,
    fullPage: s.IMAGE_FULL_PAGE,
    quality: s.IMAGE_QUALITY,
    // 25 megapixels: 100 MB as a bitmap before it is encoded, e.g. 1280 × 19,500 px.
    maxPixels: s.IMAGE_MAX_PIXELS,
  };
}
