import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, expect } from '@playwright/test';
import express from 'express';
import { APPLIANCE_HEADER, pdfReplay, preload, type PdfReplayOptions } from '../../src/express.js';
import { startMainApp } from '../../fixtures/main-app/index.js';

interface Harness {
  url: string;
  /** Requests that got past the middleware to the app's own handler. */
  reached: string[];
  close(): Promise<void>;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function startApp(opts: PdfReplayOptions): Promise<Harness> {
  const reached: string[] = [];
  const app = express();
  app.use(pdfReplay(opts));
  app.use((req, res) => {
    reached.push(`${req.method} ${req.originalUrl}`);
    res.type('text/plain').send('from the main app');
  });
  const server = createServer(app);
  const url = await listen(server);
  return { url, reached, close: () => closeServer(server) };
}

const get = (url: string, init: RequestInit = {}): Promise<Response> => fetch(url, { redirect: 'manual', ...init });

test.describe('pdfReplay', () => {
  let h: Harness;
  test.afterEach(async () => h?.close());

  test('answers *.pdf with 307 and a Fly-Replay header, empty body', async () => {
    h = await startApp({ app: 'pdf' });
    const res = await get(`${h.url}/invoices/42.pdf?download=1`);
    expect(res.status).toBe(307);
    expect(res.headers.get('fly-replay')).toBe('app=pdf');
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toBe('');
    expect(h.reached).toEqual([]);
  });

  test('adds region and state to the header form; quotes a region list', async () => {
    h = await startApp({ app: 'my-pdf', region: 'ams', state: 'from-main' });
    const res = await get(`${h.url}/report.pdf`);
    expect(res.headers.get('fly-replay')).toBe('app=my-pdf;region=ams;state=from-main');
    await h.close();

    h = await startApp({ app: 'my-pdf', region: 'ams,any' });
    const res2 = await get(`${h.url}/report.pdf`);
    expect(res2.headers.get('fly-replay')).toBe('app=my-pdf;region="ams,any"');
  });

  test('with a secret, answers with the JSON replay form that sets the secret header', async () => {
    h = await startApp({ app: 'pdf', secret: 's3cret' });
    const res = await get(`${h.url}/invoices/42.pdf`);
    expect(res.status).toBe(307);
    expect(res.headers.get('content-type')).toBe('application/vnd.fly.replay+json');
    expect(res.headers.get('fly-replay')).toBeNull();
    expect(await res.json()).toEqual({
      app: 'pdf',
      transform: { set_headers: [{ name: 'x-pdf-appliance-secret', value: 's3cret' }] },
    });
  });

  test('JSON form honours secretHeader, region and state', async () => {
    h = await startApp({ app: 'pdf', secret: 'k', secretHeader: 'x-custom', region: 'fra', state: 'st' });
    const body = await (await get(`${h.url}/a.pdf`)).json();
    expect(body).toEqual({
      app: 'pdf',
      region: 'fra',
      state: 'st',
      transform: { set_headers: [{ name: 'x-custom', value: 'k' }] },
    });
  });

  test('loop guard: requests from the appliance itself are passed through', async () => {
    h = await startApp({ app: 'pdf', secret: 'k' });
    const res = await get(`${h.url}/invoices/42.pdf`, { headers: { [APPLIANCE_HEADER]: '1' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('fly-replay')).toBeNull();
    expect(await res.text()).toBe('from the main app');
    expect(h.reached).toEqual(['GET /invoices/42.pdf']);
  });

  test('non-pdf requests pass through untouched', async () => {
    h = await startApp({ app: 'pdf' });
    for (const path of ['/invoices/42', '/pdf', '/a.pdf/b', '/file.pdfx', '/x?format=.pdf']) {
      const res = await get(`${h.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('fly-replay'), path).toBeNull();
    }
    expect(h.reached).toHaveLength(5);
  });

  test('HEAD and other methods are replayed too (the appliance answers 405 itself)', async () => {
    h = await startApp({ app: 'pdf' });
    const head = await get(`${h.url}/invoices/42.pdf`, { method: 'HEAD' });
    expect(head.status).toBe(307);
    expect(head.headers.get('fly-replay')).toBe('app=pdf');
    const post = await get(`${h.url}/invoices/42.pdf`, { method: 'POST', body: 'x=1' });
    expect(post.status).toBe(307);
    expect(post.headers.get('fly-replay')).toBe('app=pdf');
    expect(h.reached).toEqual([]);
  });

  test('HEAD with a secret falls back to the header form, since a HEAD response has no body', async () => {
    h = await startApp({ app: 'pdf', secret: 'k' });
    const head = await get(`${h.url}/invoices/42.pdf`, { method: 'HEAD' });
    expect(head.status).toBe(307);
    expect(head.headers.get('fly-replay')).toBe('app=pdf');
  });

  test('a percent-encoded .pdf suffix is not a PDF here, as it is not at the appliance (no replay loop)', async () => {
    h = await startApp({ app: 'pdf' });
    for (const path of ['/docs/index%2Epdf', '/docs/a.pd%66', '/docs/a%2epdf']) {
      const res = await get(`${h.url}${path}`);
      expect(res.status, path).not.toBe(307);
    }
    expect((await get(`${h.url}/docs/a.pdf`)).status).toBe(307);
  });

  test('rejects options that would corrupt the replay header', () => {
    expect(() => pdfReplay({ app: '' })).toThrow(TypeError);
    expect(() => pdfReplay({ app: 'a;instance=x' })).toThrow(TypeError);
    expect(() => pdfReplay({ app: 'pdf', state: 'a b' })).toThrow(TypeError);
    expect(() => pdfReplay({ app: 'pdf', secret: 'a\r\nb' })).toThrow(TypeError);
    expect(() => pdfReplay({ app: 'pdf', secretHeader: 'bad header' })).toThrow(TypeError);
  });
});

test.describe('pdfReplay mounted in the fixture main app', () => {
  test('replays every *.pdf before auth and tags the response with the instance id', async () => {
    const main = await startMainApp({ instanceId: 'm-test', applianceApp: 'pdf-x', replaySecret: 'shh' });
    try {
      const res = await get(`${main.url}/invoices/42.pdf`);
      expect(res.status).toBe(307);
      expect(res.headers.get('x-instance-id')).toBe('m-test');
      expect(await res.json()).toEqual({
        app: 'pdf-x',
        transform: { set_headers: [{ name: 'x-pdf-appliance-secret', value: 'shh' }] },
      });
      expect(main.counts('/invoices/42.pdf')).toBe(1);
      const guarded = await get(`${main.url}/t/invoice.pdf`, { headers: { [APPLIANCE_HEADER]: '1' } });
      expect(guarded.status).toBe(404);
    } finally {
      await main.close();
    }
  });
});

test.describe('preload', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  test.beforeEach(() => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
  });
  test.afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  test('sends one GET to the warm-up URL without being awaited', async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.end('warm');
    });
    const url = await listen(server);
    try {
      expect(preload({ url: `${url}/healthz` })).toBeUndefined();
      await expect.poll(() => seen).toEqual(['GET /healthz']);
    } finally {
      await closeServer(server);
    }
  });

  test('never throws or rejects when the target refuses connections', async () => {
    // Grab a free port, then close it so connecting is refused.
    const probe = createServer();
    const url = await listen(probe);
    await closeServer(probe);

    expect(() => preload({ url: `${url}/warm` })).not.toThrow();
    expect(() => preload({ url: 'not a url' })).not.toThrow();
    expect(() => preload({ url: `${url}/x`, fetchImpl: () => { throw new Error('sync boom'); } })).not.toThrow();
    expect(() => preload({ url: `${url}/x`, fetchImpl: () => Promise.reject(new Error('async boom')) })).not.toThrow();
    expect(() => preload(undefined as unknown as { url: string })).not.toThrow();
    await settle(300);
    expect(unhandled).toEqual([]);
  });

  test('gives up after timeoutMs on a target that never answers', async () => {
    let aborted = false;
    const server = createServer((req) => {
      req.socket.on('close', () => {
        aborted = true;
      });
    });
    const url = await listen(server);
    try {
      preload({ url: `${url}/hang`, timeoutMs: 100 });
      await expect.poll(() => aborted, { timeout: 3000 }).toBe(true);
      expect(unhandled).toEqual([]);
    } finally {
      await closeServer(server);
    }
  });
});
