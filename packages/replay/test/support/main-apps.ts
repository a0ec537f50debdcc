import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import connect from 'connect';
import express from 'express';
import Fastify from 'fastify';
import middie from '@fastify/middie';
import { pdfReplay, type PdfReplayOptions } from '../../src/index.js';
import { closeServer, listen } from '../../../../fixtures/listen.js';

export const OWN_BODY = 'from the main app';

/** A main app on loopback with the middleware mounted the way its framework's users would. */
export interface MainApp {
  url: string;
  /** `METHOD target` of each request that got past the middleware to the app's own handler. */
  reached: string[];
  close(): Promise<void>;
}

export type Framework = 'express' | 'connect' | 'fastify' | 'node:http';
export const FRAMEWORKS: readonly Framework[] = ['express', 'connect', 'fastify', 'node:http'];

function ownHandler(reached: string[]) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    reached.push(`${req.method} ${req.url}`);
    res.setHeader('Content-Type', 'text/plain');
    res.end(OWN_BODY);
  };
}

async function startExpress(opts: PdfReplayOptions, reached: string[]): Promise<MainApp> {
  const app = express();
  app.use(pdfReplay(opts));
  app.use(ownHandler(reached));
  const server = createServer(app);
  return { url: (await listen(server)).url, reached, close: () => closeServer(server) };
}

async function startConnect(opts: PdfReplayOptions, reached: string[]): Promise<MainApp> {
  const app = connect();
  app.use(pdfReplay(opts));
  app.use(ownHandler(reached));
  const server = createServer(app);
  return { url: (await listen(server)).url, reached, close: () => closeServer(server) };
}

async function startFastify(opts: PdfReplayOptions, reached: string[]): Promise<MainApp> {
  const app = Fastify();
  await app.register(middie);
  app.use(pdfReplay(opts));
  // A catch-all route stands for the app's own routes: whatever reaches it was not replayed.
  app.all('/*', (req, reply) => {
    reached.push(`${req.method} ${req.raw.url}`);
    reply.type('text/plain').send(OWN_BODY);
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, reached, close: () => app.close() };
}

async function startNodeHttp(opts: PdfReplayOptions, reached: string[]): Promise<MainApp> {
  const replay = pdfReplay(opts);
  const own = ownHandler(reached);
  const server = createServer((req, res) => {
    if (replay(req, res)) return;
    own(req, res);
  });
  return { url: (await listen(server)).url, reached, close: () => closeServer(server) };
}

export function startMainApp(framework: Framework, opts: PdfReplayOptions): Promise<MainApp> {
  const reached: string[] = [];
  switch (framework) {
    case 'express':
      return startExpress(opts, reached);
    case 'connect':
      return startConnect(opts, reached);
    case 'fastify':
      return startFastify(opts, reached);
    case 'node:http':
      return startNodeHttp(opts, reached);
  }
}
