import { existsSync } from 'node:fs';
import { DEFAULT_SECRET_HEADER } from 'pdf-appliance-replay';
import { checkPdfASupport } from '../output/pdfa-support.js';
import { parsePdfStandard, type PdfStandard } from '../output/pdfa-standard.js';
import { MAX_IMAGE_SIDE, QUALITY_LIMITS, SCALE_LIMITS, VIEWPORT_LIMITS } from '../render/image-plan.js';
import {
  parseFormat,
  parseMargin,
  PDF_SCALE_LIMITS,
  type PaperFormat,
  type PdfDefaults,
} from '../render/print-plan.js';
import { normalizeOrigin } from '../security/ssrf.js';
import {
  bool,
  ConfigError,
  custom,
  decimal,
  duration,
  int,
  list,
  oneOf,
  text,
  type Fail,
  type Parser,
} from './parsers.js';

/**
 * Every environment variable the appliance reads, in one table: its parser (range, default),
 * the docs/settings.md section it is listed under, and the words of its row there. The table in
 * the docs is this table: test/unit/docs/settings-docs.spec.ts prints the rows from here and fails
 * when the docs say anything else. Derived defaults (`null` from the parser) and checks across
 * settings are config.ts's.
 */
export interface Setting<T> {
  section: Section;
  parser: Parser<T>;
  /** The default as the docs say it, when the parser cannot (derived, or in words). */
  default?: string;
  /** What it does, as the docs' "meaning" column says it (Markdown). */
  help: string;
  /** A secret: an error names the variable but never shows its value. */
  secret?: true;
}

/** The sections of docs/settings.md, in order; each holds one table. */
export const SECTIONS = [
  'The main app',
  'Server',
  'Capacity and time limits',
  'Idle: exit or suspend',
  'Chromium',
  'Memory',
  'Loading the page',
  'PDF defaults',
  'Image defaults',
  'Requests and access',
] as const;
export type Section = (typeof SECTIONS)[number];

/** Less than this cannot run Chromium at all; more than 1 TB is a typo. */
export const MIN_MACHINE_MB = 256;
export const MAX_MACHINE_MB = 1024 * 1024;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

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

/**
 * Never forwarded, whatever FORWARD_HEADERS says: hop-by-hop headers, headers that describe this
 * connection rather than the user, and the proxy's own headers (forwarding `fly-*` could steer
 * Fly's proxy; forwarding `x-forwarded-*` would let a client claim another IP to the main app).
 */
const NEVER_FORWARD =
  /^(connection|keep-alive|proxy-.*|te|trailer|transfer-encoding|upgrade|host|content-length|content-type|accept-encoding|fly-.*|x-forwarded-.*|forwarded|via|x-pdf-appliance.*|expect)$/;

const HEADER_NAME = /^[a-z0-9-]+$/;

function originOf(raw: string, fail: Fail, accepted: string): string {
  try {
    return normalizeOrigin(raw);
  } catch {
    return fail(accepted);
  }
}

/** An origin only: the user's credentials go there, so nothing may be ambiguous. Null = unset. */
function parseTargetUrl(raw: string | undefined, fail: Fail): string | null {
  if (raw === undefined) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail('an http(s) origin such as https://example.com');
  }
  const pathless = url.pathname === '/' || url.pathname === '';
  if (!/^https?:$/.test(url.protocol) || url.username || url.password || url.search || url.hash || !pathless) {
    fail('an http(s) origin such as https://example.com (no path, query or credentials)');
  }
  return url.origin;
}

function parseHost(raw: string, fail: Fail): string {
  const host = raw.toLowerCase();
  if (!/^[a-z0-9.-]+(:\d{1,5})?$/.test(host)) fail('a comma-separated list of host names (host or host:port)');
  return host;
}

function checkToken(raw: string, fail: Fail): void {
  if (/[\x00-\x20\x7f]/.test(raw.replace(/^FlyV1 /, ''))) fail('a token without spaces or control characters');
}

function parseMachinesApiUrl(raw: string | undefined, fail: Fail): string {
  const accepted = 'an http(s) URL such as http://_api.internal:4280';
  let api: URL;
  try {
    api = new URL(raw ?? 'http://_api.internal:4280');
  } catch {
    return fail(accepted);
  }
  if (api.protocol !== 'http:' && api.protocol !== 'https:') fail(accepted);
  return api.href.replace(/\/$/, '');
}

