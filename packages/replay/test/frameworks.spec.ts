import { test, expect } from '@playwright/test';
import { APPLIANCE_HEADER } from '../src/index.js';
import { FRAMEWORKS, OWN_BODY, startMainApp, type MainApp } from './support/main-apps.js';
import { send } from '../../../test/support/send.js';

// The same behaviour, whichever way a main app mounts the middleware: Express and Connect
// `app.use(it)`, Fastify `app.use(it)` after registering @fastify/middie, plain node:http
// `if (replay(req, res)) return;`. Each runs as a real server on loopback.

for (const framework of FRAMEWORKS) {
  test.describe(`pdfReplay in ${framework}`, () => {
    let app: MainApp | undefined;
    test.afterEach(async () => {
      await app?.close();
      app = undefined;
    });

    test('answers *.pdf with 307, the Fly-Replay header, no-store and an empty body', async () => {
      app = await startMainApp(framework, { app: 'pdf' });
      const res = await send(app.url, '/invoices/42.pdf?download=1');
      expect(res.status).toBe(307);
      expect(res.headers['fly-replay']).toBe('app=pdf');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers.location).toBeUndefined();
      expect(res.text).toBe('');
      expect(app.reached).toEqual([]);
    });

    test('with a secret: the JSON form on GET and POST, the header form on HEAD', async () => {
      app = await startMainApp(framework, { app: 'pdf', secret: 's3cret' });
      const expected = {
        app: 'pdf',
        transform: { set_headers: [{ name: 'x-pdf-appliance-secret', value: 's3cret' }] },
      };
      for (const method of ['GET', 'POST']) {
        const res = await send(app.url, '/invoices/42.pdf', { method, body: method === 'POST' ? 'x=1' : undefined });
        expect(res.status, method).toBe(307);
        expect(res.headers['content-type'], method).toBe('application/vnd.fly.replay+json');
        expect(res.headers['fly-replay'], method).toBeUndefined();
        expect(JSON.parse(res.text), method).toEqual(expected);
      }
      const head = await send(app.url, '/invoices/42.pdf', { method: 'HEAD' });
      expect(head.status).toBe(307);
      expect(head.headers['fly-replay']).toBe('app=pdf');
      expect(app.reached).toEqual([]);
    });

    test('everything that is not a PDF reaches the app, untouched', async () => {
      app = await startMainApp(framework, { app: 'pdf' });
      const own = [
        '/invoices/42',
        '/a.pdf/b',
        '/file.pdfx',
        '/x?format=.pdf',
        '/report.PDF',
        '/.pdf',
        '/docs/.pdf',
        '/docs/a%2Epdf',
        '/docs/a.pd%66',
        '/logo.png',
        '/photo.jpg',
      ];
      for (const target of own) {
        const res = await send(app.url, target);
        expect(res.status, target).toBe(200);
        expect(res.headers['fly-replay'], target).toBeUndefined();
        expect(res.text, target).toBe(OWN_BODY);
      }
      expect(app.reached).toEqual(own.map((t) => `GET ${t}`));
    });

    test('loop guard: a request from the appliance reaches the app even for *.pdf', async () => {
      app = await startMainApp(framework, { app: 'pdf', secret: 'k' });
      const res = await send(app.url, '/invoices/42.pdf', { headers: { [APPLIANCE_HEADER]: '1' } });
      expect(res.status).toBe(200);
      expect(res.headers['fly-replay']).toBeUndefined();
      expect(res.text).toBe(OWN_BODY);
      expect(app.reached).toEqual(['GET /invoices/42.pdf']);
    });

    test('image outputs are replayed only when opted into', async () => {
      app = await startMainApp(framework, { app: 'pdf', images: ['png', 'jpeg'] });
      for (const target of [
        '/charts/q3.png',
        '/photos/1.jpg',
        '/photos/1.jpeg',
        '/invoices/42.pdf',
        '/gallery/index.png?w=2',
      ]) {
        const res = await send(app.url, target);
        expect(res.status, target).toBe(307);
        expect(res.headers['fly-replay'], target).toBe('app=pdf');
      }
      for (const target of ['/photos/1.webp', '/charts/q3.PNG', '/charts/.png', '/charts/q3%2Epng']) {
        expect((await send(app.url, target)).status, target).toBe(200);
      }
      expect(app.reached).toEqual([
        'GET /photos/1.webp',
        'GET /charts/q3.PNG',
        'GET /charts/.png',
        'GET /charts/q3%2Epng',
      ]);
    });

    test('an absolute-form request target is judged by its path, as the appliance judges it', async () => {
      app = await startMainApp(framework, { app: 'pdf' });
      expect((await send(app.url, 'http://evil.example/x.pdf')).status).toBe(307);
      expect((await send(app.url, 'http://evil.example/x')).status).toBe(200);
    });
  });
}
