import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '@playwright/test';
import { loadConfig } from '../../src/config/config.js';

// docs/settings.md is the operator's list of every environment variable, in tables by concern.
// It must name exactly what the appliance reads: a new setting without a row, or a row for a
// setting that is gone, fails here. The README's short table of the main settings may only name
// settings that are there.

const ROOT = join(import.meta.dirname, '..', '..');
const CONFIG_SOURCE = join(ROOT, 'src', 'config', 'config.ts');
const SETTINGS = join(ROOT, 'docs', 'settings.md');
const README = join(ROOT, 'README.md');
const HEADER = ['variable', 'default', 'meaning'];

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

/**
 * The first-column names of every table in `markdown` (outside code blocks), one backticked
 * NAME per row. Every table there must be a settings table, with HEADER's columns: a table of
 * another shape would hide its rows from this check.
 */
function settingsRows(markdown: string, file: string): { names: string[]; problems: string[] } {
  const names: string[] = [];
  const problems: string[] = [];
  let inCode = false;
  let header: string[] | null = null; // the current table's header; null outside a table
  let body = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) inCode = !inCode;
    if (inCode || !line.startsWith('|')) {
      header = null;
      body = false;
      continue;
    }
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (header === null) {
      header = cells;
      if (cells.join('|') !== HEADER.join('|')) problems.push(`${file}: a table whose header is not "${HEADER.join(' | ')}": ${line.slice(0, 80)}`);
      continue;
    }
    if (!body) {
      if (cells.every((c) => /^:?-+:?$/.test(c))) body = true; // the separator row: what follows is the body
      continue;
    }
    const m = /^`([^`]+)`$/.exec(cells[0] ?? '');
    if (!m || !NAME.test(m[1]!)) problems.push(`${file}: row whose first cell is not one backticked NAME: ${line.slice(0, 80)}`);
    else names.push(m[1]!);
    if (cells.length !== HEADER.length) problems.push(`${file}: row with ${cells.length} cells, not ${HEADER.length}: ${line.slice(0, 80)}`);
  }
  return { names, problems };
}

/** The README's section `## <heading>`, up to the next `## `. */
function readmeSection(heading: string): string {
  const lines = readFileSync(README, 'utf8').split('\n');
  const start = lines.findIndex((l) => l === `## ${heading}`);
  if (start === -1) return '';
  const end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  return lines.slice(start + 1, end === -1 ? undefined : end).join('\n');
}

test('docs/settings.md has one row for every variable loadConfig reads, and no other', () => {
  const runtime = namesReadAtRuntime();
  const source = namesInSource();
  // A guard on the guard: should config.ts change how it reads, these would come up short.
  expect(runtime.size).toBeGreaterThan(30);
  expect(source.size).toBeGreaterThan(30);
  const read = new Set([...runtime, ...source].filter((n) => NAME.test(n)));

  const { names, problems } = settingsRows(readFileSync(SETTINGS, 'utf8'), 'docs/settings.md');
  expect(problems).toEqual([]);
  expect(names.filter((n, i) => names.indexOf(n) !== i), 'rows listed twice').toEqual([]);

  const documented = new Set(names);
  const missing = [...read].filter((n) => !documented.has(n)).sort();
  const extra = [...documented].filter((n) => !read.has(n)).sort();
  // missing: read by src/config/config.ts, no row in docs/settings.md; extra: a row, but never read.
  expect({ missing, extra }).toEqual({ missing: [], extra: [] });
});

test('the README\'s main settings are settings, each listed once, and it links the full table', () => {
  const section = readmeSection('Main settings');
  expect(section, 'README.md has no "## Main settings" section').not.toBe('');
  const { names, problems } = settingsRows(section, 'README.md');
  expect(problems).toEqual([]);
  expect(names.length).toBeGreaterThan(4);
  expect(names.filter((n, i) => names.indexOf(n) !== i), 'rows listed twice').toEqual([]);
  const all = new Set(settingsRows(readFileSync(SETTINGS, 'utf8'), 'docs/settings.md').names);
  expect(names.filter((n) => !all.has(n)), 'in the README, not in docs/settings.md').toEqual([]);
  expect(section).toContain('](docs/settings.md)');
});
