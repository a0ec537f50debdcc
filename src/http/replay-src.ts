import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

// The appliance only ever sees `fly-replay-src` on requests Fly's proxy replayed to it. The
// header is informational (who sent us, what state it attached), so a malformed one must not
// fail the request: parse what is well-formed and drop the rest.

export interface ReplaySrc {
  instance?: string;
  region?: string;
  /** Unix time in microseconds when the replay was issued. */
  t?: number;
  state?: string;
}

// instance/region are copied into our own log lines and response headers; anything beyond
// this set could smuggle separators or CR/LF into them.
const IDENT_RE = /^[A-Za-z0-9._:-]+$/;
const DIGITS_RE = /^\d+$/;
// Control characters in state would be just as unsafe to echo anywhere.
const CONTROL_RE = /[\x00-\x1F\x7F]/;

export function parseReplaySrc(header: string | undefined): ReplaySrc {
  const out: ReplaySrc = {};
  if (typeof header !== 'string') return out;

  for (const raw of header.split(';')) {
    const eq = raw.indexOf('=');
    if (eq <= 0) continue;
    const key = raw.slice(0, eq).trim().toLowerCase();
    // Split at the first '=' only: state values may legitimately contain '=' (base64 padding).
    const value = raw.slice(eq + 1).trim();
    if (value === '') continue;

    switch (key) {
      case 'instance':
        if (out.instance === undefined && IDENT_RE.test(value)) out.instance = value;
        break;
      case 'region':
        if (out.region === undefined && IDENT_RE.test(value)) out.region = value;
        break;
      case 't':
        if (out.t === undefined && DIGITS_RE.test(value)) {
          const t = Number(value);
          if (Number.isSafeInteger(t)) out.t = t;
        }
        break;
      case 'state':
        if (out.state === undefined && !CONTROL_RE.test(value)) out.state = value;
        break;
      default:
        break;
    }
  }
  return out;
}

/**
 * Our own overflow bounce (`fly-replay: elsewhere=true;state=…`) and how a Machine knows a
 * request it already bounced.
 *
 * The mark cannot be a plain word in `state`, because nothing guarantees that only Fly's proxy
 * wrote the fly-replay-src the appliance reads. Fly's documentation says the proxy *adds* the
 * header to a replayed request (docs: "Dynamic Request Routing", "The fly-replay-src Header");
 * it says nothing of removing one a client sent, and a request that reaches the appliance at its
 * own address is no replay at all. (The local emulator strips client values: stricter than
 * what Fly promises.) The same page says `elsewhere=true` excludes the Machine that answered
 * from the next round of load balancing: the bounced request lands on another Machine, another
 * process, so there is no key the bouncing process could share with it without the operator
 * configuring one.
 *
 * So each process marks its bounce with an HMAC under a random key only it holds, over the
 * request and the main app's instance it pins, and trusts only its own marks: a request that
 * comes back to a Machine that bounced it carries that Machine's mark and gets 503; a mark
 * anyone else wrote (a client, or another Machine) counts for nothing. Other Machines' marks
 * travel on with the request, so each Machine bounces a request at most once and every chain
 * ends: at a Machine with room, or at 503 back where it had been. A chain already
 * MAX_BOUNCES long is not extended (503): the bound on hops where the marks cannot be told
 * apart from a client's.
 *
 * `state` is `pdf-bounced:<main app instance>:<mark>.<mark>…` (instance may be empty).
 */
export const BOUNCE_STATE = 'pdf-bounced';
export const MAX_BOUNCES = 16;

export interface Bounce {
  /** The main app's Machine the first replay came from, for fly-prefer-instance-id. */
  pin?: string;
  /** One per Machine that bounced the request, oldest first. Unverified. */
  marks: string[];
}

const PIN_RE = /^[A-Za-z0-9._-]{1,64}$/;
const MARK_RE = /^[A-Za-z0-9_-]{22}$/;

/** The bounce `state` carries, or null when it is not ours. Says nothing of who wrote it. */
export function readBounce(state: string | undefined): Bounce | null {
  if (state === undefined || (state !== BOUNCE_STATE && !state.startsWith(`${BOUNCE_STATE}:`))) return null;
  const rest = state.slice(BOUNCE_STATE.length + 1);
  const split = rest.indexOf(':');
  const pin = split < 0 ? rest : rest.slice(0, split);
  const marks =
    split < 0
      ? []
      : rest
          .slice(split + 1)
          .split('.')
          .filter((m) => MARK_RE.test(m));
  return { pin: PIN_RE.test(pin) ? pin : undefined, marks };
}

export class BounceMarks {
  /** `key`: random per process unless a test gives one. */
  constructor(private readonly key: Buffer = randomBytes(32)) {}

  /** Whether this process may bounce `request` (method and target): not already, and the chain has room. */
  mayBounce(request: string, bounce: Bounce | null): boolean {
    if (bounce === null) return true;
    if (bounce.marks.length >= MAX_BOUNCES) return false;
    const mine = Buffer.from(this.mark(request, bounce.pin));
    return !bounce.marks.some((m) => timingSafeEqual(Buffer.from(m), mine));
  }

  /** The `state` of a bounce of `request` from here: the marks so far, then this process's. */
  state(request: string, pin: string | undefined, bounce: Bounce | null): string {
    const marks = [...(bounce?.marks ?? []), this.mark(request, pin)];
    return `${BOUNCE_STATE}:${pin ?? ''}:${marks.join('.')}`;
  }

  private mark(request: string, pin: string | undefined): string {
    // 128 bits: 22 characters of base64url, no padding (`=` and `;` mean something in fly-replay).
    return createHmac('sha256', this.key)
      .update(`${pin ?? ''}\n${request}`)
      .digest()
      .subarray(0, 16)
      .toString('base64url');
  }
}
