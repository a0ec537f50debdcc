// Address parsing and special-purpose range tables for the SSRF guard.
//
// Everything here works on numbers, never on the text form: "fdaa::3", "fdaa:0:0::3" and
// "FDAA::0003" are the same address, and a prefix test on the string would treat them
// differently. Inputs are the canonical forms that WHATWG URL and getaddrinfo produce;
// anything else is reported as 'invalid' so callers fail closed.
//
// Why not node:net's BlockList: it answers in or out, not which range (a refusal names it:
// "127.0.0.2 (loopback)", and the metrics count by it), and it does not look inside the IPv6
// forms that carry an IPv4 address other than the mapped one (checked on Node 20: a loopback
// subnet matches ::ffff:127.0.0.1 but neither the NAT64 64:ff9b::7f00:1 nor the 6to4
// 2002:7f00:1::). net.isIP agrees with the strict parsing here (it refuses 0177.0.0.1 and
// 127.1), but parsing is the small part.

/** Result of classifying one address. `range` null means publicly routable. */
export interface IpClass {
  range: string | null;
  /** The IPv4 address an IPv6 form carries (mapped, NAT64, 6to4, ...), when that decided the class. */
  embedded?: string;
}

/** Strict dotted quad → unsigned 32-bit number, or null. */
export function parseIPv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (part.length === 0 || part.length > 3) return null;
    // A leading zero is octal to some parsers and decimal to others; refuse to guess.
    if (part.length > 1 && part.charCodeAt(0) === 48) return null;
    let octet = 0;
    for (let i = 0; i < part.length; i++) {
      const c = part.charCodeAt(i);
      if (c < 48 || c > 57) return null;
      octet = octet * 10 + (c - 48);
    }
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIPv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

function parseHexGroup(group: string): number | null {
  if (group.length === 0 || group.length > 4) return null;
  let value = 0;
  for (let i = 0; i < group.length; i++) {
    const c = group.charCodeAt(i);
    let digit: number;
    if (c >= 48 && c <= 57) digit = c - 48;
    else if (c >= 97 && c <= 102) digit = c - 87;
    else if (c >= 65 && c <= 70) digit = c - 55;
    else return null;
    value = value * 16 + digit;
  }
  return value;
}

/** Parses a list of ':'-separated groups; the last one may be a dotted quad (two words). */
function parseGroups(text: string, allowDottedTail: boolean): number[] | null {
  if (text === '') return [];
  const groups = text.split(':');
  const words: number[] = [];
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i];
    if (allowDottedTail && i === groups.length - 1 && group.includes('.')) {
      const v4 = parseIPv4(group);
      if (v4 === null) return null;
      words.push(v4 >>> 16, v4 & 0xffff);
    } else {
      const word = parseHexGroup(group);
      if (word === null) return null;
      words.push(word);
    }
  }
  return words;
}

/**
 * IPv6 text (no brackets; an optional %zone is ignored) → eight 16-bit words, or null.
 * Handles '::' compression and an embedded dotted quad in the last 32 bits.
 */