function parseChromePath(raw: string | undefined, fail: Fail): string {
  if (raw !== undefined) return existsSync(raw) ? raw : fail('the path of a Chromium or Chrome executable');
  const found = CHROME_CANDIDATES.find((p) => existsSync(p));
  if (found) return found;
  throw new ConfigError(
    `CHROME_PATH is not set and no Chromium was found in ${CHROME_CANDIDATES.slice(0, 5).join(', ')}`,
  );
}

const parsePaper = (raw: string | undefined, fail: Fail): PaperFormat =>
  parseFormat(raw ?? 'letter') ?? fail('a paper format such as letter, legal, A4, A3, A5');

const parsePageMargin = (raw: string | undefined, fail: Fail): PdfDefaults['margin'] =>
  parseMargin(raw ?? '0.4in') ?? fail('one to four CSS lengths, e.g. 10mm or "0.5in 1in"');

/**
 * Archival output for every PDF (a page may still say `none`): Ghostscript must be there at start, not
 * found missing by the first user.
 */
function parseStandard(raw: string | undefined, fail: Fail): PdfStandard | null {
  if (raw === undefined || raw.toLowerCase() === 'none') return null;
  const standard = parsePdfStandard(raw) ?? fail('PDF/A-2b, PDF/A-3b or none');
  try {
    checkPdfASupport();
  } catch (err) {
    throw new ConfigError(
      `PDF_STANDARD=${standard} cannot be met: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return standard;
}

export function isNeverForwarded(name: string): boolean {
  return NEVER_FORWARD.test(name.toLowerCase());
}

function parseForwardHeader(raw: string, fail: Fail): string {
  const h = raw.toLowerCase();
  if (!HEADER_NAME.test(h) || isNeverForwarded(h)) {
    fail('header names other than hop-by-hop, host, content-*, accept-encoding, fly-*, x-forwarded-*, via');
  }
  return h;
}

/** Never echoed: the error names the variable and the rule only. */
function parseSecret(raw: string | undefined): string | null {
  if (raw !== undefined && raw.length < 16)
    throw new ConfigError('REPLAY_SECRET is too short: use at least 16 characters');
  return raw ?? null;
}

function parseSecretHeader(raw: string | undefined, fail: Fail): string {
  const name = (raw ?? DEFAULT_SECRET_HEADER).toLowerCase();
  return HEADER_NAME.test(name) ? name : fail('a header name');
}

export const SETTINGS = {
  // The main app
  TARGET_URL: {
    section: 'The main app',
    parser: custom(parseTargetUrl),
    default: 'on Fly, when `FLY_APP_NAME` is `<name>-pdf`: `https://<name>.fly.dev`; otherwise required',
    help: "Origin of the main app (`https://example.com`, `http://127.0.0.1:3000`): no path, query or credentials. Every page is loaded from here, and the user's credentials go nowhere else.",
  },
  TARGET_HOSTS: {
    section: 'The main app',
    parser: list(parseHost),
    help: "Comma-separated extra host names (`host` or `host:port`) of the same main app, e.g. custom domains. When the replayed request's `Host` is one of them, the page is loaded from that host with `TARGET_URL`'s scheme. Any other `Host` is ignored.",
  },
  PUBLIC_URL: {
    section: 'The main app',
    parser: custom((raw, fail) =>
      raw === undefined ? null : originOf(raw, fail, 'an http(s) origin such as https://example.com'),
    ),
    default: 'none',
    help: "Where users reach the main app, when `TARGET_URL` is an address only the appliance can reach (a private address, `*.internal`, `*.flycast`, a single-label name). The main app's redirects, and the links in PDFs, are pointed at it ([links](page-options.md#links-in-the-pdf)). Unset: the `Host` and scheme of the replayed request are used. Ignored for a public `TARGET_URL`.",
  },

  // Server
  PORT: {
    section: 'Server',
    parser: int(0, 65535, 3000),
    help: 'Public HTTP port.',
  },
  LISTEN_ADDRESS: {
    section: 'Server',
    parser: text('0.0.0.0'),
    help: 'Address both ports bind to.',
  },
  METRICS_PORT: {
    section: 'Server',
    parser: int(0, 65535, 9091),
    help: 'Prometheus `/metrics` on a port of its own; `0` turns it off.',
  },
  LOG_LEVEL: {
    section: 'Server',
    parser: oneOf(LOG_LEVELS, 'info'),
    help: '`fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`.',
  },

  // Capacity and time limits
  CONCURRENCY: {
    section: 'Capacity and time limits',
    parser: int(1, 64, 3),
    help: 'Renders at once (1–64). Each holds one browser workspace.',
  },
  QUEUE_SIZE: {
    section: 'Capacity and time limits',
    parser: int(0, 10_000, null),
    default: '4 × `CONCURRENCY`',
    help: 'Requests that may wait for a render slot (0–10000). Beyond slots and queue the request is refused at once: on Fly with one `fly-replay: elsewhere=true`, otherwise `503`.',
  },
  QUEUE_TIMEOUT: {
    section: 'Capacity and time limits',
    parser: duration('10s', 's', 100),
    help: 'Longest wait for a slot, and for memory to capture an image in (`IMAGE_MEMORY_MB`); past it `503` with `Retry-After`. A bare number means seconds.',
  },
  RENDER_TIMEOUT: {
    section: 'Capacity and time limits',
    parser: duration('30s', 's', 100),
    help: 'Bound on everything from getting a slot to the finished output (workspace, page load, waits, print); past it `504`. A bare number means seconds; at least 100 ms.',
  },
  SHUTDOWN_GRACE: {
    section: 'Capacity and time limits',
    parser: duration('25s', 's', 0),
    help: "On `SIGINT`/`SIGTERM` or an idle exit: how long renders in flight may finish before Chromium is closed. Keep it below Fly's `kill_timeout`. A bare number means seconds.",
  },

  // Idle: exit or suspend
  IDLE_TIMEOUT: {
    section: 'Idle: exit or suspend',
    parser: duration('15m', 'm', 1000),
    help: 'Idle this long (no render in flight or queued) → `IDLE_ACTION`. A bare number means minutes; `0` never. Health checks and metrics scrapes are not activity.',
  },
  IDLE_ACTION: {
    section: 'Idle: exit or suspend',
    parser: oneOf(['exit', 'suspend'] as const, 'exit', 'exit or suspend'),
    help: '`exit`: exit 0 (Fly leaves the Machine stopped). `suspend`: ask the Machines API to suspend this Machine; if that fails, exit 0. See [Idle: exit or suspend](operations.md#idle-exit-or-suspend).',
  },
  FLY_API_TOKEN: {
    section: 'Idle: exit or suspend',
    parser: text(null, checkToken),
    secret: true,
    default: 'none; required for `IDLE_ACTION=suspend`',
    help: "A token allowed to manage this app's Machines. Set it as a Fly secret. Never logged.",
  },
  MACHINES_API_URL: {
    section: 'Idle: exit or suspend',
    parser: custom(parseMachinesApiUrl),
    default: '`http://_api.internal:4280`',
    help: 'The Machines API, for `IDLE_ACTION=suspend`.',
  },
  FLY_APP_NAME: {
    section: 'Idle: exit or suspend',
    parser: text(null),
    default: 'set by Fly',
    help: "This app's name. Gives the default `TARGET_URL`; its `.fly.dev`, `.flycast` and `.internal` names are never fetched by a page; required for `suspend`.",
  },
  FLY_MACHINE_ID: {
    section: 'Idle: exit or suspend',
    parser: text(null),
    default: 'set by Fly',
    help: 'This Machine. When set, a full appliance answers with `fly-replay: elsewhere=true` instead of `503`; required for `suspend`.',
  },

  // Chromium
  CHROME_PATH: {
    section: 'Chromium',
    parser: custom(parseChromePath),
    default:
      'the first that exists of `/usr/lib/chromium/chromium-headless-shell`, `/usr/bin/chromium-headless-shell`, `/usr/bin/chromium`, `/usr/bin/chromium-browser`, `/usr/bin/google-chrome-stable`, `/usr/bin/google-chrome`, Google Chrome on macOS',
    help: 'Chromium executable. The headless shell is preferred: same engine and printing, much lighter per render.',
  },
  CHROME_SANDBOX: {
    section: 'Chromium',
    parser: oneOf(['auto', 'on', 'off'] as const, 'auto', 'auto, on or off'),
    help: "`auto`: use Chromium's sandbox when not root and user namespaces work, else `--no-sandbox` with a logged warning. `on`: require it. `off`: never. `/healthz` shows the outcome.",
  },
  MAX_RENDERS_PER_BROWSER: {
    section: 'Chromium',
    parser: int(1, 1_000_000, 200),
    help: 'Start a new Chromium after this many renders; the old one finishes its renders, then closes.',
  },
  WORKSPACE_LINGER: {
    section: 'Chromium',
    parser: duration('30s', 's', 1000),
    help: "An idle workspace (one user's browser context, kept for that user's next render) is disposed after this long. A bare number means seconds; at least 1 s; `0` keeps it until its room is needed.",
  },

  // Memory
  MACHINE_MEMORY_MB: {
    section: 'Memory',
    parser: int(MIN_MACHINE_MB, MAX_MACHINE_MB, null),
    default: "detected: the container's memory limit when there is one, else the machine's",
    help: 'The memory the appliance budgets for (256–1048576). Set it when the detection is wrong (a limit the cgroup files do not show), or to run as if on a smaller machine. The defaults of `RENDER_MEMORY_MB` and `IMAGE_MEMORY_MB` derive from it.',
  },
  RENDER_MEMORY_MB: {
    section: 'Memory',
    parser: int(64, 65_536, null),
    default: '¾ of (machine memory − 320 MB) ÷ `CONCURRENCY`, between 128 and 2048 (176 on 1 GB with `CONCURRENCY=3`)',
    help: 'Private memory one renderer may use (64–65536). A renderer over it is stopped and only its request fails, with a `502` that names this setting.',
  },
  IMAGE_MEMORY_MB: {
    section: 'Memory',
    parser: int(16, 65_536, null),
    default: '¼ of (machine memory − 320 MB), at least 64 (176 on 1 GB)',
    help: "Memory image captures may use at once, outside the renders' budgets (16–65536). Each capture is charged what it may cost before it is drawn: a PNG over 2 megapixels at a whole-number `image-scale` 64 MB (it is captured in strips), any other image 32 (PNG), 24 (JPEG) or 40 (WebP) bytes a pixel. One that can never fit gets `422`; one that does not fit now waits up to `QUEUE_TIMEOUT`, then gets `503`. See [docs/operations.md](operations.md#memory).",
  },
  ASSET_CACHE_MB: {
    section: 'Memory',
    parser: int(0, 4096, 32),
    help: 'Memory for the cache of public stylesheets, images, fonts and scripts shared by all renders (0–4096); `0` turns it off.',
  },

  // Loading the page
  JAVASCRIPT: {
    section: 'Loading the page',
    parser: bool(true),
    help: '`false` disables scripts in every frame and worker of every page; pages print at `load`.',
  },
  QUIET_WINDOW: {
    section: 'Loading the page',
    parser: duration('40ms', 'ms', 0),
    help: 'After `load`, while requests are still in flight, print once the network has been quiet this long. A page with nothing pending prints at once. A bare number means milliseconds.',
  },

  // PDF defaults
  FORMAT: {
    section: 'PDF defaults',
    parser: custom(parsePaper),
    default: '`letter`',
    help: "Paper: `letter`, `legal`, `tabloid`, `ledger`, `A0`–`A6` (any case). A page's `<meta>` or CSS `@page` wins.",
  },
  LANDSCAPE: {
    section: 'PDF defaults',
    parser: bool(false),
    help: 'Orientation.',
  },
  MARGIN: {
    section: 'PDF defaults',
    parser: custom(parsePageMargin),
    default: '`0.4in`',
    help: 'One to four CSS lengths in `px`, `in`, `cm` or `mm`, in the order of CSS `margin`.',
  },
  SCALE: {
    section: 'PDF defaults',
    parser: decimal(PDF_SCALE_LIMITS, 1),
    help: 'Print scale, 0.1 to 2.',
  },
  PRINT_BACKGROUND: {
    section: 'PDF defaults',
    parser: bool(true),
    help: 'Print background colours and images.',
  },
  OUTLINE: {
    section: 'PDF defaults',
    parser: bool(false),
    help: 'PDF bookmarks built from the headings (implies a tagged PDF).',
  },
  TAGGED: {
    section: 'PDF defaults',
    parser: bool(false),
    help: 'Tagged (accessible) PDF. Off by default: tagging can make a PDF several times larger.',
  },
  PDF_STANDARD: {
    section: 'PDF defaults',
    parser: custom(parseStandard),
    default: '`none`',
    help: '`PDF/A-2b` or `PDF/A-3b`: every PDF is archival, unless a page says `none`. Needs Ghostscript and its sRGB profile, checked at start. See [docs/page-options.md](page-options.md#pdfa).',
  },

  // Image defaults
  IMAGE_WIDTH: {
    section: 'Image defaults',
    parser: int(VIEWPORT_LIMITS.min, VIEWPORT_LIMITS.max, 1280),
    help: 'Viewport width of image outputs, in CSS pixels (16–8192).',
  },
  IMAGE_HEIGHT: {
    section: 'Image defaults',
    parser: int(VIEWPORT_LIMITS.min, VIEWPORT_LIMITS.max, 800),
    help: 'Viewport height of image outputs, in CSS pixels (16–8192).',
  },
  IMAGE_SCALE: {
    section: 'Image defaults',
    parser: decimal(SCALE_LIMITS, 1),
    help: 'Device scale factor of image outputs, 0.25 to 4.',
  },
  IMAGE_FULL_PAGE: {
    section: 'Image defaults',
    parser: bool(false),
    help: 'Capture the whole page rather than the viewport.',
  },
  IMAGE_QUALITY: {
    section: 'Image defaults',
    parser: int(QUALITY_LIMITS.min, QUALITY_LIMITS.max, 85),
    help: 'JPEG and WebP quality, 1–100.',
  },
  IMAGE_MAX_PIXELS: {
    section: 'Image defaults',
    parser: int(1, MAX_IMAGE_SIDE * MAX_IMAGE_SIDE, 25_000_000),
    help: 'Largest image rendered, in pixels (width × height after scaling). Larger requests get `422` before anything is drawn. An image must also fit in `IMAGE_MEMORY_MB`.',
  },

  // Requests and access
  FORWARD_HEADERS: {
    section: 'Requests and access',
    parser: list(parseForwardHeader),
    help: 'Extra request headers to forward to the main app, besides `cookie`, `authorization`, `accept-language`, `user-agent`, `x-request-id`, `traceparent`, `tracestate`. They are treated like `Authorization`. Hop-by-hop headers, `host`, `content-length`, `content-type`, `accept-encoding`, `expect`, `fly-*`, `x-forwarded-*`, `forwarded`, `via`, `x-pdf-appliance*` and `REPLAY_SECRET_HEADER` are refused.',
  },
  ALLOW_ORIGINS: {
    section: 'Requests and access',
    parser: list((v, fail) => originOf(v, fail, 'a comma-separated list of origins like https://cdn.example.com')),
    help: 'Comma-separated origins (`https://cdn.example.com`) that pages may reach even though they resolve to private addresses, such as an internal asset server. See [docs/security.md](security.md#allowing-an-origin).',
  },
  REPLAY_SECRET: {
    section: 'Requests and access',
    parser: custom(parseSecret),
    secret: true,
    default: 'none',
    help: 'When set (at least 16 characters), every request except `GET /healthz` must carry it in `REPLAY_SECRET_HEADER`, else `403`.',
  },
  REPLAY_SECRET_HEADER: {
    section: 'Requests and access',
    parser: custom(parseSecretHeader),
    default: '`x-pdf-appliance-secret`',
    help: 'The header that carries `REPLAY_SECRET`. Never forwarded to the main app.',
  },
} satisfies Record<string, Setting<unknown>>;

export type SettingName = keyof typeof SETTINGS;

/** What each setting holds once read: its parser's result. */
export type Settings = { [K in SettingName]: ReturnType<(typeof SETTINGS)[K]['parser']['parse']> };

/**
 * Reads every setting from `env`, in table order. A value that is only spaces counts as unset;
 * a bad one throws ConfigError with one line that names the variable.
 */
export function readSettings(env: Record<string, string | undefined>): Settings {
  const values: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(SETTINGS) as Array<[string, Setting<unknown>]>) {
    const given = env[name];
    const raw = given === undefined || given.trim() === '' ? undefined : given.trim();
    const fail: Fail = (accepted) => {
      const shown = setting.secret ? '(the value set)' : JSON.stringify(given);
      throw new ConfigError(`${name}=${shown} is invalid: expected ${accepted}`);
    };
    values[name] = setting.parser.parse(raw, fail);
  }
  return values as Settings;
}
