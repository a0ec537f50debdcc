import type { LookupFunction } from 'node:net';

/**
 * A `lookup` for node:net and node:http that answers with the addresses the SSRF guard vetted
 * (guard.connectTo), whatever the name: the connection goes to one of them and to nothing a
 * second DNS query could return (DNS rebinding). With `all` (Node's happy eyeballs, on by
 * default since Node 20) every vetted address is offered and tried in turn; otherwise the first.
 */
export function vettedLookup(addresses: readonly string[]): LookupFunction {
  if (addresses.length === 0) throw new Error('vettedLookup: no addresses');
  const entries = addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  return (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all)
      (callback as unknown as (e: null, a: typeof entries) => void)(null, entries);
    else callback(null, entries[0]!.address, entries[0]!.family);
  };
}
