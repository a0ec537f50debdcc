import { createServer, type Server, type Socket, connect } from 'node:net';
import { test, expect } from '@playwright/test';
import { listen } from '../../../fixtures/listen.js';
import { startSocksProxy, type SocksProxy } from '../../../src/browser/socks-proxy.js';
import { createGuard } from '../../../src/security/ssrf.js';

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
async function socksConnect(
  proxyPort: number,
  host: string,
  dstPort: number,
): Promise<{ code: number; socket: Socket }> {
  const socket = connect(proxyPort, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const name = Buffer.from(host, 'latin1');
  const portBytes = Buffer.alloc(2);
  portBytes.writeUInt16BE(dstPort);
  socket.write(
    Buffer.concat([
      Buffer.from([0x05, 0x01, 0x00]),
      Buffer.from([0x05, 0x01, 0x00, 0x03, name.length]),
      name,
      portBytes,
    ]),
  );
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

let proxy: SocksProxy | undefined;
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
  proxy = await startSocksProxy({ guard });
  const { code, socket } = await socksConnect(proxy.port, 'multi.test', port);
  expect(code).toBe(0x00);
  const answer = readAll(socket);
  socket.write('ping');
  expect(await answer).toBe('echo ping');
  expect(calls).toEqual(['multi.test']);
});

test('a refusal is reported with its category, and nothing is dialled', async () => {
  const before = accepted;
  const guard = createGuard({
    mainOrigin: 'http://127.0.0.1:1',
    allowOrigins: [],
    lookup: async () => ['127.0.0.1'],
    cacheTtlMs: 0,
  });
  proxy = await startSocksProxy({ guard });
  const refused: unknown[][] = [];
  proxy.onRefused((...args) => refused.push(args));
  const { code, socket } = await socksConnect(proxy.port, 'rebind.test', port);
  socket.destroy();
  expect(code).toBe(0x02);
  expect(refused).toEqual([
    ['rebind.test', port, 'host rebind.test resolves to private address 127.0.0.1 (loopback)', 'resolution'],
  ]);
  expect(accepted).toBe(before);
});

// The handshake as bytes on a real socket: what Chromium sends, split or not, and what it must
// not be able to send.

interface Guarded {
  asked: Array<{ host: string; port: number }>;
}

/** A proxy whose guard allows only `allow` (dialled at the echo server), and records what it was asked. */
async function proxyAllowing(allow: string): Promise<Guarded> {
  const asked: Guarded['asked'] = [];
  proxy = await startSocksProxy({
    guard: {
      connectTo: async (host, p) => {
        asked.push({ host, port: p });
        return host === allow
          ? { allow: true, addresses: ['127.0.0.1'] }
          : { allow: false, reason: `${host} refused`, category: 'address' };
      },
    },
  });
  return { asked };
}

/** Sends `chunks` one by one (each its own write, a pause between), then reads until the proxy closes or `until` bytes came. */
async function exchange(chunks: Buffer[], until = Infinity): Promise<Buffer> {
  const socket = connect(proxy!.port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let got = Buffer.alloc(0);
  const done = new Promise<Buffer>((resolve) => {
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= until) {
        socket.destroy();
        resolve(got);
      }
    });
    socket.once('close', () => resolve(got));
    socket.once('error', () => resolve(got));
  });
  for (const c of chunks) {
    socket.write(c);
    await new Promise((r) => setTimeout(r, 20));
  }
  return done;
}

const portOf = (p: number): Buffer => Buffer.from([p >> 8, p & 0xff]);
const GREETING = Buffer.from([0x05, 0x01, 0x00]);
const byName = (host: string, p: number): Buffer =>
  Buffer.concat([Buffer.from([0x05, 0x01, 0x00, 0x03, host.length]), Buffer.from(host, 'latin1'), portOf(p)]);

test('a greeting and a request split across packets, byte by byte, still connect', async () => {
  const { asked } = await proxyAllowing('echo.test');
  const handshake = Buffer.concat([GREETING, byName('echo.test', port)]);
  // (The echo server answers its first chunk: the payload goes in one.)
  const got = await exchange(
    [...[...handshake].map((b) => Buffer.from([b])), Buffer.from('hello')],
    2 + 10 + 'echo hello'.length,
  );
  expect(got.subarray(0, 2)).toEqual(Buffer.from([0x05, 0x00]));
  expect(got[3]).toBe(0x00);
  expect(got.subarray(12).toString()).toBe('echo hello');
  expect(asked).toEqual([{ host: 'echo.test', port }]);
});

test('an IPv6 address (ATYP 4) is asked of the guard in its text form', async () => {
  const { asked } = await proxyAllowing('none');
  const v6 = Buffer.alloc(16);
  v6[15] = 1; // ::1
  const got = await exchange([GREETING, Buffer.concat([Buffer.from([0x05, 0x01, 0x00, 0x04]), v6, portOf(port)])]);
  expect(got[3]).toBe(0x02); // not allowed by ruleset
  expect(asked).toEqual([{ host: '0:0:0:0:0:0:0:1', port }]);
});

test('a refused verdict answers "not allowed" and dials nothing', async () => {
  const before = accepted;
  const { asked } = await proxyAllowing('other.test');
  const got = await exchange([GREETING, byName('refused.test', port)]);
  expect(got.subarray(0, 2)).toEqual(Buffer.from([0x05, 0x00]));
  expect(got[3]).toBe(0x02);
  expect(asked).toHaveLength(1);
  expect(accepted).toBe(before);
});

test('a handshake longer than any Chromium sends is cut off, the guard never asked', async () => {
  const { asked } = await proxyAllowing('echo.test');
  // Greeting with 255 methods, then more junk: over the handshake bound, no request complete.
  const got = await exchange([Buffer.from([0x05, 0xff, ...Array(255).fill(0x7f)]), Buffer.alloc(700, 0x41)]);
  expect(got.length).toBeLessThanOrEqual(2);
  expect(asked).toEqual([]);
});

test('no "no authentication" method offered: refused with 0xff', async () => {
  const { asked } = await proxyAllowing('echo.test');
  const got = await exchange([Buffer.from([0x05, 0x01, 0x02])]);
  expect(got).toEqual(Buffer.from([0x05, 0xff]));
  expect(asked).toEqual([]);
});

test('anything but CONNECT, or an unknown address type, is refused by its reply code', async () => {
  const { asked } = await proxyAllowing('echo.test');
  const bind = await exchange([
    GREETING,
    Buffer.concat([Buffer.from([0x05, 0x02, 0x00, 0x03, 9]), Buffer.from('echo.test'), portOf(port)]),
  ]);
  expect(bind[3]).toBe(0x07);
  const odd = await exchange([GREETING, Buffer.from([0x05, 0x01, 0x00, 0x09, 1, 2, 3, 4, 0, 80])]);
  expect(odd[3]).toBe(0x08);
  expect(asked).toEqual([]);
});
