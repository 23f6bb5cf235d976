import { describe, expect, it } from 'vitest';
import { clientAddress, createProxyTrust, proxyEntryProblem } from './client-address.ts';

const loopback = createProxyTrust(['127.0.0.0/8', '::1']);

describe('clientAddress', () => {
  it('believes X-Forwarded-For only from a trusted peer', () => {
    expect(clientAddress('127.0.0.1', { forwardedFor: '203.0.113.7' }, loopback)).toBe('203.0.113.7');
    expect(clientAddress('::ffff:127.0.0.1', { forwardedFor: '203.0.113.7' }, loopback)).toBe('203.0.113.7');
    expect(clientAddress('::1', { realIp: '203.0.113.8' }, loopback)).toBe('203.0.113.8');
    // An untrusted peer is its own address, whatever it claims.
    expect(clientAddress('198.51.100.1', { forwardedFor: '203.0.113.7', realIp: '203.0.113.8' }, loopback)).toBe('198.51.100.1');
    expect(clientAddress('::ffff:198.51.100.1', { forwardedFor: '127.0.0.1' }, loopback)).toBe('198.51.100.1');
  });

  it('reads the chain from the right, so a client cannot plant an address left of what the proxy appended', () => {
    // The client sent "X-Forwarded-For: 1.2.3.4"; the trusted proxy appended the real peer.
    expect(clientAddress('127.0.0.1', { forwardedFor: '1.2.3.4, 203.0.113.7' }, loopback)).toBe('203.0.113.7');
    // Trusted hops are skipped; an all-trusted chain names its leftmost hop.
    expect(clientAddress('127.0.0.1', { forwardedFor: '203.0.113.7, 127.0.0.5' }, loopback)).toBe('203.0.113.7');
    expect(clientAddress('127.0.0.1', { forwardedFor: ['127.0.0.9', '127.0.0.5'] }, loopback)).toBe('127.0.0.9');
    // Garbage stops the walk at the nearest trusted hop.
    expect(clientAddress('127.0.0.1', { forwardedFor: 'not-an-ip' }, loopback)).toBe('127.0.0.1');
    expect(clientAddress('127.0.0.1', { realIp: 'junk' }, loopback)).toBe('127.0.0.1');
    expect(clientAddress(undefined, {}, loopback)).toBe('unknown');
  });

  it('matches CIDR ranges of both families', () => {
    const trust = createProxyTrust(['10.0.0.0/8', 'fd00::/8']);
    expect(trust.trusts('10.1.2.3')).toBe(true);
    expect(trust.trusts('11.1.2.3')).toBe(false);
    expect(trust.trusts('fd12::1')).toBe(true);
    expect(trust.trusts('127.0.0.1')).toBe(false);
  });

  it('validates TRUSTED_PROXIES entries', () => {
    expect(proxyEntryProblem('127.0.0.0/8')).toBeUndefined();
    expect(proxyEntryProblem('::1')).toBeUndefined();
    expect(proxyEntryProblem('10.0.0.0/33')).toMatch(/prefix length/);
    expect(proxyEntryProblem('example.com')).toMatch(/not an IP/);
    expect(proxyEntryProblem('1.2.3.4/8/9')).toMatch(/not an IP/);
  });
});

describe('the limits configuration', () => {
  it('reads TRUSTED_PROXIES and the limits, and names a bad entry', async () => {
    const { loadApiConfig, loadGatewayConfig } = await import('../config/index.ts');
    const api = loadApiConfig({ ENVIRONMENT: 'test', JWT_SECRET: 'x'.repeat(32) });
    expect(api.trustedProxies).toEqual(['127.0.0.0/8', '::1']);
    expect(api.loginLimits.perAccount).toEqual({ points: 10, windowMs: 15 * 60_000, blockMs: 15 * 60_000 });
    expect(api.loginLimits.perAddress).toEqual({ points: 100, windowMs: 15 * 60_000 });
    expect(api.registerLimit).toEqual({ points: 50, windowMs: 3_600_000 });
    expect(api.messageRateLimit).toEqual({ points: 100, windowMs: 10_000 });
    const gw = loadGatewayConfig({ ENVIRONMENT: 'test', JWT_SECRET: 'x'.repeat(32), TRUSTED_PROXIES: '10.0.0.0/8, fd00::1' });
    expect(gw.trustedProxies).toEqual(['10.0.0.0/8', 'fd00::1']);
    expect(gw.connectionLimits).toEqual({ perUser: { points: 60, windowMs: 60_000 }, perAddress: { points: 600, windowMs: 60_000 } });
    expect(() => loadApiConfig({ ENVIRONMENT: 'test', JWT_SECRET: 'x'.repeat(32), TRUSTED_PROXIES: 'proxy.local' })).toThrow(
      /TRUSTED_PROXIES: "proxy.local" is not an IP/,
    );
    expect(() => loadApiConfig({ ENVIRONMENT: 'test', JWT_SECRET: 'x'.repeat(32), LOGIN_ACCOUNT_LIMIT: '-1' })).toThrow(/LOGIN_ACCOUNT_LIMIT/);
  });
});
