import { test, expect } from '@playwright/test';
import * as replayPackage from 'pdf-appliance-replay';
import { pagePathFor } from '../../../src/http/target.js';
import { startMainApp, type MainApp } from '../../../fixtures/main-app/index.js';
import { send } from '../../support/send.js';

// The appliance's side of the pdf-appliance-replay package: the fixture main app mounts it,
// and what the main app replays is exactly what the appliance maps to a page. The package's own behaviour is tested
// in packages/replay/test.

let main: MainApp | undefined;
test.afterEach(async () => {
  await main?.close();
  main = undefined;
});

test('the fixture main app replays every *.pdf before auth and tags the answer with its instance id', async () => {
  main = await startMainApp({ instanceId: 'm-test', applianceApp: 'pdf-x', replaySecret: 'shh' });
  const res = await send(main.url, '/invoices/42.pdf');
  expect(res.status).toBe(307);
  expect(res.headers['x-instance-id']).toBe('m-test');
  expect(JSON.parse(res.text)).toEqual({
    app: 'pdf-x',
    transform: { set_headers: [{ name: 'x-pdf-appliance-secret', value: 'shh' }] },
  });
  expect(main.counts('/invoices/42.pdf')).toBe(1);
  const guarded = await send(main.url, '/t/invoice.pdf', { headers: { [replayPackage.APPLIANCE_HEADER]: '1' } });
  expect(guarded.status).toBe(404);
});

test('the main app replays a request target exactly when the appliance maps it to a page', async () => {
  main = await startMainApp({ applianceApp: 'pdf' });
  const targets = [
    '/invoices/42.pdf',
    '/invoices/42.pdf?download=1',
    '/docs/index.pdf',
    '/index.pdf',
    '/.pdf',
    '/docs/.pdf',
    '/docs/a%2Epdf',
    '/docs/a.pd%66',
    '/caf%C3%A9/r%2Fx.pdf',
    '//evil.example/x.pdf',
    '/..%2f..%2fx.pdf',
    '/a.pdf/b',
    '/a/b.PDF',
    '/x?format=.pdf',
    '/chart.png',
    '/chart.jpg',
    '/chart.jpeg',
    '/chart.webp',
    '/chart.gif',
    '/chart.PNG',
    'http://evil.example/x.pdf',
    'http://evil.example/.pdf',
    'http://evil.example.pdf',
  ];
  // The fixture opts into every image format, and the appliance renders every one.
  const mapped = (t: string) => pagePathFor(t, replayPackage.IMAGE_FORMATS) !== null;
  for (const target of targets) {
    const replayed = (await send(main.url, target)).status === 307;
    expect(replayed, target).toBe(mapped(target));
  }
  // Not vacuous: both outcomes occur.
  expect(targets.filter(mapped).length).toBeGreaterThan(3);
  expect(targets.filter((t) => !mapped(t)).length).toBeGreaterThan(3);
  // The app's own image files are mounted before the middleware: served, never replayed.
  const logo = await send(main.url, '/assets/logo.png');
  expect(logo.status).toBe(200);
  expect(logo.headers['content-type']).toBe('image/png');
});
