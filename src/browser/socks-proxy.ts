import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Connect, DenyCategory, Guard } from '../security/ssrf.js';
import { vettedLookup } from '../security/vetted-lookup.js';

/**
 * Where Chromium's connections go: a SOCKS5 proxy on loopback that every http and https
 * connection of the browser passes through (LOCKDOWN_ARGS points Chromium at it, loopback
 * included). It asks the same guard as the request check, by host and port, and connects only
 * to the addresses the guard vetted (in turn, when one fails) — so:
 *   - connections that no request interception sees still meet the guard (measured in the
 *     headless shell: speculation-rules prefetch and prerender reached a private address;
 *     WebRTC's TURN over TCP resolves its proxy like https);
 *   - a name cannot resolve to a public address for the check and a private one for the
 *     connect (DNS rebinding): Chromium hands the name to the proxy and never resolves it.
 * WebSockets keep going to the unconnectable proxy of LOCKDOWN_ARGS.
 *
 * Only what SOCKS5 needs for Chromium: no authentication, CONNECT, IPv4/IPv6/domain names.
 */

export interface SocksProxy {
  port: number;
  /** Who hears about refused connections (logs, metrics): set once those exist. */
  onRefused(report: Refused): void;
  /** Ends every connection now: after a resume, none of them can be trusted to still be there. */
  dropAll(): void;
  close(): Promise<void>;
}

export interface SocksProxyOptions {
  guard: Pick<Guard, 'connectTo'>;
}

type Refused = (host: string, port: number, reason: string, category: DenyCategory) => void;

/** A greeting and a request come in one or two small packets; anything longer is not Chromium. */
const MAX_HANDSHAKE_BYTES = 600;
const HANDSHAKE_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 15_000;

const REPLY = {
  ok: 0x00,
  failure: 0x01,
  notAllowed: 0x02,
  unreachable: 0x04,
  refused: 0x05,
  commandNotSupported: 0x07,
  addressNotSupported: 0x08,
} as const;

export async function startSocksProxy(options: SocksProxyOptions): Promise<SocksProxy> {
  const sockets = new Set<Socket>();
  const opts: Handshake = { guard: options.guard, refused: () => undefined };
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    client.setTimeout(HANDSHAKE_TIMEOUT_MS, () => client.destroy());
    handshake(client, opts, sockets);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    onRefused: (report) => {
      opts.refused = report;
    },
    dropAll: () => {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Handshake {
  guard: Pick<Guard, 'connectTo'>;
  refused: Refused;
}

function handshake(client: Socket, opts: Handshake, sockets: Set<Socket>): void {
  let buf = Buffer.alloc(0);
  let greeted = false;
  const onData = (chunk: Buffer): void => {
    buf = Buffer.concat([buf, chunk]);
    if (buf.length > MAX_HANDSHAKE_BYTES) return void client.destroy();
    if (!greeted) {
      // VER NMETHODS METHODS...
      if (buf.length < 2) return;
      if (buf[0] !== 0x05) return void client.destroy();
      const n = buf[1]!;
      if (buf.length < 2 + n) return;
      const methods = buf.subarray(2, 2 + n);
      buf = buf.subarray(2 + n);
      greeted = true;
      if (!methods.includes(0x00)) {
        client.end(Buffer.from([0x05, 0xff]));
        return;
      }
      client.write(Buffer.from([0x05, 0x00]));
    }
    const request = parseRequest(buf);
    if (request === 'incomplete') return;
    client.off('data', onData);
    if (typeof request === 'number') return void reply(client, request, true);
    client.pause();
    void open(client, request.host, request.port, request.rest, opts, sockets);
  };
  client.on('data', onData);
}

/** VER CMD RSV ATYP DST.ADDR DST.PORT; a number is the reply code for a request we refuse. */
function parseRequest(buf: Buffer): { host: string; port: number; rest: Buffer } | number | 'incomplete' {
  if (buf.length < 5) return 'incomplete';
  if (buf[0] !== 0x05) return REPLY.failure;
  if (buf[1] !== 0x01) return REPLY.commandNotSupported;
  let host: string;
  let end: number;
  switch (buf[3]) {
    case 0x01:
      end = 4 + 4;
      if (buf.length < end + 2) return 'incomplete';
      host = [...buf.subarray(4, end)].join('.');
      break;
    case 0x03: {
      const len = buf[4]!;
      end = 5 + len;
      if (buf.length < end + 2) return 'incomplete';
      host = buf.subarray(5, end).toString('latin1');
      break;
    }
    case 0x04: {
      end = 4 + 16;
      if (buf.length < end + 2) return 'incomplete';
      const words: string[] = [];
      for (let i = 4; i < end; i += 2) words.push(buf.readUInt16BE(i).toString(16));
      host = words.join(':');
      break;
    }
    default:
      return REPLY.addressNotSupported;
  }
  return { host, port: buf.readUInt16BE(end), rest: buf.subarray(end + 2) };
}

async function open(
  client: Socket,
  host: string,
  port: number,
  rest: Buffer,
  opts: Handshake,
  sockets: Set<Socket>,
): Promise<void> {
  let verdict: Connect;
  try {
    verdict = await opts.guard.connectTo(host, port);
  } catch (err) {
    verdict = { allow: false, reason: err instanceof Error ? err.message : String(err), category: 'invalid' };
  }
  if (!verdict.allow) {
    opts.refused(host, port, verdict.reason, verdict.category);
    return reply(client, REPLY.notAllowed, true);
  }
  // The name goes with the vetted addresses only: Node tries them in turn and never resolves it.
  const upstream = connect({ host, port, lookup: vettedLookup(verdict.addresses), timeout: CONNECT_TIMEOUT_MS });
  let connected = false;
  sockets.add(upstream);
  upstream.on('close', () => sockets.delete(upstream));
  upstream.once('timeout', () => upstream.destroy(new Error('connect timed out')));
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    if (!connected) reply(client, err.code === 'ECONNREFUSED' ? REPLY.refused : REPLY.unreachable, true);
    else client.destroy();
  });
  upstream.once('connect', () => {
    connected = true;
    upstream.setTimeout(0);
    client.setTimeout(0);
    reply(client, REPLY.ok, false);
    if (rest.length > 0) upstream.write(rest);
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
}

function reply(client: Socket, code: number, close: boolean): void {
  // BND.ADDR/PORT are unused by Chromium: 0.0.0.0:0.
  const msg = Buffer.from([0x05, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
  if (close) client.end(msg);
  else client.write(msg);
}
