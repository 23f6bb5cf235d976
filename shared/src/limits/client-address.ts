import { BlockList, isIP } from 'node:net';

/**
 * Who the client is, for the per-address limits: the direct peer, unless the peer
 * is a trusted proxy (TRUSTED_PROXIES), in which case the address the proxy
 * forwarded. A forwarded header from anyone else is ignored: any client can send
 * one. The API (Hono's getConnInfo) and the gateway (req.socket.remoteAddress)
 * both call `clientAddress`, so a client counts as the same address everywhere.
 */
export interface ProxyTrust {
  trusts(address: string): boolean;
}

/** "::ffff:127.0.0.1" (an IPv4 peer on a dual-stack socket) is 127.0.0.1. */
function normalizeAddress(address: string): string {
  const trimmed = address.trim();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(trimmed);
  return mapped ? (mapped[1] as string) : trimmed.toLowerCase();
}

/** Checks one TRUSTED_PROXIES entry: an IP address or a CIDR range. Returns a problem, or undefined. */
export function proxyEntryProblem(entry: string): string | undefined {
  const [address = '', bits, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return `"${entry}" is not an IP address or CIDR range`;
  if (bits === undefined) return undefined;
  const n = Number(bits);
  const max = family === 4 ? 32 : 128;
  if (!/^\d+$/.test(bits) || n > max) return `"${entry}": prefix length must be 0-${max}`;
  return undefined;
}

export function createProxyTrust(entries: readonly string[]): ProxyTrust {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', bits] = entry.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return {
    trusts(address) {
      const normalized = normalizeAddress(address);
      const family = isIP(normalized);
      return family !== 0 && list.check(normalized, family === 6 ? 'ipv6' : 'ipv4');
    },
  };
}

type HeaderValue = string | string[] | undefined;
const joined = (value: HeaderValue) => (Array.isArray(value) ? value.join(',') : value);

/**
 * The client's address. With a trusted peer, `X-Forwarded-For` is read from the
 * right (the entries nearest us, which our proxies wrote), skipping trusted hops:
 * the first untrusted entry is the client; entries left of it were written by the
 * client and are ignored. Without the header, `X-Real-IP`; without a usable
 * forwarded address, the peer itself.
 */
export function clientAddress(peer: string | undefined, headers: { forwardedFor?: HeaderValue; realIp?: HeaderValue }, trust: ProxyTrust): string {
  if (peer === undefined || peer === '') return 'unknown';
  const direct = normalizeAddress(peer);
  if (!trust.trusts(direct)) return direct;
  const hops = (joined(headers.forwardedFor) ?? '').split(',').map(normalizeAddress).filter(Boolean);
  if (hops.length > 0) {
    let nearest = direct;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i] as string;
      if (isIP(hop) === 0) return nearest; // garbage: stop at the last hop we could trust
      if (!trust.trusts(hop)) return hop;
      nearest = hop;
    }
    return nearest;
  }
  const real = normalizeAddress(joined(headers.realIp) ?? '');
  return isIP(real) === 0 ? direct : real;
}
