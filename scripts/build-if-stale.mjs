// `npm start` on a fresh clone must work without a separate build step, but a full `tsc` on
// every start would cost seconds of cold start. So: compare mtimes, build only when stale.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

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

const stale = !existsSync(entry) || newest(join(root, 'src')) > statSync(entry).mtimeMs;
if (stale) {
  if (!existsSync(join(root, 'node_modules/typescript'))) {
    console.error('pdf-appliance: dist/ is missing or stale and TypeScript is not installed; run `npm ci && npm run build`');
    process.exit(1);
  }
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
}
