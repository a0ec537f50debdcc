// Reads the deploy instructions (README's "Deploy to Fly.io", docs/deploy.md) the way a newcomer
// follows them: the code blocks, in order, each shell command split into words. The unit test
// checks every `fly` command against flyctl's reference and fly.toml; the integration test runs
// the commands that run on a laptop (openssl, curl) against the emulator.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';

export const ROOT = join(import.meta.dirname, '..', '..');
export const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');

export interface CodeBlock {
  lang: string;
  text: string;
  /** 1-based line of the opening fence, for messages. */
  line: number;
}

/** The fenced code blocks of `markdown`, in order. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]!); i++) body.push(lines[i]!.replace(/^ {3}/, ''));
    blocks.push({ lang: open[1]!, text: body.join('\n'), line: start + 1 });
  }
  return blocks;
}

/** A markdown section: from its heading to the next heading of the same or a higher level. */
export function section(markdown: string, heading: string): string {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.replace(/^#+\s*/, '') === heading && /^#+\s/.test(l));
  if (start === -1) throw new Error(`no section "${heading}"`);
  const level = /^#+/.exec(lines[start]!)![0].length;
  let end = lines.findIndex((l, i) => i > start && /^#+\s/.test(l) && /^#+/.exec(l)![0].length <= level);
  if (end === -1) end = lines.length;
  return lines.slice(start, end).join('\n');
}

export interface Command {
  /** The line as written (comment removed). */
  line: string;
  /** Shell words, quotes removed; `$(…)` kept as one word. */
  words: string[];
  /** Commands inside `$(…)`, split the same way. */
  inner: Command[];
  block: CodeBlock;
}

/** Splits one shell line into words: '…' and "…" quoting, $(…) kept whole. Enough for docs. */
export function words(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      cur += line.slice(i + 1, end);
      i = end;
      has = true;
    } else if (c === '"') {
      let j = i + 1;
      let depth = 0;
      for (; j < line.length && (line[j] !== '"' || depth > 0); j++) {
        if (line.startsWith('$(', j)) depth++;
        else if (line[j] === ')' && depth > 0) depth--;
      }
      cur += line.slice(i + 1, j);
      i = j;
      has = true;
    } else if (line.startsWith('$(', i)) {
      let depth = 0;
      let j = i;
      for (; j < line.length; j++) {
        if (line.startsWith('$(', j)) depth++;
        else if (line[j] === ')' && --depth === 0) break;
      }
      cur += line.slice(i, j + 1);
      i = j;
      has = true;
    } else if (/\s/.test(c)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

function innerCommands(line: string, block: CodeBlock): Command[] {
  const found: Command[] = [];
  for (const m of line.matchAll(/\$\(([^()]*)\)/g)) found.push(command(m[1]!, block));
  return found;
}

function command(line: string, block: CodeBlock): Command {
  return { line, words: words(line), inner: innerCommands(line, block), block };
}

/** Every command of the `sh` blocks, in order; comments and blank lines dropped. */
export function shellCommands(markdown: string): Command[] {
  return codeBlocks(markdown)
    .filter((b) => b.lang === 'sh')
    .flatMap((b) =>
      b.text
        .split('\n')
        .map((l) => l.replace(/(^|\s)#(?![{!]).*$/, '').trim())
        .filter((l) => l !== '')
        .map((l) => command(l, b)),
    );
}

/** The `fly` commands among `commands`, those inside `$(…)` included, in order. */
export function flyCommands(commands: Command[]): Command[] {
  return commands.flatMap((c) => [...c.inner, c]).filter((c) => c.words[0] === 'fly');
}

/**
 * flyctl's subcommands used in the docs and the flags each accepts, as its reference states them
 * (superfly/docs, flyctl/cmd/fly_<subcommand>.md): long names, short ones after a `|`.
 */
const GLOBAL = ['access-token|t', 'debug', 'verbose', 'help|h'];
export const FLYCTL: Record<string, string[]> = {
  'auth login': [],
  'apps list': ['json|j', 'org|o', 'quiet|q'],
  'apps create': ['generate-name', 'json|j', 'name', 'network', 'org|o', 'save', 'yes|y'],
  launch: [
    'no-deploy',
    'copy-config',
    'name',
    'org|o',
    'region|r',
    'flycast',
    'no-public-ips',
    'ha',
    'config|c',
    'dockerfile',
    'build-target',
    'primary-region',
    'internal-port',
    'no-db',
    'no-redis',
    'no-object-storage',
    'no-github-workflow',
    'secret',
    'yes|y',
    'now',
    'generate-name',
    'path',
    'auto-stop',
  ],
  'secrets set': ['app|a', 'config|c', 'detach', 'dns-checks', 'stage'],
  'secrets list': ['app|a', 'config|c', 'json|j'],
  'tokens create deploy': ['app|a', 'config|c', 'expiry|x', 'json|j', 'name|n'],
  deploy: [
    'app|a',
    'config|c',
    'no-public-ips',
    'flycast',
    'ha',
    'build-target',
    'dockerfile',
    'detach',
    'now',
    'primary-region',
    'regions',
    'strategy',
    'wait-timeout',
    'yes|y',
    'local-only',
    'remote-only',
    'env|e',
  ],
  'ips list': ['app|a', 'config|c', 'json|j'],
  'ips release': ['app|a', 'config|c'],
  'ips allocate-v6': ['app|a', 'config|c', 'network', 'org|o', 'private', 'region|r'],
  proxy: ['app|a', 'bind-addr|b', 'config|c', 'org|o', 'quiet|q', 'select|s', 'watch-stdin'],
  'scale count': [
    'app|a',
    'config|c',
    'region|r',
    'max-per-region',
    'process-group|g',
    'yes|y',
    'vm-memory',
    'vm-size',
  ],
  logs: ['app|a', 'config|c', 'json|j', 'machine|m', 'no-tail|n', 'region|r', 'select|s'],
  status: ['app|a', 'config|c', 'all', 'deployment', 'json|j', 'watch'],
};

/** Flags of flyctl that are booleans (take no value); every other flag takes one. */
const BOOLEAN_FLAGS = new Set([
  'no-deploy',
  'copy-config',
  'flycast',
  'no-public-ips',
  'ha',
  'no-db',
  'no-redis',
  'no-object-storage',
  'no-github-workflow',
  'yes',
  'now',
  'generate-name',
  'save',
  'json',
  'quiet',
  'detach',
  'dns-checks',
  'stage',
  'private',
  'local-only',
  'remote-only',
  'select',
  'watch-stdin',
  'no-tail',
  'all',
  'deployment',
  'watch',
  'debug',
  'verbose',
  'help',
]);

export interface ParsedFly {
  subcommand: string;
  /** Long flag name → value (true for a boolean flag). */
  flags: Map<string, string | true>;
  args: string[];
  /** Problems found: an unknown subcommand or flag. */
  problems: string[];
}

/** Parses a `fly …` command against FLYCTL. */
export function parseFly(c: Command): ParsedFly {
  const rest = c.words.slice(1);
  const sub = Object.keys(FLYCTL)
    .sort((a, b) => b.split(' ').length - a.split(' ').length)
    .find((s) => s.split(' ').every((w, i) => rest[i] === w));
  if (!sub)
    return {
      subcommand: rest.slice(0, 2).join(' '),
      flags: new Map(),
      args: [],
      problems: [`unknown flyctl subcommand in: ${c.line}`],
    };
  const known = [...FLYCTL[sub]!, ...GLOBAL].map((f) => f.split('|') as [string, string?]);
  const flags = new Map<string, string | true>();
  const args: string[] = [];
  const problems: string[] = [];
  const words = rest.slice(sub.split(' ').length);
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const m = /^(--?)([a-z0-9-]+)(?:=(.*))?$/.exec(w);
    if (!m) {
      args.push(w);
      continue;
    }
    const [, dashes, name, inline] = m;
    const entry = known.find(([long, short]) => (dashes === '--' ? long === name : short === name));
    if (!entry) {
      problems.push(`fly ${sub}: unknown flag ${w} in: ${c.line}`);
      continue;
    }
    const long = entry[0];
    if (BOOLEAN_FLAGS.has(long)) flags.set(long, inline ?? true);
    else flags.set(long, inline ?? words[++i] ?? '');
  }
  return { subcommand: sub, flags, args, problems };
}

/** TOML blocks of `markdown`, parsed. */
export function tomlBlocks(markdown: string): Array<Record<string, unknown>> {
  return codeBlocks(markdown)
    .filter((b) => b.lang === 'toml')
    .map((b) => parse(b.text) as Record<string, unknown>);
}

/** fly.toml as shipped. */
export function flyToml(): {
  app: string;
  env: Record<string, string>;
  http_service: { force_https?: boolean; internal_port: number };
} {
  return parse(read('fly.toml')) as unknown as ReturnType<typeof flyToml>;
}

/** The deploy instructions a newcomer follows: the README's section and the walk-through. */
export const DEPLOY_DOCS: ReadonlyArray<{ name: string; text: () => string }> = [
  { name: 'README.md, "Deploy to Fly.io"', text: () => section(read('README.md'), 'Deploy to Fly.io') },
  { name: 'docs/deploy.md', text: () => read('docs/deploy.md') },
];

/** The names in docs/settings.md's tables (settings-docs.spec.ts keeps them equal to config.ts). */
export function settingNames(): string[] {
  return [...read('docs/settings.md').matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((m) => m[1]!);
}
