import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { DomainError } from '../errors.ts';

/**
 * Where the worker may send (webhooks, push endpoints): never into the
 * cluster's own networks unless WEBHOOK_ALLOWED_TARGETS lists them. Checked on
 * the addresses a name resolves to, at connect time (the lookup the HTTP
 * request itself uses, so a name that resolves differently between a check
 * and the connection cannot slip through), and again for every redirect.
 */
const BLOCKED: Array<[string, number, 'ipv4' | 'ipv6']> = [
  ['0.0.0.0', 8, 'ipv4'], // "this network"
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'], // carrier-grade NAT
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'], // link-local, cloud metadata services
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'], // benchmarking
  ['224.0.0.0', 3, 'ipv4'], // multicast and reserved, broadcast
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['64:ff9b::', 96, 'ipv6'], // NAT64 embeds IPv4 addresses
  ['fc00::', 7, 'ipv6'], // unique local
  ['fe80::', 10, 'ipv6'], // link-local
  ['ff00::', 8, 'ipv6'], // multicast
];

const blocked = new BlockList();
for (const [net, prefix, type] of BLOCKED) blocked.addSubnet(net, prefix, type);

export type Lookup = (hostname: string) => Promise<LookupAddress[]>;

const systemLookup: Lookup = (hostname) =>
  new Promise((resolve, reject) => dnsLookup(hostname, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))));

/** A refused target: what the caller sees (400 at creation, a failed attempt at delivery). */
export class TargetRefused extends DomainError {
  constructor(message: string) {
    super('validation_failed', message, [{ field: 'url', message }]);
  }
}

export interface TargetGuard {
  /** Whether `address` (an IP) may be connected to. */
  allows(address: string): boolean;
  /** Checks a URL's form (http/https, no credentials) and, for a literal address or `localhost`, its address; throws TargetRefused. */
  checkUrl(raw: string, opts?: { httpsOnly?: boolean }): URL;
  /** Resolves `hostname` and refuses it unless every address is allowed; what `http.request({lookup})` calls. */
  resolve(hostname: string): Promise<LookupAddress[]>;
}

/** An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is checked as the IPv4 address it is. */
function unmapped(address: string): { address: string; type: 'ipv4' | 'ipv6' } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return { address: mapped[1], type: 'ipv4' };
  return { address, type: isIP(address) === 6 ? 'ipv6' : 'ipv4' };
}

/**
 * `allowed`: WEBHOOK_ALLOWED_TARGETS, hosts or CIDRs (`hooks.internal`,
 * `10.1.0.0/16`, `127.0.0.1`); an allowed host may resolve anywhere.
 */
export function createTargetGuard(allowed: readonly string[], lookup: Lookup = systemLookup): TargetGuard {
  const allowedNets = new BlockList();
  const allowedHosts = new Set<string>();
  for (const entry of allowed) {
    const [net, prefix] = entry.split('/');
    const type = isIP(net ?? '');
    if (type === 0) allowedHosts.add(entry.toLowerCase());
    else allowedNets.addSubnet(net as string, prefix === undefined ? (type === 4 ? 32 : 128) : Number(prefix), type === 4 ? 'ipv4' : 'ipv6');
  }

  const allows = (raw: string) => {
    const { address, type } = unmapped(raw);
    return allowedNets.check(address, type) || !blocked.check(address, type);
  };

  return {
    allows,

    checkUrl(raw, opts = {}) {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new TargetRefused('url must be an absolute http(s) URL');
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TargetRefused('url must be http or https');
      if (url.username || url.password) throw new TargetRefused('url must not carry credentials');
      const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
      if (allowedHosts.has(host)) return url;
      if (opts.httpsOnly && url.protocol !== 'https:' && !(isIP(host) && allowedNets.check(unmapped(host).address, unmapped(host).type))) {
        throw new TargetRefused('url must be https');
      }
      // URL has already normalised the odd spellings (0x7f.1, 2130706433, [::ffff:7f00:1]).
      if (isIP(host) && !allows(host))
        throw new TargetRefused(`url points into a private or reserved network (${host}); see WEBHOOK_ALLOWED_TARGETS`);
      if (host === 'localhost' || host.endsWith('.localhost')) {
        if (!allows('127.0.0.1')) throw new TargetRefused('url points at this host; see WEBHOOK_ALLOWED_TARGETS');
      }
      return url;
    },

    async resolve(hostname) {
      const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
      const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host);
      if (allowedHosts.has(host)) return addresses;
      const refused = addresses.find((a) => !allows(a.address));
      if (refused || addresses.length === 0) {
        throw new TargetRefused(
          `${hostname} resolves into a private or reserved network (${refused?.address ?? 'nothing'}); see WEBHOOK_ALLOWED_TARGETS`,
        );
      }
      return addresses;
    },
  };
}
