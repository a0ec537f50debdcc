import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AssetCache } from './cache/asset-cache.js';
import { pinnedFetcher } from './cache/asset-fetch.js';
import { launchBrowser, type BrowserSupervisor } from './browser/supervisor.js';
import type { Config } from './config/config.js';
import { IdleClock } from './admission/idle-clock.js';
import { Suspender } from './admission/suspend.js';
import { Limiter } from './admission/limiter.js';
import type { Logger } from './observability/log.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { createApp, isHealthCheck } from './http/server.js';
import { applianceGuard } from './security/appliance-guard.js';
import type { Guard, SelfAddress } from './security/ssrf.js';

export interface Appliance {
  url: string;
  metricsUrl: string | null;
  config: Config;
  metrics: Metrics;
  browser: BrowserSupervisor;
  idle: IdleClock;
  limiter: Limiter;
  /** Stop accepting, let in-flight renders finish (bounded by SHUTDOWN_GRACE), close Chromium. */
  shutdown(reason: string): Promise<void>;
}

export interface StartOptions {
  config: Config;
  log: Logger;
  /**
   * A supervisor already launching Chromium (main() starts it before loading the rest), with the guard
   * it was given.
   */
  browser?: BrowserSupervisor;
  guard?: { guard: Guard; self: SelfAddress };
  metrics?: Metrics;
  /** Called after an idle shutdown completed; main() exits 0 here, tests observe it. */
  onIdleExit?: () => void;
}

/** Wires the appliance together and starts it. Listens at once; Chromium launches alongside. */
export async function startAppliance(opts: StartOptions): Promise<Appliance> {
  const { config, log } = opts;
  const metrics = opts.metrics ?? createMetrics();
  const { guard, self } = opts.guard ?? applianceGuard(config);
  const browser = opts.browser ?? launchBrowser({ config, log, metrics, guard });
  const limiter = new Limiter(config);
  metrics.track(() => ({ running: limiter.running, queued: limiter.queued }));
  const cache =
    config.assetCacheBytes > 0
      ? new AssetCache({
          maxBytes: config.assetCacheBytes,
          maxEntryBytes: Math.min(config.assetCacheBytes / 8, 5 * 1024 * 1024),
        })
      : null;
  const fetchAsset = pinnedFetcher(guard);

  let draining = false;
  const { idle, suspender } = idleClock(config, log, metrics, {
    // A snapshot can be hours old: the clock counts afresh, Chromium is checked, no connection
    // and no cached freshness from before it is trusted (the wall clock lags after a resume, so
    // cached entries would look fresher than they are).
    resumed: () => {
      cache?.clear();
      fetchAsset.reset();
      void browser.afterResume();
    },
    // The caller's onIdleExit (or a supervisor's close) throwing must be heard, not lost.
    exit: () =>
      void shutdown('idle')
        .then(() => opts.onIdleExit?.())
        .catch((err: unknown) =>
          log.error({ err: err instanceof Error ? err.message : String(err) }, 'idle exit failed'),
        ),
  });
  const server = publicServer(
    createApp({ config, browser, limiter, idle, log, metrics, guard, cache, fetchAsset, draining: () => draining }),
    config,
    suspender,
  );
  await listen(server, config.port, config.listenAddress);
  const metricsServer = config.metricsPort > 0 ? metricsServerOf(metrics) : null;
  if (metricsServer) await listen(metricsServer, config.metricsPort, config.listenAddress);
  idle.start();
  const addr = server.address() as AddressInfo;
  self.port = addr.port;
  const { url, metricsUrl } = announce(addr, metricsServer, config, log);

  let stopping: Promise<void> | null = null;
  function shutdown(reason: string): Promise<void> {
    stopping ??= (async () => {
      draining = true;
      idle.stop();
      suspender?.stop();
      log.info({ reason, inFlight: idle.active }, 'shutting down');
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      await drain(idle, config.shutdownGraceMs, log);
      await browser.close();
      server.closeAllConnections();
      metricsServer?.closeAllConnections();
      metricsServer?.close();
      await closed;
      log.info({ reason }, 'stopped');
    })();
    return stopping;
  }

  return { url, metricsUrl, config, metrics, browser, idle, limiter, shutdown };
}

