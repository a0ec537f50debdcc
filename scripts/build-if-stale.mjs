// Builds dist/ when it is missing or older than any source it is compiled from, so `npm start`
// and `npm run demo` work on a fresh clone without a separate build step, while a full `tsc` on
// every start (seconds of cold start) is paid only after an edit. Plain JavaScript: it runs
// before anything is compiled.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// The main-app package first: the appliance and the fixtures import it.
const PROJECTS = ['packages/replay/tsconfig.json', 'tsconfig.json'];
const SOURCES = ['src', 'fixtures', 'packages/replay/src', ...PROJECTS];

function newest(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let t = 0;
  for (const e of readdirSync(path)) t = Math.max(t, newest(join(path, e)));
  return t;
}

/**
 * Compiles both projects when any of `outputs` (paths under the repo) is missing or older than
 * the sources. Returns false when it had to build and TypeScript reported errors (tsc still
 * emits), true otherwise; exits with one line when TypeScript is not installed.
 */
export function buildIfStale(outputs) {
  const files = [...outputs.map((p) => join(root, p)), join(root, 'packages/replay/dist/index.js')];
  const oldest = Math.min(...files.map((p) => (existsSync(p) ? statSync(p).mtimeMs : 0)));
  if (oldest > 0 && Math.max(...SOURCES.map((p) => newest(join(root, p)))) <= oldest) return true;
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  if (!existsSync(tsc)) {
    console.error(
      'pdf-appliance: dist/ is missing or stale and TypeScript is not installed; run `npm ci && npm run build`',
    );
    process.exit(1);
  }
  try {
    for (const project of PROJECTS)
      execFileSync(process.execPath, [tsc, '-p', join(root, project)], { stdio: 'inherit' });
    return true;
  } catch {
    return false;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (!buildIfStale(['dist/src/main.js'])) process.exit(1);
}
