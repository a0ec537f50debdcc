import { test, expect } from '@playwright/test';
import { ConfigError, loadConfig } from '../../../src/config/config.js';
import { isInternalOrigin } from '../../../src/http/request.js';
import {
  codeBlocks,
  DEPLOY_DOCS,
  flyCommands,
  flyToml,
  parseFly,
  read,
  settingNames,
  shellCommands,
  tomlBlocks,
  type Command,
} from '../../support/deploy-docs.js';

// The deploy instructions and the shipped fly.toml must work together, step by step, public or
// private. Every command a newcomer types is checked here: each `fly` command against flyctl's
// reference and against fly.toml (names, order, what the settings need); everything else is
// one the integration test (deploy-walkthrough.spec.ts) runs.

const fly = flyToml();
const APPLIANCE = fly.app;
const MAIN = APPLIANCE.replace(/-pdf$/, '');
const CHROME = { CHROME_PATH: '/usr/bin/chromium' };
/** What Fly sets in every Machine. */
const MACHINE = { FLY_APP_NAME: APPLIANCE, FLY_MACHINE_ID: '148e21ea7f3989' };
/** Commands other than `fly` that the walk-through may use: the integration test runs them. */
const RUN_LOCALLY = /^(SECRET=\$\(openssl rand -hex 32\)|curl\s)/;

/** Does the appliance, as fly.toml configures it, start without FLY_API_TOKEN? */
function startsWithoutToken(): boolean {
  try {
    loadConfig({ ...fly.env, ...MACHINE, ...CHROME });
    return true;
  } catch (err) {
    if (err instanceof ConfigError) return false;
    throw err;
  }
}

/** The appliance's first deploy in `commands`: `fly deploy` or `fly launch` without --no-deploy. */
function firstDeploy(commands: Command[]): number {
  return commands.findIndex((c) => {
    const p = parseFly(c);
    const app = p.flags.get('app');
    if (app !== undefined && app !== APPLIANCE) return false;
    return p.subcommand === 'deploy' || (p.subcommand === 'launch' && !p.flags.has('no-deploy'));
  });
}

function secretSet(commands: Command[], name: string): number {
  return commands.findIndex((c) => {
    const p = parseFly(c);
    return (
      p.subcommand === 'secrets set' && p.flags.get('app') === APPLIANCE && p.args.some((a) => a.startsWith(`${name}=`))
    );
  });
}

