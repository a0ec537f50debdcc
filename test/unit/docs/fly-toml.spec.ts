import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test, expect } from '@playwright/test';
import { parse } from 'smol-toml';
import { loadProxyConfig, readFlyToml } from '../../../fixtures/fly-proxy/index.js';
import { loadConfig, type Config } from '../../../src/config/config.js';
import { parseDuration } from '../../../src/config/duration.js';
import { HEALTH_PATH } from '../../../src/http/server.js';

// fly.toml, the Dockerfile and the compose proxy config restate numbers the appliance owns
// (port, health path, concurrency, queue, drain time). These tests make them fail together
// instead of drifting apart.

const ROOT = join(import.meta.dirname, '..', '..', '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

interface FlyToml {
  app: string;
  kill_signal?: string;
  kill_timeout?: number | string;
  swap_size_mb?: number;
  env?: Record<string, string>;
  restart?: { policy?: string }[];
  http_service: {
    internal_port: number;
    auto_start_machines: boolean;
    auto_stop_machines: string | boolean;
    min_machines_running: number;
    force_https?: boolean;
    concurrency: { type: string; soft_limit: number; hard_limit: number };
    checks: { method?: string; path: string; interval?: string; timeout?: string; grace_period?: string }[];
  };
  metrics?: { port: number; path: string };
  vm?: { memory?: string; memory_mb?: number }[];
}

const fly = parse(read('fly.toml')) as unknown as FlyToml;
const CHROME = { CHROME_PATH: '/usr/bin/chromium' };
/** The appliance's own defaults, as the brief of each setting says. */
const defaults: Config = loadConfig({ TARGET_URL: 'http://x', ...CHROME });
/** What Fly sets in every Machine, and the secret the deploy instructions set. */
const FLY = { FLY_APP_NAME: fly.app, FLY_MACHINE_ID: '148e21ea7f3989', FLY_API_TOKEN: 'FlyV1 fm2_example' };
/** What the appliance runs with on Fly: the defaults plus fly.toml's [env]. */
const deployed: Config = loadConfig({ TARGET_URL: 'http://x', ...fly.env, ...FLY, ...CHROME });

const MB = 1024 * 1024;

/** [[vm]] memory in MB ("1gb", "512mb" or memory_mb). */
function vmMemoryMb(): number {
  const memory = fly.vm?.[0]?.memory ?? `${fly.vm?.[0]?.memory_mb}mb`;
  return /^(\d+)gb$/i.test(memory) ? Number(/^(\d+)/.exec(memory)![1]) * 1024 : Number(/^(\d+)/.exec(memory)?.[1]);
}

/** fly.toml durations: a bare number means seconds, or a string like "30s". */
function seconds(v: number | string | undefined): number {
  if (typeof v === 'number') return v;
  const ms = v === undefined ? null : parseDuration(v, 's');
  if (ms === null) throw new Error(`not a duration: ${String(v)}`);
  return ms / 1000;
}

test.describe('fly.toml agrees with the appliance', () => {
  test('ships no live TARGET_URL: the app name gives it, so a renamed app cannot send cookies to a placeholder', () => {
    expect(fly.env?.['TARGET_URL']).toBeUndefined();
    expect(read('fly.toml')).toMatch(/^\s*# TARGET_URL = /m);
  });

  test('every [env] value is one the appliance accepts', () => {
    // loadConfig throws ConfigError naming the variable on a bad value; reaching here means none.
    expect(fly.env).toBeDefined();
    for (const name of Object.keys(fly.env ?? {})) expect(name).toMatch(/^[A-Z][A-Z0-9_]*$/);
    // Fly sets FLY_APP_NAME in every Machine: it names the main app when TARGET_URL is unset.
    const c = loadConfig({ ...fly.env, ...FLY, ...CHROME });
    expect(c.targetOrigin).toBe(`https://${fly.app.replace(/-pdf$/, '')}.fly.dev`);
  });

  test('internal_port is the port the appliance listens on', () => {
    expect(fly.http_service.internal_port).toBe(defaults.port);
    expect(fly.http_service.internal_port).toBe(deployed.port);
  });

  test('the HTTP check hits the health path with GET (no redirect to follow, not activity)', () => {
    expect(fly.http_service.checks.length).toBeGreaterThan(0);
    for (const c of fly.http_service.checks) {
      expect(c.path).toBe(HEALTH_PATH);
      expect((c.method ?? 'GET').toUpperCase()).toBe('GET');
      // A check slower than its own interval would pile up.
      expect(seconds(c.timeout ?? '2s')).toBeLessThan(seconds(c.interval ?? '15s'));
    }
  });

  test('concurrency limits are counted in requests and match CONCURRENCY and QUEUE_SIZE', () => {
    const c = fly.http_service.concurrency;
    expect(c.type).toBe('requests');
    expect(c.soft_limit).toBe(deployed.concurrency);
    expect(c.hard_limit).toBe(deployed.concurrency + deployed.queueSize);
    // No [env] override in the shipped file: the defaults are the sizing that was measured.
    expect(deployed.concurrency).toBe(defaults.concurrency);
    expect(deployed.queueSize).toBe(defaults.queueSize);
  });

  test('the VM holds CONCURRENCY renders at the budget the appliance gives each on it', () => {
    // RENDER_MEMORY_MB defaults to a share of the Machine's memory; on the shipped VM it must be
    // a real share, not the 128 MB floor (which would promise renders more than the VM has).
    const vm = vmMemoryMb();
    const onVm = loadConfig({ TARGET_URL: 'http://x', ...fly.env, ...FLY, ...CHROME }, '0.0.0', {
      memoryBytes: vm * MB,
    });
    const perRenderMb = onVm.renderMemoryBytes / MB;
    expect(perRenderMb).toBeGreaterThan(128);
    expect(onVm.concurrency * perRenderMb + 320).toBeLessThanOrEqual(vm);
    // docs/scaling.md: the figures behind the shipped size.
    expect(read('docs/scaling.md')).toContain(`${perRenderMb} MB`);
  });

  test('the Fly-proxy emulator balances by these very limits, read from this file', async () => {
    const fromFile = await readFlyToml(join(ROOT, 'fly.toml'));
    expect(fromFile.concurrency).toEqual(fly.http_service.concurrency);
    expect(fromFile.env).toEqual(fly.env);
    // A JSON config of the emulator names it (relative to the config file) instead of repeating it.
    const dir = mkdtempSync(join(tmpdir(), 'fly-toml-'));
    try {
      const file = join(dir, 'proxy.json');
      writeFileSync(
        file,
        JSON.stringify({
          entryApp: 'pdf',
          apps: [
            {
              name: 'pdf',
              flyToml: relative(dir, join(ROOT, 'fly.toml')),
              machines: [{ id: 'pdf-1', url: 'http://127.0.0.1:1' }],
            },
          ],
        }),
      );
      const cfg = await loadProxyConfig(file);
      expect(cfg.apps[0]!.concurrency).toEqual(fly.http_service.concurrency);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('metrics are scraped where the appliance serves them', () => {
    expect(fly.metrics?.port).toBe(deployed.metricsPort);
    expect(fly.metrics?.port).toBe(defaults.metricsPort);
    expect(fly.metrics?.path).toBe('/metrics');
  });

  test('Fly waits longer than the drain before it kills, and sends a signal that drains', () => {
    expect(fly.kill_signal).toBe('SIGINT');
    expect(seconds(fly.kill_timeout) * 1000).toBeGreaterThan(deployed.shutdownGraceMs);
    expect(seconds(fly.kill_timeout)).toBeLessThanOrEqual(300); // Fly's maximum
  });

  test('the appliance suspends (or stops) itself: auto-start on, auto-stop off, exit 0 is not restarted', () => {
    expect(fly.http_service.auto_start_machines).toBe(true);
    expect(fly.http_service.auto_stop_machines).toBe('off');
    expect(fly.http_service.min_machines_running).toBe(0);
    expect(deployed.idleTimeoutMs).toBeGreaterThan(0);
    expect(fly.restart?.map((r) => r.policy)).toEqual(['on-failure']);
  });

  test("force_https is off, as docs/deploy.md's fly.toml table says: Flycast (the private deploy, the warm-up) is plain HTTP", () => {
    // With force_https = true Fly's proxy answers plain HTTP with a 301 to HTTPS, and Flycast
    // has no HTTPS (superfly/docs: networking/flycast, networking/services). deploy-docs.spec.ts
    // checks the deploy steps against it.
    expect(fly.http_service.force_https ?? false).toBe(false);
    expect(read('docs/deploy.md')).toMatch(/^\| `force_https` \| `false` \|/m);
  });

  test('suspend-ready: IDLE_ACTION=suspend, no swap, at most 2 GB, the token a secret and not in [env]', () => {
    expect(deployed.idleAction).toBe('suspend');
    expect(deployed.machinesApi).toMatchObject({ url: 'http://_api.internal:4280', app: fly.app });
    // Fly cannot suspend a Machine with swap, nor one over 2 GB.
    expect(fly.swap_size_mb).toBeUndefined();
    const mb = vmMemoryMb();
    expect(mb).toBeGreaterThan(0);
    expect(mb).toBeLessThanOrEqual(2048);
    expect(fly.env?.['FLY_API_TOKEN']).toBeUndefined();
    expect(read('fly.toml')).toContain('fly secrets set FLY_API_TOKEN=');
  });
});

test.describe('Dockerfile and compose proxy config agree with the appliance', () => {
  const dockerfile = read('Dockerfile');

  test('exposes the app and metrics ports, health-checks the health path, runs as non-root under tini', () => {
    expect(dockerfile).not.toMatch(/^#\s*syntax=/m);
    const expose = /^EXPOSE\s+(.+)$/m.exec(dockerfile)?.[1]?.split(/\s+/).map(Number) ?? [];
    expect(expose).toEqual(expect.arrayContaining([defaults.port, defaults.metricsPort]));
    expect(dockerfile).toMatch(new RegExp(`^ENV[^]*?\\bPORT=${defaults.port}\\b`, 'm'));
    expect(dockerfile).toMatch(/^HEALTHCHECK[^]*?\/healthz/m);
    expect(dockerfile).toContain(HEALTH_PATH);
    const users = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    expect(users.at(-1)).toBe('node');
    expect(dockerfile).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/m);
  });

  test('the compose proxy config routes app pdf to the appliance port and can start its container', () => {
    const cfg = JSON.parse(read('fixtures/fly-proxy/compose.json')) as {
      apps: { name: string; machines: { url: string; start?: { docker?: string } }[] }[];
    };
    const pdf = cfg.apps.find((a) => a.name === 'pdf');
    expect(pdf).toBeDefined();
    for (const m of pdf!.machines) {
      expect(Number(new URL(m.url).port)).toBe(defaults.port);
      expect(m.start?.docker).toBe('pdf-appliance-pdf');
    }
    // compose.yaml names the container `${COMPOSE_PROJECT_NAME:-pdf-appliance}-pdf`.
    expect(read('compose.yaml')).toContain('container_name: ${COMPOSE_PROJECT_NAME:-pdf-appliance}-pdf');
  });
});
