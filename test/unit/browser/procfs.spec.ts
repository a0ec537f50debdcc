import { spawn } from 'node:child_process';
import { test, expect } from '@playwright/test';
import { ProcessTable } from '../../../src/browser/procfs.js';

async function until<T>(probe: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// A renderer forked from Chromium's zygote shows the zygote's command line until it renames
// itself: a type read in that moment must not stick, or the memory watch never checks that
// renderer (a hog then prints, 200, instead of failing on RENDER_MEMORY_MB).
test('a process seen as a zygote is looked at again: a forked renderer is known once it renames itself', async () => {
  const child = spawn(
    process.execPath,
    [
      '-e',
      "process.stdin.once('data', () => { process.title = 'chrome --type=' + 'renderer'; process.stdout.write('renamed') }); setTimeout(() => {}, 20000)",
      '--',
      '--type=zygote',
      '--padding-so-the-new-title-fits',
    ],
    { stdio: ['pipe', 'pipe', 'ignore'] },
  );
  try {
    const table = new ProcessTable();
    const typeOf = () => table.descendants(process.pid).find((p) => p.pid === child.pid)?.type;
    expect(await until(typeOf, 'the child')).toBe('zygote');
    const renamed = new Promise((r) => child.stdout!.once('data', r));
    child.stdin!.write('go\n');
    await renamed;
    expect(typeOf()).toBe('renderer');
  } finally {
    child.kill();
  }
});
