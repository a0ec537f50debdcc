import { readFileSync } from 'node:fs';
import { test, expect } from '@playwright/test';
import { startMainApp, type MainApp } from '../../fixtures/main-app/index.js';
import { isPdf } from '../support/pdf.js';
import { baseEnv, get, spawnAppliance, type Spawned } from '../support/stack.js';

/**
 * What Chromium and the processes it starts can read of the appliance's environment. A
 * compromised renderer can read its own /proc/self/environ (and, unsandboxed, its siblings'):
 * the app's deploy token, the replay secret and whatever else the operator keeps in the
 * environment must not be there. Needs the real process (dist/src/main.js) and real Chromium.
 */

const SECRETS = {
  FLY_API_TOKEN: 'FlyV1 fm2_canary-deploy-token-7f3a9c',
  REPLAY_SECRET: 'canary-replay-secret-51d0e8b2',
  // Not the appliance's at all: an operator's other secret in the same environment.
  DATABASE_URL: 'postgres://app:canary-db-password-93ab@db.internal/app',
};

function environOf(pid: number): Map<string, string> | null {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return null; // exited meanwhile
  }
  const env = new Map<string, string>();
  for (const entry of raw.split('\0').filter(Boolean)) {
    const eq = entry.indexOf('=');
    env.set(eq < 0 ? entry : entry.slice(0, eq), eq < 0 ? '' : entry.slice(eq + 1));
  }
  return env;
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ');
  } catch {
    return '';
  }
}

test.describe('the environment of Chromium and its children', () => {
  test.describe.configure({ timeout: 90_000 });
  let main: MainApp;
  let a: Spawned | undefined;
  test.beforeEach(async () => {
    main = await startMainApp({ replaySecret: SECRETS.REPLAY_SECRET });
  });
  test.afterEach(async () => {
    if (a && a.proc.exitCode === null && a.proc.signalCode === null) {
      a.proc.kill('SIGKILL');
      await a.exited;
    }
    a = undefined;
    await main.close();
  });

  test('holds neither the deploy token, nor the replay secret, nor anything else of the operator', async () => {
    a = await spawnAppliance({ ...baseEnv(main.url), ...SECRETS });
    await a.waitForLog((l) => l.includes('"msg":"browser ready"'), 30_000);
    const r = await get(`${a.url}/t/invoice.pdf`, { headers: { 'x-pdf-appliance-secret': SECRETS.REPLAY_SECRET } });
    expect(r.status).toBe(200);
    expect(isPdf(r.body)).toBe(true);

    // The appliance itself has them (it needs them), so the check below can see them at all.
    const own = environOf(a.proc.pid!)!;
    expect(own.get('REPLAY_SECRET')).toBe(SECRETS.REPLAY_SECRET);

    const tree = a.descendants();
    const read = tree
      .map((pid) => ({ pid, command: commandOf(pid), env: environOf(pid) }))
      .filter((p) => p.env !== null);
    // Chromium's main process and at least one of its children (zygote, renderer, GPU, utility).
    expect(read.some((p) => !p.command.includes('--type='))).toBe(true);
    expect(read.filter((p) => p.command.includes('--type=')).length).toBeGreaterThan(0);
    for (const p of read) {
      const text = [...p.env!].map(([k, v]) => `${k}=${v}`).join('\n');
      for (const [name, value] of Object.entries(SECRETS)) {
        expect(text, `${name} in the environment of ${p.pid} (${p.command.slice(0, 80)})`).not.toContain(name);
        expect(text, `the value of ${name} in the environment of ${p.pid} (${p.command.slice(0, 80)})`).not.toContain(
          value,
        );
      }
      // Nor the rest of the appliance's settings: Chromium gets what it needs to run, not ours.
      expect(p.env!.has('TARGET_URL'), `TARGET_URL in ${p.pid}`).toBe(false);
    }
  });
});
