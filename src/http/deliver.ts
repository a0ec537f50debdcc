import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Output } from '../render/output.js';

/**
 * A client that stops reading without going away would hold its workspace (the PDF streams
 * out of Chromium as it is read): after this long without progress the connection is closed.
 */
const STALL_MS = 60_000;

/**
 * Sends `output` with `headers` and status 200, as fast as the client reads it (backpressure:
 * one chunk in Node's memory at a time); resolves with the bytes sent once all are out, rejects
 * if the client goes away first. HEAD gets the headers alone (Node drops the body).
 */
export async function send(res: ServerResponse, output: Output, headers: Record<string, string>): Promise<number> {
  res.statusCode = 200;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  if (output.length !== undefined) res.setHeader('content-length', String(output.length));
  res.setTimeout(STALL_MS, () => res.destroy(new Error('delivery stalled')));
  let bytes = 0;
  async function* counted(body: Output['body']): AsyncGenerator<Uint8Array> {
    for await (const chunk of body) {
      bytes += chunk.length;
      yield chunk;
    }
  }
  await pipeline(counted(output.body), res);
  return bytes;
}
