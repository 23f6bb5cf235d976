import { describe, expect, it } from 'vitest';
import { createTargetGuard, TargetRefused } from './targets.ts';

describe('the outbound target guard', () => {
  const none = createTargetGuard([]);

  it('refuses every private, loopback, link-local and reserved address, however written', () => {
    for (const address of [
      '0.0.0.0',
      '10.1.2.3',
      '100.64.0.1',
      '127.0.0.1',
      '169.254.169.254',
      '172.16.5.4',
      '172.31.255.255',
      '192.168.1.1',
      '198.18.0.1',
      '224.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      '::ffff:10.0.0.1',
      '::ffff:127.0.0.1',
      '64:ff9b::a00:1',
      'fd00::1',
      'fe80::1',
      'ff02::1',
    ]) {
      expect(none.allows(address), address).toBe(false);
    }
    for (const address of ['93.184.216.34', '172.32.0.1', '2606:4700::1111', '::ffff:8.8.8.8']) expect(none.allows(address), address).toBe(true);
  });

  it('checks URLs: scheme, credentials, literal addresses in any spelling, localhost', () => {
    for (const url of [
      'http://0x7f.1/',
      'http://2130706433/',
      'http://[::ffff:7f00:1]/',
      'http://localhost/',
      'http://a.localhost/',
      'http://10.0.0.1/',
    ]) {
      expect(() => none.checkUrl(url), url).toThrow(TargetRefused);
    }
    expect(() => none.checkUrl('gopher://example.com/')).toThrow(/http or https/);
    expect(() => none.checkUrl('https://u:p@example.com/')).toThrow(/credentials/);
    expect(() => none.checkUrl('not a url')).toThrow(/absolute/);
    expect(() => none.checkUrl('http://push.example.com/', { httpsOnly: true })).toThrow(/https/);
    expect(none.checkUrl('https://hooks.example.com/x?y=1').toString()).toBe('https://hooks.example.com/x?y=1');
  });

  it('resolves names and refuses one that resolves inside, even when only one of its addresses does', async () => {
    const guard = createTargetGuard([], (host) =>
      Promise.resolve(
        host === 'mixed.test'
          ? [
              { address: '93.184.216.34', family: 4 },
              { address: '10.0.0.8', family: 4 },
            ]
          : [{ address: '93.184.216.34', family: 4 }],
      ),
    );
    await expect(guard.resolve('mixed.test')).rejects.toThrow(/10\.0\.0\.8/);
    await expect(guard.resolve('fine.test')).resolves.toEqual([{ address: '93.184.216.34', family: 4 }]);
  });

  it('lets WEBHOOK_ALLOWED_TARGETS through: CIDRs, single addresses and host names', async () => {
    const guard = createTargetGuard(['127.0.0.0/8', '10.1.2.3', 'hooks.internal'], () => Promise.resolve([{ address: '10.200.0.1', family: 4 }]));
    expect(guard.allows('127.0.0.2')).toBe(true);
    expect(guard.allows('10.1.2.3')).toBe(true);
    expect(guard.allows('10.1.2.4')).toBe(false);
    expect(guard.checkUrl('http://localhost:3000/').hostname).toBe('localhost');
    expect(guard.checkUrl('http://127.0.0.1:3000/', { httpsOnly: true }).hostname).toBe('127.0.0.1');
    await expect(guard.resolve('hooks.internal')).resolves.toHaveLength(1);
    await expect(guard.resolve('other.internal')).rejects.toThrow(TargetRefused);
  });
});
