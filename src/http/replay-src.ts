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
