import { test } from '@playwright/test';
import { get, startStack } from '../../support/stack.js';
test('timings', async () => {
  test.setTimeout(120_000);
  const s = await startStack({ CONCURRENCY: '4', LOG_LEVEL: 'info' });
  for (const mode of ['same', 'new', 'same', 'new']) {
    const rows: string[] = [];
    for (let i = 0; i < 8; i++) {
      const user = mode === 'same' ? 'u-same' : `u-${mode}-${Date.now()}-${i}`;
      const n = s.logs.length;
      const t0 = performance.now();
      await get(`${s.url}/t/invoice.pdf`, { headers: { cookie: `session=${user}` } });
      const ms = Math.round(performance.now() - t0);
      const line = s.logs.slice(n).find((l) => l.includes('render request'));
      const j = line ? JSON.parse(line) : {};
      rows.push(`${ms}(${j.workspaceMs}/${j.navigationMs}/${j.printMs})`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    console.log(mode, rows.join(' '));
  }
  await s.close();
});
