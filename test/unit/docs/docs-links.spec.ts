import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test, expect } from '@playwright/test';
import { anchors, isExternal, links, slug } from '../../support/markdown.js';

// The README is the manual a newcomer reads in one sitting; depth lives in docs/, reached by
// links. So the README stays short, and no link in it or in docs/ leads nowhere: a moved
// section or a renamed heading fails here, not in a reader's browser.

const ROOT = join(import.meta.dirname, '..', '..', '..');
const README_MAX_BYTES = 12_000;

/** README.md, every docs/*.md and the replay package's README: what a reader follows links in. */
function documents(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(ROOT, 'docs', f));
  return [join(ROOT, 'README.md'), ...docs, join(ROOT, 'packages', 'replay', 'README.md')];
}

test(`README.md is at most ${README_MAX_BYTES} bytes`, () => {
  expect(statSync(join(ROOT, 'README.md')).size).toBeLessThanOrEqual(README_MAX_BYTES);
});

test('every relative link in README.md and docs/*.md leads to a file that exists, and an #anchor to a heading there', () => {
  const files = documents();
  expect(files.length).toBeGreaterThan(5);
  const broken: string[] = [];
  let checked = 0;
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const { target, line } of links(text)) {
      if (isExternal(target)) continue;
      checked++;
      const where = `${relative(ROOT, file)}:${line}: ${target}`;
      const hash = target.indexOf('#');
      const path = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
      const anchor = hash === -1 ? null : target.slice(hash + 1);
      const dest = path === '' ? file : join(dirname(file), path.split('?')[0]!);
      if (!existsSync(dest)) {
        broken.push(`${where} (no such file)`);
        continue;
      }
      if (anchor === null) continue;
      if (!dest.endsWith('.md')) {
        broken.push(`${where} (an anchor into a file that is not markdown)`);
        continue;
      }
      if (!anchors(readFileSync(dest, 'utf8')).has(decodeURIComponent(anchor)))
        broken.push(`${where} (no such heading)`);
    }
  }
  expect(checked, 'links checked').toBeGreaterThan(30);
  expect(broken).toEqual([]);
});

/** Every `.ts` file under `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

test("the README sections the appliance's own messages send an operator to exist", () => {
  // A startup error or a warning says `see the README, "Suspend instead of exit"`: that heading
  // must stay in the README (or the message must change with it).
  const headings = anchors(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  const cited: string[] = [];
  for (const file of sources(join(ROOT, 'src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/README, "([^"]+)"/g))
      cited.push(`${relative(ROOT, file)}: ${m[1]!}`);
  }
  expect(cited.length).toBeGreaterThan(0);
  expect(cited.filter((c) => !headings.has(slug(c.slice(c.indexOf(': ') + 2))))).toEqual([]);
});

test('anchors are made as GitHub makes them', () => {
  // The checker above is only as good as its idea of an anchor: headings of this repository's
  // kinds, with the anchors GitHub gives them.
  expect(slug('Deploy to Fly.io')).toBe('deploy-to-flyio');
  expect(slug('`npm run test:docker`')).toBe('npm-run-testdocker');
  expect(slug('Signed out: back to the PDF after signing in')).toBe('signed-out-back-to-the-pdf-after-signing-in');
  expect(slug('The loop guard: `x-pdf-appliance`')).toBe('the-loop-guard-x-pdf-appliance');
  expect(slug('The shared secret (`REPLAY_SECRET`)')).toBe('the-shared-secret-replay_secret');
  expect(slug('Download name: `inline` or `attachment`')).toBe('download-name-inline-or-attachment');
  expect(slug('PDF/A')).toBe('pdfa');
  expect(slug('Large documents (measured)')).toBe('large-documents-measured');
  const doc = '# Title\n\n## Notes\n\n```sh\n# not a heading\n```\n\n## Notes\n';
  expect([...anchors(doc)]).toEqual(['title', 'notes', 'notes-1']);
  expect(links('See [a](x.md#b), `[c](not-a-link.md)`.\n```\n[d](neither.md)\n```\n').map((l) => l.target)).toEqual([
    'x.md#b',
  ]);
});
