import { createServer, type Server, type Socket, connect } from 'node:net';
import { test, expect } from '@playwright/test';
import { listen } from '../../fixtures/listen.js';
import { startEgressProxy, type EgressProxy } from '../../src/browser/egress-proxy.js';
import { createGuard } from '../../src/security/ssrf.js';

// Chromium's connections go through this SOCKS5 proxy, which asks the SSRF guard and dials
// only the addresses the guard vetted: never a lookup of its own (where DNS rebinding gets in).

let echo: Server;
let port: number;
let accepted = 0;
test.beforeAll(async () => {
  echo = createServer((s) => {
    accepted++;
    s.once('data', (d) => s.end(`echo ${d.toString()}`));
  });
  ({ port } = await listen(echo));
});
test.afterAll(async () => {
  await new Promise<void>((r) => echo.close(() => r()));
});

/** A SOCKS5 CONNECT by domain name, as Chromium sends it; resolves with the reply code and the socket. */
async function socksConnect(proxyPort: number, host: string, dstPort: number): Promise<{ code: number; socket: Socket }> {
  const socket = connect(proxyPort, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const name = Buffer.from(host, 'latin1');
  const portBytes = Buffer.alloc(2);
  portBytes.writeUInt16BE(dstPort);
  socket.write(Buffer.concat([Buffer.from([0x05, 0x01, 0x00]), Buffer.from([0x05, 0x01, 0x00, 0x03, name.length]), name, portBytes]));
  let got = Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer): void => {
      got = Buffer.concat([got, d]);
      if (got.length < 2 + 10) return;
      socket.off('data', onData);
      resolve({ code: got[3]!, socket });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`closed after ${got.length} bytes: ${got.toString('hex')}`)));
  });
}

function readAll(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.once('close', () => resolve(text));
  });
}

let proxy: EgressProxy | undefined;
test.afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

test('dials the vetted addresses in turn, never resolving the name itself', async () => {
  const calls: string[] = [];
  const lookup = async (h: string): Promise<string[]> => {
    calls.push(h);
    // Nothing listens on 127.0.0.2: the proxy falls back to the second vetted address.
    return h === 'multi.test' ? ['127.0.0.2', '127.0.0.1'] : [];
  };
  const guard = createGuard({ mainOrigin: `http://multi.test:${port}`, allowOrigins: [], lookup, cacheTtlMs: 0 });
  proxy = await startEgressProxy({ guard });
  const { code, socket } = await socksConnect(proxy.port, 'multi.test', port);
  expect(code).toBe(0x00);
  const answer = readAll(socket);
  socket.write('ping');
  expect(await answer).toBe('echo ping');
  expect(calls).toEqual(['multi.test']);
});

test('a refusal is reported with its category, and nothing is dialled', async () => {
  const before = accepted;
  const guard = createGuard({ mainOrigin: 'http://127.0.0.1:1', allowOrigins: [], lookup: async () => ['127.0.0.1'], cacheTtlMs: 0 });
  proxy = await startEgressProxy({ guard });
  const refused: unknown[][] = [];
  proxy.onRefused((...args) => refused.push(args));
  const { code, socket } = await socksConnect(proxy.port, 'rebind.test', port);
  socket.destroy();
  expect(code).toBe(0x02);
  expect(refused).toEqual([['rebind.test', port, 'host rebind.test resolves to private address 127.0.0.1 (loopback)', 'resolution']]);
  expect(accepted).toBe(before);
});
