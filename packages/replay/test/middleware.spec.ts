import { createServer, type Server } from 'node:http';
import { test, expect } from '@playwright/test';
import { pdfReplay, type ImageFormat, type PdfReplayOptions } from '../src/index.js';
import { closeServer, listen } from '../../../fixtures/listen.js';
import { send } from '../../../test/support/send.js';

// What the middleware answers for each option, and its contract with the code around it
// (return value, `next`). The framework-specific mounting is in frameworks.spec.ts.

interface Probe {
  url: string;
  /** Per request: what the middleware returned and how often it called `next`. */
  calls: Array<{ target: string; returned: boolean; nextCalls: number }>;
  close(): Promise<void>;
}

async function probe(opts: PdfReplayOptions, withNext: boolean): Promise<Probe> {
  const replay = pdfReplay(opts);
  const calls: Probe['calls'] = [];
  const server: Server = createServer((req, res) => {
    let nextCalls = 0;
    const returned = withNext ? replay(req, res, () => void nextCalls++) : replay(req, res);
    calls.push({ target: req.url ?? '', returned, nextCalls });
    if (!res.writableEnded) res.end('own');
  });
  const { url } = await listen(server);
  return { url, calls, close: () => closeServer(server) };
}

let p: Probe | undefined;
test.afterEach(async () => {
  await p?.close();
  p = undefined;
});

test('returns true when it answered and false when it did not; calls next exactly once, only then', async () => {
  p = await probe({ app: 'pdf' }, true);
  await send(p.url, '/a.pdf');
  await send(p.url, '/a');
  // The handler records synchronously, before the answer is even sent.
  expect(p.calls).toEqual([
    { target: '/a.pdf', returned: true, nextCalls: 0 },
    { target: '/a', returned: false, nextCalls: 1 },
  ]);
});

test('without next (plain node:http) it only reports, and the caller answers', async () => {
  p = await probe({ app: 'pdf' }, false);
  expect((await send(p.url, '/a')).text).toBe('own');
  expect((await send(p.url, '/a.pdf')).status).toBe(307);
  expect(p.calls.map((c) => c.returned)).toEqual([false, true]);
});

test('header form: region and state in order; a region list is quoted', async () => {
  p = await probe({ app: 'my-pdf', region: 'ams', state: 'from-main' }, true);
  expect((await send(p.url, '/report.pdf')).headers['fly-replay']).toBe('app=my-pdf;region=ams;state=from-main');
  await p.close();
  p = await probe({ app: 'my-pdf', region: 'ams,any' }, true);
  expect((await send(p.url, '/report.pdf')).headers['fly-replay']).toBe('app=my-pdf;region="ams,any"');
});

test('JSON form honours secretHeader, region and state, with an exact Content-Length', async () => {
  p = await probe({ app: 'pdf', secret: 'kéy', secretHeader: 'x-custom', region: 'fra', state: 'st' }, true);
  const res = await send(p.url, '/a.pdf');
  expect(JSON.parse(res.text)).toEqual({
    app: 'pdf',
    region: 'fra',
    state: 'st',
    transform: { set_headers: [{ name: 'x-custom', value: 'kéy' }] },
  });
  expect(res.headers['content-length']).toBe(String(Buffer.byteLength(res.text)));
});

test('images are fixed when the middleware is made: changing the array later changes nothing', async () => {
  const images: ImageFormat[] = ['png'];
  p = await probe({ app: 'pdf', images }, true);
  images.push('webp');
  expect((await send(p.url, '/c.png')).status).toBe(307);
  expect((await send(p.url, '/c.webp')).status).toBe(200);
});

test('rejects options that would corrupt the replay, at once', () => {
  const bad: unknown[] = [
    undefined,
    {},
    { app: '' },
    { app: 'a;instance=x' },
    { app: 'a,b' },
    { app: 'a b' },
    { app: 'pdf', state: 'a b' },
    { app: 'pdf', state: 'a=b' },
    { app: 'pdf', region: 'ams;x' },
    { app: 'pdf', secret: '' },
    { app: 'pdf', secret: 'a\r\nb' },
    { app: 'pdf', secretHeader: 'bad header' },
    { app: 'pdf', images: 'png' },
    { app: 'pdf', images: ['jpg'] },
    { app: 'pdf', images: ['PNG'] },
    { app: 'pdf', images: ['pdf'] },
  ];
  for (const opts of bad) {
    expect(() => pdfReplay(opts as PdfReplayOptions), JSON.stringify(opts)).toThrow(TypeError);
  }
  expect(() => pdfReplay({ app: 'pdf', region: 'ams,fra', images: ['png', 'jpeg', 'webp'] })).not.toThrow();
});
