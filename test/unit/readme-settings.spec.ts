import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '@playwright/test';
import { loadConfig } from '../../src/config/config.js';

// The README's Settings table is the operator's list of every environment variable. It must
// name exactly what the appliance reads: a new setting without a row, or a row for a setting
// that is gone, fails here.

const ROOT = join(import.meta.dirname, '..', '..');
const CONFIG_SOURCE = join(ROOT, 'src', 'config', 'config.ts');
const README = join(ROOT, 'README.md');

const NAME = /^[A-Z][A-Z0-9_]*$/;

/**
 * Names loadConfig looks up when it runs: the environment is a proxy that records every key
 * asked for. Run with IDLE_ACTION=suspend so that the suspend-only settings are read as well.
 */
function namesReadAtRuntime(): Set<string> {
  const seen = new Set<string>();
  const given: Record<string, string> = {
    TARGET_URL: 'http://127.0.0.1:3000',
    // Any file that exists: loadConfig only checks that it is there.
    CHROME_PATH: process.execPath,
    IDLE_ACTION: 'suspend',
    FLY_APP_NAME: 'shop-pdf',
    FLY_MACHINE_ID: '148e21ea7f3989',
    FLY_API_TOKEN: 'FlyV1 fm2_example',
  };
  const env = new Proxy(given, {
    get(target, key) {
      if (typeof key === 'string') seen.add(key);
      return typeof key === 'string' ? target[key] : undefined;
    },
  });
  loadConfig(env, '0.0.0', { memoryBytes: 1024 * 1024 * 1024 });
  return seen;
}

/**
 * Names passed to config.ts's readers in its source (`read('X')`, `int('X', …)`, …, and the
 * list of names the suspend check loops over): this also sees reads behind a branch the
 * runtime pass above did not take.
 */
function namesInSource(): Set<string> {
  const source = readFileSync(CONFIG_SOURCE, 'utf8');
  const names = new Set<string>();
  for (const m of source.matchAll(/\b(?:read|int|bool|duration|decimal|list)\(\s*'([A-Z][A-Z0-9_]*)'/g)) names.add(m[1]!);
  for (const m of source.matchAll(/for \(const \w+ of \[([^\]]*)\]\)/g)) {
    for (const s of m[1]!.matchAll(/'([A-Z][A-Z0-9_]*)'/g)) names.add(s[1]!);
  }
  return names;
}

/** The first-column names of the table under `## Settings`, one backticked NAME per row. */
function readmeSettings(): { names: string[]; problems: string[] } {
  const lines = readFileSync(README, 'utf8').split('\n');
  const start = lines.findIndex((l) => /^## Settings\s*$/.test(l));
  if (start === -1) return { names: [], problems: ['README.md has no "## Settings" section'] };
  const end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  const section = lines.slice(start + 1, end === -1 ? undefined : end);
  const names: string[] = [];
  const problems: string[] = [];
  let header = true;
  for (const line of section) {
    if (!line.startsWith('|')) continue;
    const first = line.split('|')[1]!.trim();
    if (/^-+:?$|^:?-+:?$/.test(first)) {
      header = false; // the separator row: what follows is the body
      continue;
    }
    if (header) continue;
    const m = /^`([^`]+)`$/.exec(first);
    if (!m || !NAME.test(m[1]!)) problems.push(`row whose first cell is not one backticked NAME: ${line.slice(0, 80)}`);
    else names.push(m[1]!);
  }
  return { names, problems };
}

test('the README Settings table has one row for every variable loadConfig reads, and no other', () => {
  const runtime = namesReadAtRuntime();
  const source = namesInSource();
  // A guard on the guard: should config.ts change how it reads, these would come up short.
  expect(runtime.size).toBeGreaterThan(30);
  expect(source.size).toBeGreaterThan(30);
  const read = new Set([...runtime, ...source].filter((n) => NAME.test(n)));

  const { names, problems } = readmeSettings();
  expect(problems).toEqual([]);
  expect(names.filter((n, i) => names.indexOf(n) !== i), 'rows listed twice').toEqual([]);

  const documented = new Set(names);
  const missing = [...read].filter((n) => !documented.has(n)).sort();
  const extra = [...documented].filter((n) => !read.has(n)).sort();
  // missing: read by src/config/config.ts, no row in the README; extra: a row, but never read.
  expect({ missing, extra }).toEqual({ missing: [], extra: [] });
});
