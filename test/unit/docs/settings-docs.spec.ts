import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '@playwright/test';
import { loadConfig } from '../../../src/config/config.js';
import { SECTIONS, SETTINGS, type Setting, type SettingName } from '../../../src/config/settings.js';

// docs/settings.md is the operator's list of every environment variable, in tables by concern;
// src/config/settings.ts is the table the appliance reads them by. They must say the same: each
// docs row is the row printed from settings.ts (name, default, meaning), section by section, and
// loadConfig reads nothing outside it. The README's short table of the main settings may only
// name settings, with the parser's default where the parser knows it.

const ROOT = join(import.meta.dirname, '..', '..', '..');
const SETTINGS_MD = join(ROOT, 'docs', 'settings.md');
const README = join(ROOT, 'README.md');
const HEADER = ['variable', 'default', 'meaning'];

const NAME = /^[A-Z][A-Z0-9_]*$/;

/**
 * Names loadConfig looks up when it runs: the environment is a proxy that records every key
 * asked for. Run with IDLE_ACTION=suspend so that the suspend-only settings are needed as well.
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

/** The table row docs/settings.md must have for one setting, from src/config/settings.ts. */
function expectedRow(name: SettingName): string {
  const setting: Setting<unknown> = SETTINGS[name];
  const shown = setting.default ?? setting.parser.shown;
  if (shown === undefined) throw new Error(`${name}: neither its parser nor the table gives its default in words`);
  return `| \`${name}\` | ${shown} | ${setting.help} |`;
}

/** The rows of the table under each `## ` heading of docs/settings.md, as written. */
function tablesBySection(markdown: string): Map<string, string[]> {
  const tables = new Map<string, string[]>();
  let section = '';
  let inCode = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) inCode = !inCode;
    if (inCode) continue;
    const heading = /^## (.*)$/.exec(line);
    if (heading) section = heading[1]!;
    else if (line.startsWith('| `')) tables.set(section, [...(tables.get(section) ?? []), line]);
  }
  return tables;
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
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    if (header === null) {
      header = cells;
      if (cells.join('|') !== HEADER.join('|'))
        problems.push(`${file}: a table whose header is not "${HEADER.join(' | ')}": ${line.slice(0, 80)}`);
      continue;
    }
    if (!body) {
      if (cells.every((c) => /^:?-+:?$/.test(c))) body = true; // the separator row: what follows is the body
      continue;
    }
    const m = /^`([^`]+)`$/.exec(cells[0] ?? '');
    if (!m || !NAME.test(m[1]!))
      problems.push(`${file}: row whose first cell is not one backticked NAME: ${line.slice(0, 80)}`);
    else names.push(m[1]!);
    if (cells.length !== HEADER.length)
      problems.push(`${file}: row with ${cells.length} cells, not ${HEADER.length}: ${line.slice(0, 80)}`);
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

test('docs/settings.md is the settings table: each section lists exactly its settings, in order, as settings.ts says them', () => {
  const written = tablesBySection(readFileSync(SETTINGS_MD, 'utf8'));
  const names = Object.keys(SETTINGS) as SettingName[];
  for (const section of SECTIONS) {
    const expected = names.filter((n) => SETTINGS[n].section === section).map(expectedRow);
    // On a difference the expected rows are printed: they are what the docs' table should read.
    expect(written.get(section) ?? [], `docs/settings.md, "## ${section}"`).toEqual(expected);
  }
  const sections = [...written.keys()];
  expect(
    sections.filter((s) => !(SECTIONS as readonly string[]).includes(s)),
    'tables under a heading settings.ts does not know',
  ).toEqual([]);
  const { problems } = settingsRows(readFileSync(SETTINGS_MD, 'utf8'), 'docs/settings.md');
  expect(problems).toEqual([]);
});

test('loadConfig reads no variable that is not in the table', () => {
  const read = [...namesReadAtRuntime()].filter((n) => NAME.test(n));
  // A guard on the guard: should config.ts stop reading through the proxy, this would come up short.
  expect(read.length).toBe(Object.keys(SETTINGS).length);
  expect(read.filter((n) => !(n in SETTINGS))).toEqual([]);
});

test("the README's main settings are settings, each listed once, and it links the full table", () => {
  const section = readmeSection('Main settings');
  expect(section, 'README.md has no "## Main settings" section').not.toBe('');
  const { names, problems } = settingsRows(section, 'README.md');
  expect(problems).toEqual([]);
  expect(names.length).toBeGreaterThan(4);
  expect(
    names.filter((n, i) => names.indexOf(n) !== i),
    'rows listed twice',
  ).toEqual([]);
  const all = new Set(Object.keys(SETTINGS));
  expect(
    names.filter((n) => !all.has(n)),
    'in the README, not a setting',
  ).toEqual([]);
  expect(section).toContain('](docs/settings.md)');
  // Where the parser knows the default, the README's short table must say that very value.
  const defaults = [...section.matchAll(/^\| `([A-Z0-9_]+)` \| ([^|]*) \|/gm)].map((m) => [m[1]!, m[2]!.trim()]);
  const wrong = defaults.filter(([n, shown]) => {
    const setting: Setting<unknown> = SETTINGS[n as SettingName];
    return setting.default === undefined && setting.parser.shown !== undefined && setting.parser.shown !== shown;
  });
  expect(wrong, "README defaults that differ from the parser's").toEqual([]);
});