/** The idle clock, and with IDLE_ACTION=suspend the Machines API's suspender behind it. */
function idleClock(
  config: Config,
  log: Logger,
  metrics: Metrics,
  on: { resumed(): void; exit(): void },
): { idle: IdleClock; suspender: Suspender | null } {
  const exitWhenIdle = (): void => {
    metrics.idleExits.inc();
    log.info({ idleTimeoutMs: config.idleTimeoutMs }, 'idle: shutting down');
    on.exit();
  };
  const suspender = config.machinesApi
    ? new Suspender({
        api: config.machinesApi,
        log,
        onResume: (how) => {
          metrics.resumes.inc({ how });
          idle.resume();
          on.resumed();
        },
        onFallback: () => exitWhenIdle(),
      })
    : null;
  const idle = new IdleClock(config.idleTimeoutMs, () => {
    if (!suspender) return exitWhenIdle();
    metrics.idleSuspends.inc();
    void suspender.suspend();
  });
  return { idle, suspender };
}

/** The public port's server: header and request bounds, and the resume hook. */
function publicServer(app: Parameters<typeof createServer>[1], config: Config, suspender: Suspender | null): Server {
  const server = createServer(
    {
      // Over this, Node answers 431 itself; the request target is held to 8 KiB in request-checks.ts (414).
      maxHeaderSize: 32 * 1024,
      // A client dribbling its header block (slowloris) holds a socket for at most this long.
      headersTimeout: 20_000,
      requestTimeout: config.renderTimeoutMs + config.queueTimeoutMs + 30_000,
    },
    app,
  );
  server.keepAliveTimeout = 65_000;
  // The request that resumed a suspended Machine is the first thing it sees. Health checks are
  // not one: Fly checks a running Machine, including in the moments between the suspend call and
  // the freeze, and a check taken for a wake would leave the real resume unnoticed.
  if (suspender) {
    server.prependListener('request', (req: IncomingMessage) => {
      if (!isHealthCheck(req.url)) suspender.activity();
    });
  }
  return server;
}

/** Prometheus on a port of its own: GET /metrics, nothing else. */
function metricsServerOf(metrics: Metrics): Server {
  return createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
      return;
    }
    metrics.scrape().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(text);
      },
      () => {
        res.writeHead(500).end();
      },
    );
  });
}

/** Says where the appliance listens, and warns when it is open to anyone who can reach it. */
function announce(
  addr: AddressInfo,
  metricsServer: Server | null,
  config: Config,
  log: Logger,
): { url: string; metricsUrl: string | null } {
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${addr.port}`;
  const metricsUrl = metricsServer ? `http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}/metrics` : null;
  log.info(
    {
      url,
      metrics: metricsUrl,
      target: config.targetOrigin,
      concurrency: config.concurrency,
      queueSize: config.queueSize,
      idleTimeoutMs: config.idleTimeoutMs,
    },
    'listening',
  );
  // On Fly the appliance is reachable at its own addresses (public ones until released, Flycast
  // from anywhere in the organization): without the secret, anyone there can have pages rendered.
  if (config.flyAppName && !config.replaySecret) {
    log.warn(
      { app: config.flyAppName },
      'REPLAY_SECRET is not set: anyone who can reach this app directly can have pages rendered; set it on both apps (README, "Deploy to Fly.io")',
    );
  }
  return { url, metricsUrl };
}

/** Lets in-flight renders finish, for at most SHUTDOWN_GRACE. */
async function drain(idle: IdleClock, graceMs: number, log: Logger): Promise<void> {
  const deadline = Date.now() + graceMs;
  while (idle.active > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (idle.active > 0) log.warn({ inFlight: idle.active }, 'shutdown grace expired with renders in flight');
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
