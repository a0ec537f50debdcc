// Helpers for the security specs: listeners that record whether anything reached them, raw
// HTTP requests (for what fetch() refuses to send), and a stack with an allowed "CDN" origin.

import { readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { startAppliance, type Appliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/log.js';
import { startMainApp, type MainApp } from '../../fixtures/main-app/index.js';
import { listen } from '../../fixtures/listen.js';
import { baseEnv, logSink } from './stack.js';

export interface Contact {
  listener: string;
  /** Bytes received on the connection (0: a bare connect, e.g. a preconnect). */
  bytes: number;
  /** The first line received, e.g. "GET /x HTTP/1.1". */
  firstLine: string;
}

/** A TCP listener on a loopback address that is no part of the stack; it records every connection. */
export interface Probe {
  host: string;
  port: number;
  /** http://host:port (IPv6 hosts bracketed). */
  url: string;
  contacts: Contact[];
  close(): Promise<void>;
}

export async function startProbe(host: string): Promise<Probe> {
  const contacts: Contact[] = [];
  const sockets = new Set<Socket>();
  const name = host.includes(':') ? `[${host}]` : host;
  let label = name;
  const server: Server = createServer((socket) => {
    const contact: Contact = { listener: label, bytes: 0, firstLine: '' };
    contacts.push(contact);
    sockets.add(socket);
    socket.on('data', (d) => {
      contact.bytes += d.length;
      if (!contact.firstLine) contact.firstLine = d.toString('latin1').split('\r\n')[0]!.slice(0, 120);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    // Never answer: whatever reached us is recorded, and the client learns nothing.
    setTimeout(() => socket.destroy(), 500).unref();
  });
  const { url, port } = await listen(server, 0, host);
  label = `${name}:${port}`;
  return {
    host,
    port,
    url,
    contacts,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Several probes read as one: "did anything reach any of them since `mark`?" */
export class Probes {
  constructor(readonly all: Probe[]) {}
  mark(): number[] {
    return this.all.map((p) => p.contacts.length);
  }
  since(mark: number[]): Contact[] {
    return this.all.flatMap((p, i) => p.contacts.slice(mark[i] ?? 0));
  }
  total(): Contact[] {
    return this.all.flatMap((p) => p.contacts);
  }
  close(): Promise<void> {
    return Promise.all(this.all.map((p) => p.close())).then(() => undefined);
  }
}

export interface RawAnswer {
  /** null when the server closed the connection without an HTTP answer. */
  status: number | null;
  headers: Record<string, string>;
  body: string;
}

/** Sends bytes exactly as given (CR, LF, NUL, absolute-form targets, non-UTF-8) and reads until the server closes. */
export function rawRequest(baseUrl: string, request: Buffer | string, timeoutMs = 20_000): Promise<RawAnswer> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: hostname, port: Number(port) });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseAnswer(Buffer.concat(chunks).toString('latin1')));
    });
    // No half-close: a client that stops sending looks like one that went away. Requests say
    // `Connection: close`, so the server ends the exchange.
    socket.write(typeof request === 'string' ? Buffer.from(request, 'latin1') : request);
  });
}

function parseAnswer(text: string): RawAnswer {
  const m = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/.exec(text);
  if (!m) return { status: null, headers: {}, body: text };
  const end = text.indexOf('\r\n\r\n');
  const headers: Record<string, string> = {};
  for (const line of text.slice(m[0].length, end < 0 ? undefined : end).split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const body = end < 0 ? '' : text.slice(end + 4);
  return { status: Number(m[1]), headers, body: headers['transfer-encoding'] === 'chunked' ? dechunk(body) : body };
}

/** A chunked body (size line, data, CRLF; a zero size ends it) as its data alone. */
function dechunk(body: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', at);
    if (eol < 0) return out;
    const size = parseInt(body.slice(at, eol), 16);
    if (!(size > 0)) return out;
    out += body.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

/** What an error answer may look like: one short fixed sentence, nothing from upstream or our insides. */
export const LEAKY_BODY = /\bat [\w.<>]+ \(|\/srv\/|\/work\/|node_modules|Error:|UPSTREAM|hunter2|secret\.js|stack/i;

export interface SecurityStack {
  main: MainApp;
  /** An allowed origin (ALLOW_ORIGINS) on another loopback address: a "CDN" that also redirects. */
  cdn: MainApp;
  app: Appliance;
  url: string;
  logs: string[];
  close(): Promise<void>;
}

export async function startSecurityStack(env: Record<string, string> = {}): Promise<SecurityStack> {
  // 127.0.0.4 is another site than the main app's 127.0.0.1: its frames are out-of-process.
  const cdn = await startMainApp({ host: '127.0.0.4', instanceId: 'cdn' });
  const main = await startMainApp({ instanceId: 'main' });
  const logs: string[] = [];
  const sink = logSink(logs);
  const config = loadConfig({ ...baseEnv(main.url), ALLOW_ORIGINS: cdn.url, ...env });
  const app = await startAppliance({ config, log: createLogger(config.logLevel, sink) });
  return {
    main,
    cdn,
    app,
    url: app.url,
    logs,
    async close() {
      await app.shutdown('test');
      await main.close();
      await cdn.close();
    },
  };
}

/**
 * A name other than localhost that this machine's hosts file maps to 127.0.0.1, if any: the
 * guard's real resolver (getaddrinfo) then has to resolve before it can refuse. Read from the
 * file itself so that looking for one never sends a DNS query anywhere.
 */
export function hostsFileLoopbackName(): string | null {
  let text: string;
  try {
    text = readFileSync('/etc/hosts', 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (address !== '127.0.0.1') continue;
    const name = names.find(
      (n) => /^[a-z0-9-]+(\.[a-z0-9-]+)*$/i.test(n) && !/(^|\.)localhost$/i.test(n) && !/^localhost\./i.test(n),
    );
    if (name) return name.toLowerCase();
  }
  return null;
}

export async function blockedCount(app: Appliance): Promise<Record<string, number>> {
  const metric = await app.metrics.blockedRequests.get();
  const out: Record<string, number> = {};
  for (const v of metric.values) out[String(v.labels.reason)] = v.value;
  return out;
}
