import { describe, expect, it } from 'vitest';
import { authenticatesByCookie, checkCsrf, type CsrfRequest } from './csrf.ts';

const ALLOWED = ['http://localhost:8080', 'https://chat.example.com'];
const request = (over: Partial<CsrfRequest>): CsrfRequest => ({
  method: 'POST',
  origin: undefined,
  secFetchSite: undefined,
  cookieAuthenticated: true,
  ...over,
});
const allowed = (over: Partial<CsrfRequest>) => checkCsrf(request(over), ALLOWED).allowed;

describe('checkCsrf', () => {
  it.each(['POST', 'PUT', 'PATCH', 'DELETE', 'post'])('refuses a cookie-authenticated %s from another origin', (method) => {
    const verdict = checkCsrf(request({ method, origin: 'http://localhost:4000' }), new Set(ALLOWED));
    expect(verdict.allowed).toBe(false);
    expect(verdict.allowed ? '' : verdict.reason).toContain('origin http://localhost:4000');
  });

  it('lets an allowed origin through, whatever Sec-Fetch-Site says', () => {
    expect(allowed({ origin: 'https://chat.example.com' })).toBe(true);
    expect(allowed({ origin: 'http://localhost:8080', secFetchSite: 'same-origin' })).toBe(true);
    expect(allowed({ origin: 'null' })).toBe(false);
  });

  it('without Origin, judges by Sec-Fetch-Site', () => {
    expect(allowed({ secFetchSite: 'cross-site' })).toBe(false);
    expect(allowed({ secFetchSite: 'same-site' })).toBe(false);
    expect(allowed({ secFetchSite: 'same-origin' })).toBe(true);
    expect(allowed({ secFetchSite: 'none' })).toBe(true);
    expect(allowed({})).toBe(true); // curl, k6, scripts
  });

  it('ignores safe methods and requests the cookie does not authenticate', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS']) expect(allowed({ method, origin: 'http://evil.test', secFetchSite: 'cross-site' })).toBe(true);
    expect(allowed({ cookieAuthenticated: false, origin: 'http://evil.test', secFetchSite: 'cross-site' })).toBe(true);
  });
});

describe('authenticatesByCookie', () => {
  it('is true only for the cookie with no explicit credential', () => {
    expect(authenticatesByCookie({ cookieHeader: 'a=b; jwt_token=t' })).toBe(true);
    expect(authenticatesByCookie({ cookieHeader: 'jwt_token=t', authorization: 'Bearer x' })).toBe(false);
    expect(authenticatesByCookie({ cookieHeader: 'jwt_token=t', auth: 'x' })).toBe(false);
    expect(authenticatesByCookie({ cookieHeader: 'jwt_token=t', authorization: 'Basic x' })).toBe(true);
    expect(authenticatesByCookie({ cookieHeader: 'other=1' })).toBe(false);
    expect(authenticatesByCookie({})).toBe(false);
  });
});