for (const doc of DEPLOY_DOCS) {
  test.describe(doc.name, () => {
    const text = doc.text();
    const all = shellCommands(text);
    const flyOnes = flyCommands(all);

    test('every fly command is one flyctl has, with flags it accepts', () => {
      expect(flyOnes.length).toBeGreaterThan(0);
      expect(flyOnes.flatMap((c) => parseFly(c).problems)).toEqual([]);
    });

    test('every other command is one the walk-through test runs', () => {
      const others = all.filter((c) => c.words[0] !== 'fly').map((c) => c.line);
      expect(others.filter((l) => !RUN_LOCALLY.test(l))).toEqual([]);
    });

    test("each command names the appliance (fly.toml's app) or its main app, and one organization", () => {
      for (const c of flyOnes) {
        const p = parseFly(c);
        const app = p.flags.get('app');
        if (app !== undefined) expect([APPLIANCE, MAIN], c.line).toContain(app);
        if (p.subcommand === 'apps create') expect(p.args[0] ?? p.flags.get('name'), c.line).toBe(APPLIANCE);
        if (p.subcommand === 'launch') expect(p.flags.get('name'), c.line).toBe(APPLIANCE);
      }
      // Replays reach only apps in the main app's organization: the app is created there, by name.
      const creates = flyOnes.filter((c) => ['apps create', 'launch'].includes(parseFly(c).subcommand));
      expect(creates.length).toBeGreaterThan(0);
      for (const c of creates) expect(parseFly(c).flags.get('org'), c.line).toEqual(expect.any(String));
      expect(new Set(creates.map((c) => parseFly(c).flags.get('org'))).size).toBe(1);
      expect(text).toMatch(/same organization/);
    });

    test("secrets are set before the first deploy: the token fly.toml's IDLE_ACTION needs, and REPLAY_SECRET", () => {
      const deploy = firstDeploy(flyOnes);
      expect(deploy, 'no deploy of the appliance').toBeGreaterThanOrEqual(0);
      // fly.toml's [env] (IDLE_ACTION=suspend) does not start without a token: a deploy before it
      // is set crashes on every start.
      expect(startsWithoutToken()).toBe(false);
      const token = secretSet(flyOnes, 'FLY_API_TOKEN');
      expect(token, 'FLY_API_TOKEN is never set').toBeGreaterThanOrEqual(0);
      expect(token, 'FLY_API_TOKEN is set after the first deploy').toBeLessThan(deploy);
      const secret = secretSet(flyOnes, 'REPLAY_SECRET');
      expect(secret, 'REPLAY_SECRET is never set on the appliance').toBeGreaterThanOrEqual(0);
      expect(secret, 'REPLAY_SECRET is set after the first deploy').toBeLessThan(deploy);
      // The main app gets the same secret.
      expect(
        flyOnes.some(
          (c) =>
            parseFly(c).subcommand === 'secrets set' &&
            parseFly(c).flags.get('app') === MAIN &&
            c.line.includes('REPLAY_SECRET="$SECRET"'),
        ),
      ).toBe(true);
      // Each secret is a setting the appliance reads.
      for (const c of flyOnes.filter((x) => parseFly(x).subcommand === 'secrets set')) {
        for (const a of parseFly(c).args) expect(settingNames(), c.line).toContain(a.split('=')[0]);
      }
    });

    test('fly launch never deploys before the secrets exist', () => {
      for (const c of flyOnes.filter((x) => parseFly(x).subcommand === 'launch')) {
        expect(parseFly(c).flags.has('no-deploy'), c.line).toBe(true);
        expect(parseFly(c).flags.has('copy-config'), c.line).toBe(true);
      }
    });

    test('the first deploy leaves the appliance off the public internet', () => {
      const deploy = parseFly(flyOnes[firstDeploy(flyOnes)]!);
      expect(deploy.flags.has('no-public-ips')).toBe(true);
      expect(deploy.flags.has('flycast')).toBe(true);
    });

    test('Flycast is plain HTTP: used anywhere here, fly.toml must not force HTTPS', () => {
      const usesFlycast =
        /http:\/\/[a-z0-9-]+\.flycast\b/.test(text) ||
        flyOnes.some(
          (c) =>
            parseFly(c).flags.has('flycast') ||
            (parseFly(c).subcommand === 'ips allocate-v6' && parseFly(c).flags.has('private')),
        );
      expect(usesFlycast).toBe(true);
      // Fly's proxy answers a plain-HTTP request to a service with force_https = true with a
      // 301 to HTTPS, before any Machine is started; Flycast has no HTTPS (superfly/docs,
      // networking/flycast and networking/services).
      expect(fly.http_service.force_https ?? false).toBe(false);
      // Nor does any command or snippet ask Flycast for HTTPS.
      const code = codeBlocks(text)
        .map((b) => b.text)
        .join('\n');
      expect(code).not.toMatch(/https:\/\/[a-z0-9-]+\.flycast\b/);
    });

    test("warm-up and tunnel go to the appliance's own addresses, on the port its service listens on", () => {
      for (const m of text.matchAll(/preload\(\{ url: '([^']+)'/g)) {
        expect([`http://${APPLIANCE}.flycast/`, `https://${APPLIANCE}.fly.dev/`]).toContain(m[1]);
      }
      for (const c of flyOnes.filter((x) => parseFly(x).subcommand === 'proxy')) {
        const p = parseFly(c);
        const [, remote] = p.args[0]!.split(':');
        expect(remote, c.line).toBe('80'); // [http_service] answers on 80 (and 443 publicly)
        expect(p.args[1], c.line).toBe(`${APPLIANCE}.flycast`);
      }
      for (const m of text.matchAll(/pdfReplay\(\{ app: '([^']+)'/g)) expect(m[1]).toBe(APPLIANCE);
    });

    test("any [env] it shows is accepted with fly.toml's, and an internal TARGET_URL comes with PUBLIC_URL", () => {
      for (const block of tomlBlocks(text)) {
        const env = (block['env'] ?? {}) as Record<string, string>;
        for (const name of Object.keys(env)) expect(settingNames()).toContain(name);
        const c = loadConfig({ ...fly.env, ...env, ...MACHINE, FLY_API_TOKEN: 'FlyV1 fm2_example', ...CHROME });
        if (isInternalOrigin(c.targetOrigin)) expect(c.publicOrigin, JSON.stringify(env)).not.toBeNull();
      }
    });
  });
}

test("the README's deploy section leads to the walk-through, and the walk-through exists", () => {
  expect(DEPLOY_DOCS[0]!.text()).toContain('(docs/deploy.md)');
  expect(codeBlocks(read('docs/deploy.md')).length).toBeGreaterThan(5);
});
