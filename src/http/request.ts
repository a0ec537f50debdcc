import type { IncomingMessage } from 'node:http';
import { OUTPUT_HEADER } from 'pdf-appliance-replay';
import type { Config } from '../config/config.js';
import type { RenderJob } from '../render/job.js';
import { identityFrom } from '../security/credentials.js';
import { inspectIp } from '../security/ip-ranges.js';
import { fail } from '../failure.js';
import { parseReplaySrc, readBounce, type Bounce, type ReplaySrc } from './replay-src.js';
import { buildTargetUrl, originFor, type MappedTarget } from './target.js';

/** Everything the appliance needs from one incoming request, read once at the edge. */
export interface IncomingRender {
  job: RenderJob;
  /** What our overflow bounces left in the replay's state (unverified: see replay-src.ts). */
  bounce: Bounce | null;
}

export function parseRenderRequest(req: IncomingMessage, config: Config, mapped: MappedTarget): IncomingRender {
  const origin = originFor(config, req.headers.host);
  const url = buildTargetUrl(origin, mapped.path, mapped.query);
  if (!url) fail({ kind: 'bad-request', reason: 'path does not map to the main app' });
  const replaySrc = parseReplaySrc(header(req, 'fly-replay-src'));
  const bounce = readBounce(replaySrc.state);

  const forwarded: Record<string, string> = {};
  for (const name of config.forwardHeaders) {
    const v = req.headers[name];
    if (v === undefined) continue;
    forwarded[name] = Array.isArray(v) ? v.join(name === 'cookie' ? '; ' : ', ') : v;
  }
  const { identity, context } = identityFrom(origin, forwarded);
  // Ask Fly's proxy for the Machine that replayed the request, so a multi-region main app
  // renders from the region (and data) the user was served by; our own bounce keeps it (after
  // one, fly-replay-src names the appliance Machine that bounced, not the main app's).
  const instance = bounce ? bounce.pin : replaySrc.instance;
  if (instance) context['fly-prefer-instance-id'] = instance;
  // What the user asked for: a signed-out user's login can then lead back to the PDF, not to
  // the page (pdf-appliance-replay's returnPath).
  context[OUTPUT_HEADER] = mapped.output;

  return {
    job: {
      url,
      origin,
      pathname: mapped.path,
      format: mapped.format,
      download: new URLSearchParams(mapped.query.slice(1)).has('download'),
      identity,
      context,
      publicOrigin: publicOriginFor(req, config, origin, replaySrc),
    },
    bounce,
  };
}

/**
 * Where the user reached the main app, when the appliance loads it from an address the user's
 * browser cannot reach (compose's `main:3000`, flycast, `.internal`): PUBLIC_URL when set, else
 * the Host and scheme of the request Fly's proxy replayed (only replayed requests: a request
 * sent to the appliance directly names the appliance, not the main app).
 */
export function publicOriginFor(
  req: IncomingMessage,
  config: Pick<Config, 'publicOrigin'>,
  origin: string,
  replaySrc: ReplaySrc,
): string | null {
  if (!isInternalOrigin(origin)) return null;
  if (config.publicOrigin) return config.publicOrigin;
  if (replaySrc.instance === undefined && replaySrc.state === undefined && replaySrc.region === undefined) return null;
  const host = header(req, 'host')?.toLowerCase();
  if (!host || !/^([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(:\d{1,5})?$/.test(host)) return null;
  const proto = (header(req, 'x-forwarded-proto') ?? header(req, 'fly-forwarded-proto') ?? 'http')
    .split(',')[0]!
    .trim()
    .toLowerCase();
  const publicOrigin = `${proto === 'https' ? 'https' : 'http'}://${host}`;
  return publicOrigin === origin ? null : publicOrigin;
}

/** An origin users' browsers cannot reach: private or loopback addresses, single-label and Fly-private names. */
export function isInternalOrigin(origin: string): boolean {
  const host = new URL(origin).hostname;
  const ip = inspectIp(host);
  if (ip.range !== 'invalid') return ip.range !== null;
  return !host.includes('.') || /\.(internal|flycast|local|localhost)$/.test(host) || host === 'localhost';
}

/** The main app's redirect, pointed at the origin the user actually uses. */
export function publicLocation(location: string, job: Pick<RenderJob, 'origin' | 'publicOrigin'>): string {
  if (!job.publicOrigin) return location;
  try {
    const u = new URL(location);
    if (u.origin !== job.origin) return location;
    return `${job.publicOrigin}${u.pathname}${u.search}${u.hash}`;
  } catch {
    return location;
  }
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
