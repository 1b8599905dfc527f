import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JwksUriPolicy } from './jwks-uri.js';

describe('jwks_uri address policy', () => {
  const strict = new JwksUriPolicy([]);

  it('refuses the server-side ranges, also IPv4-mapped, and allows public addresses', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '::1',
      '::',
      'fc00::1',
      'fd12:3456::1',
      'fe80::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:a9fe:a9fe',
      '64:ff9b::a00:1',
    ])
      assert.equal(strict.isAllowedAddress(a, 'keys.example'), false, a);
    for (const a of ['93.184.216.34', '2606:2800:220:1::1', '::ffff:93.184.216.34'])
      assert.equal(strict.isAllowedAddress(a, 'keys.example'), true, a);
  });

  it('allows configured ranges and host names, where plain http is allowed too', () => {
    const allowing = new JwksUriPolicy(['10.0.0.0/8', '127.0.0.1', 'keys.intern.example']);
    assert.equal(allowing.isAllowedAddress('10.9.9.9', 'x.example'), true);
    assert.equal(allowing.isAllowedAddress('::ffff:10.9.9.9', 'x.example'), true);
    assert.equal(allowing.isAllowedAddress('192.168.0.1', 'keys.intern.example'), true);
    assert.equal(allowing.isAllowedAddress('192.168.0.1', 'x.example'), false);
    allowing.validate('http://127.0.0.1:8081/jwks');
    allowing.validate('http://keys.intern.example/jwks');
    assert.throws(() => allowing.validate('http://keys.example/jwks'), /https/);
  });

  it('checks a jwks_uri when registered: https, no credentials or fragment, bounded, no literal private address', () => {
    strict.validate('https://keys.example/.well-known/jwks.json');
    for (const bad of [
      'https://user:pw@keys.example/jwks',
      'https://keys.example/jwks#x',
      'ftp://keys.example/jwks',
      'https://10.0.0.1/jwks',
      'https://[::1]/jwks',
      `https://keys.example/${'a'.repeat(2100)}`,
      'https://keys.example/a b',
      'not a url',
    ])
      assert.throws(() => strict.validate(bad), /jwks_uri/, bad);
  });
});