export function parseIPv6(text: string): number[] | null {
  const zone = text.indexOf('%');
  if (zone === 0) return null;
  const addr = zone > 0 ? text.slice(0, zone) : text;

  const gap = addr.indexOf('::');
  if (gap !== addr.lastIndexOf('::')) return null;

  if (gap === -1) {
    const words = parseGroups(addr, true);
    return words !== null && words.length === 8 ? words : null;
  }
  const head = parseGroups(addr.slice(0, gap), false);
  const tail = parseGroups(addr.slice(gap + 2), true);
  if (head === null || tail === null) return null;
  // '::' stands for at least one zero group.
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

interface V4Range {
  base: number;
  bits: number;
  name: string;
}

function v4(cidr: string, name: string): V4Range {
  const [addr, bits] = cidr.split('/');
  const base = parseIPv4(addr);
  if (base === null) throw new Error(`bad range ${cidr}`);
  return { base, bits: Number(bits), name };
}

// Order matters: the first match wins, so narrower ranges precede the ranges containing them.
const V4_BLOCKED: readonly V4Range[] = [
  // Linux treats a connect() to 0.0.0.0 as a connect to the local host.
  v4('0.0.0.0/32', 'unspecified'),
  v4('0.0.0.0/8', 'this-network'),
  v4('127.0.0.0/8', 'loopback'),
  v4('10.0.0.0/8', 'rfc1918'),
  v4('172.16.0.0/12', 'rfc1918'),
  v4('192.168.0.0/16', 'rfc1918'),
  v4('100.64.0.0/10', 'cgnat'),
  // Cloud instance-metadata endpoint: named separately because it is the classic SSRF prize.
  v4('169.254.169.254/32', 'metadata'),
  v4('169.254.0.0/16', 'link-local'),
  v4('192.0.0.0/24', 'ietf-protocol'),
  v4('192.0.2.0/24', 'documentation'),
  v4('198.51.100.0/24', 'documentation'),
  v4('203.0.113.0/24', 'documentation'),
  v4('198.18.0.0/15', 'benchmarking'),
  v4('224.0.0.0/4', 'multicast'),
  v4('255.255.255.255/32', 'broadcast'),
  v4('240.0.0.0/4', 'reserved'),
];

function inV4(value: number, range: V4Range): boolean {
  if (range.bits === 0) return true;
  const shift = 32 - range.bits;
  // Division instead of >>> because shift may be 32 and JS shifts are mod 32.
  return Math.floor(value / 2 ** shift) === Math.floor(range.base / 2 ** shift);
}

export function classifyIPv4Number(value: number): string | null {
  for (const range of V4_BLOCKED) if (inV4(value, range)) return range.name;
  return null;
}

function embeddedClass(hi: number, lo: number): IpClass {
  const value = hi * 0x10000 + lo;
  return { range: classifyIPv4Number(value), embedded: formatIPv4(value) };
}

function zeros(words: number[], from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (words[i] !== 0) return false;
  return true;
}

export function classifyIPv6Words(w: number[]): IpClass {
  if (zeros(w, 0, 8)) return { range: 'unspecified' };
  if (zeros(w, 0, 7) && w[7] === 1) return { range: 'loopback' };

  // Forms that carry an IPv4 address: the kernel or a translator ends up talking to that
  // IPv4 host, so the IPv4 verdict is the one that counts.
  if (zeros(w, 0, 5) && w[5] === 0xffff) return embeddedClass(w[6], w[7]); // ::ffff:a.b.c.d mapped
  if (zeros(w, 0, 4) && w[4] === 0xffff && w[5] === 0) return embeddedClass(w[6], w[7]); // ::ffff:0:a.b.c.d (SIIT)
  if (zeros(w, 0, 6)) {
    // ::a.b.c.d, IPv4-compatible (RFC 4291, deprecated). Nothing legitimate uses it, so a
    // public embedded address is still refused rather than trusted.
    const inner = embeddedClass(w[6], w[7]);
    return inner.range !== null ? inner : { range: 'reserved', embedded: inner.embedded };
  }
  if (w[0] === 0x64 && w[1] === 0xff9b && zeros(w, 2, 6)) return embeddedClass(w[6], w[7]); // NAT64 well-known
  if (w[0] === 0x64 && w[1] === 0xff9b && w[2] === 1) return { range: 'nat64-local' }; // RFC 8215, site-defined layout
  if (w[0] === 0x2002) return embeddedClass(w[1], w[2]); // 6to4

  if (w[0] === 0x2001 && w[1] === 0) return { range: 'teredo' }; // tunnels to an obfuscated IPv4 client
  if (w[0] === 0x2001 && w[1] === 0x0db8) return { range: 'documentation' };
  if (w[0] === 0x3fff && w[1] < 0x1000) return { range: 'documentation' }; // 3fff::/20, RFC 9637
  if (w[0] === 0x2001 && w[1] < 0x200) return { range: 'ietf-protocol' }; // 2001::/23
  if ((w[0] & 0xfe00) === 0xfc00) return { range: 'ula' }; // fc00::/7, includes Fly's fdaa::/16
  if ((w[0] & 0xffc0) === 0xfe80) return { range: 'ipv6-link-local' };
  if ((w[0] & 0xffc0) === 0xfec0) return { range: 'site-local' };
  if ((w[0] & 0xff00) === 0xff00) return { range: 'multicast' };
  // Only 2000::/3 is allocated as global unicast; the rest is reserved or special-purpose.
  if ((w[0] & 0xe000) !== 0x2000) return { range: 'reserved' };
  return { range: null };
}

/**
 * Full classification of an IP literal (v4 dotted quad, or v6 with or without brackets).
 * Text that is not an address yields 'invalid' so that a caller treating non-null as
 * "blocked" fails closed.
 */
export function inspectIp(ip: string): IpClass {
  const text = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const asV4 = parseIPv4(text);
  if (asV4 !== null) return { range: classifyIPv4Number(asV4) };
  const asV6 = parseIPv6(text);
  if (asV6 !== null) return classifyIPv6Words(asV6);
  return { range: 'invalid' };
}

/** null = public; otherwise the name of the blocked range ('invalid' for non-addresses). */
export function classifyIp(ip: string): string | null {
  return inspectIp(ip).range;
}
