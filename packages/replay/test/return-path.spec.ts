import { createServer, type IncomingMessage } from 'node:http';
import { test, expect } from '@playwright/test';
import { APPLIANCE_HEADER, OUTPUT_HEADER, returnPath } from '../src/index.js';
import { closeServer, listen } from '../../../fixtures/listen.js';
import { send } from '../../../test/support/send.js';

// A main app's login redirect asks returnPath(req) where to send the user back after signing
// in. While the appliance loads /invoices/42 to print /invoices/42.pdf, the answer is the PDF:
// the appliance names it in x-pdf-appliance-output. Anything else gets the request's own path.

/** What returnPath says for one real request, as a node:http server receives it. */
async function answerFor(target: string, headers: Record<string, string> = {}, originalUrl?: string): Promise<string> {
  const server = createServer((req: IncomingMessage & { originalUrl?: string }, res) => {
    if (originalUrl !== undefined) req.originalUrl = originalUrl;
    res.end(returnPath(req));
  });
  const { url } = await listen(server);
  try {
    return (await send(url, target, { headers })).text;
  } finally {
    await closeServer(server);
  }
}

const fromAppliance = (output: string) => ({ [APPLIANCE_HEADER]: '1', [OUTPUT_HEADER]: output });

test('the header names are the ones the appliance sends', () => {
  expect(APPLIANCE_HEADER).toBe('x-pdf-appliance');
  expect(OUTPUT_HEADER).toBe('x-pdf-appliance-output');
});

test('a request from the appliance: the output the user asked for, query included', async () => {
  expect(await answerFor('/invoices/42', fromAppliance('/invoices/42.pdf'))).toBe('/invoices/42.pdf');
  expect(await answerFor('/invoices/42?download', fromAppliance('/invoices/42.pdf?download'))).toBe(
    '/invoices/42.pdf?download',
  );
  expect(await answerFor('/docs/', fromAppliance('/docs/index.pdf'))).toBe('/docs/index.pdf');
  expect(await answerFor('/charts/q3', fromAppliance('/charts/q3.png'))).toBe('/charts/q3.png');
});

test("any other request: its own path and query (Express's originalUrl when mounted in a router)", async () => {
  expect(await answerFor('/invoices/42?tab=2')).toBe('/invoices/42?tab=2');
  expect(await answerFor('/42', {}, '/invoices/42')).toBe('/invoices/42');
  // The output header alone, without the appliance's own mark, is not the appliance.
  expect(await answerFor('/invoices/42', { [OUTPUT_HEADER]: '/invoices/42.pdf' })).toBe('/invoices/42');
});

test('never a way off this app: a header that is not an output path on this app is ignored', async () => {
  for (const bad of [
    '//evil.example/x.pdf',
    'https://evil.example/x.pdf',
    '/\\evil.example/x.pdf',
    '/a\\b.pdf',
    '/invoices/42',
    'x.pdf',
    '',
    '/a b.pdf',
  ]) {
    expect(await answerFor('/invoices/42', fromAppliance(bad)), JSON.stringify(bad)).toBe('/invoices/42');
  }
  // Nor the request's own target: an absolute form keeps its path, a `//` path is no path here.
  expect(await answerFor('http://evil.example/invoices/42?x=1')).toBe('/invoices/42?x=1');
  expect(await answerFor('//evil.example/x')).toBe('/');
});
