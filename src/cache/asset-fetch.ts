import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Guard } from '../security/ssrf.js';
import { vettedLookup } from '../security/vetted-lookup.js';
import type { AssetResponse, Fetcher } from './asset-cache.js';

/**
 * How the asset cache fetches from Node, outside Chromium: connected to an address the SSRF
 * guard vetted (guard.connectTo; the others of the same answer are the fallback), never to
 * whatever a second DNS lookup returns, so a name cannot pass the guard with a public address
 * and then be fetched from a private one (DNS rebinding, as Chromium's own connections are
 * pinned by the SOCKS proxy). Keep-alive pools
 * per scheme; redirects go back to Chromium (answered as they are); the body is decoded, so
 * length and encoding headers are dropped by the caller. A connection that fails before any
 * answer is tried once more on a new one: after a resume from suspend, a pooled connection
 * may be dead on the other side.
 */
export function pinnedFetcher(guard: Pick<Guard, 'connectTo'>): Fetcher & { reset(): void } {
  let agents = newAgents();
  const fetcher = async (
    url: string,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<AssetResponse> => {
    const target = new URL(url);
    if (target.protocol !== 'http:' && target.protocol !== 'https:')
      throw new Error(`cannot fetch ${target.protocol} URLs`);
    const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
    const verdict = await guard.connectTo(target.hostname, port);
    if (!verdict.allow) throw new Error(`refused: ${verdict.reason}`);
    const lookup = vettedLookup(verdict.addresses);
    try {
      return await once(target, headers, lookup, agents, signal);
    } catch (err) {
      if (signal?.aborted || (err as { answered?: boolean }).answered) throw err;
      return once(target, headers, lookup, agents, signal);
    }
  };
  return Object.assign(fetcher, {
    /** Drops every pooled connection (after a resume: they may be dead on the other side). */
    reset(): void {
      agents.http.destroy();
      agents.https.destroy();
      agents = newAgents();
    },
  });
}

function newAgents(): { http: HttpAgent; https: HttpsAgent } {
  return { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
}

async function once(
  target: URL,
  headers: Record<string, string>,
  lookup: LookupFunction,
  agents: { http: HttpAgent; https: HttpsAgent },
  signal: AbortSignal | undefined,
): Promise<AssetResponse> {
  const https = target.protocol === 'https:';
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    // Only what can be decoded here (Chromium also offers zstd).
    const sent = { ...headers, 'accept-encoding': 'gzip, deflate, br' };
    const req = (https ? httpsRequest : httpRequest)(
      target,
      { method: 'GET', headers: sent, lookup, agent: https ? agents.https : agents.http, signal },
      resolve,
    );
    req.on('error', reject);
    req.end();
  });
  try {
    const chunks: Buffer[] = [];
    const collect = async (source: AsyncIterable<Buffer | string>): Promise<void> => {
      for await (const chunk of source) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    };
    const decoded = decoder(res.headers['content-encoding']);
    if (decoded) await pipeline(res, decoded, collect);
    else await collect(res);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) {
      if (v === undefined) continue;
      // Several Set-Cookie headers travel joined by newlines (the cache keeps one string each).
      out[k] = Array.isArray(v) ? v.join(k === 'set-cookie' ? '\n' : ', ') : v;
    }
    return { status: res.statusCode ?? 502, headers: out, body: Buffer.concat(chunks) };
  } catch (err) {
    // The answer had begun: trying again would not be the same request.
    throw Object.assign(err instanceof Error ? err : new Error(String(err)), { answered: true });
  }
}

function decoder(encoding: string | undefined): NodeJS.ReadWriteStream | null {
  switch (encoding?.trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      return null;
  }
}
