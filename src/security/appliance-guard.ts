import { networkInterfaces } from 'node:os';
import { createGuard, selfAddress, type Guard, type SelfAddress } from './ssrf.js';

/**
 * The SSRF guard as the appliance's settings define it: the main app (TARGET_URL and its
 * TARGET_HOSTS) and ALLOW_ORIGINS are trusted, the appliance's own names and listen addresses
 * never are. Built once per process,
 * before Chromium launches (its SOCKS proxy asks it too). `self.port` is set once listening:
 * with PORT=0 the port is only known then.
 */
export interface GuardSettings {
  targetOrigin: string;
  targetHosts: string[];
  allowOrigins: string[];
  flyAppName: string | null;
  port: number;
  listenAddress: string;
}

export function applianceGuard(config: GuardSettings): { guard: Guard; self: SelfAddress } {
  const self = selfAddress(config.flyAppName, config.port, addressesReaching(config.listenAddress));
  const scheme = new URL(config.targetOrigin).protocol;
  const mainHosts = config.targetHosts.map((h) => `${scheme}//${h}`);
  return {
    guard: createGuard({ mainOrigin: config.targetOrigin, allowOrigins: [...mainHosts, ...config.allowOrigins], self }),
    self,
  };
}

/** Every address a request to `listenAddress` could arrive on: all of this machine's for a wildcard. */
function addressesReaching(listenAddress: string): string[] {
  const local = ['127.0.0.1', '::1', '0.0.0.0', '::'];
  if (listenAddress !== '0.0.0.0' && listenAddress !== '::') return [...local, listenAddress];
  const all = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
  return [...local, ...all];
}
