// `npm start` (and the appliance's `bin`): builds dist/ only when src/ is newer, then runs the
// appliance in this same process. One node process instead of two (a `prestart` hook costs a
// whole extra Node start, ~100–150 ms of every cold start, measured).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist/src/main.js');

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

// A published package ships dist/ without src/: nothing to compare, nothing to build.
const hasSources = existsSync(join(root, 'src'));
const stale = !existsSync(entry) || (hasSources && newest(join(root, 'src')) > statSync(entry).mtimeMs);
if (stale) {
  if (!existsSync(join(root, 'node_modules/typescript'))) {
    console.error('pdf-appliance: dist/ is missing or stale and TypeScript is not installed; run `npm ci && npm run build`');
    process.exit(1);
  }
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
}
await import(pathToFileURL(entry).href);
