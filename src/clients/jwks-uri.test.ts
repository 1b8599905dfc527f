import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fetchJwks, JwksFetchError, JwksUriPolicy } from './jwks-uri.js';

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

describe('jwks_uri fetch time bound', () => {
  const policy = new JwksUriPolicy(['127.0.0.1']);
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  // Accepts the connection and never says a word.
  const silent = net.createServer((socket) => sockets.add(socket));
  // Answers 200 with headers, then one byte of a JWKS every 50 ms, never ending.
  const dribbling = http.createServer((req, res) => {
    sockets.add(req.socket);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"keys":[');
    const timer = setInterval(() => res.write(' '), 50);
    timers.add(timer);
    res.on('close', () => clearInterval(timer));
  });
  const listen = (server: net.Server) =>
    new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
    );
  let silentPort = 0;
  let dribblingPort = 0;
  before(async () => {
    silentPort = await listen(silent);
    dribblingPort = await listen(dribbling);
  });
  after(async () => {
    for (const t of timers) clearInterval(t);
    for (const s of sockets) s.destroy();
    await Promise.all([silent, dribbling].map((s) => new Promise((r) => s.close(r))));
  });

  /** The fetch's outcome, or a failure of the test's own when the fetch is not over within `guardMs`: never a hang. */
  async function outcome(uri: string, timeoutMs: number, guardMs = 4000): Promise<unknown> {
    let guard: NodeJS.Timeout | undefined;
    const hung = new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new Error(`the fetch was still running after ${guardMs} ms`)), guardMs);
    });
    try {
      return await Promise.race([
        fetchJwks(uri, policy, { timeoutMs }).then(
          () => assert.fail('a fetch that never completes resolved'),
          (err: unknown) => err,
        ),
        hung,
      ]);
    } finally {
      clearTimeout(guard);
    }
  }

  it('ends a fetch from a server that accepts and never answers', async () => {
    const err = await outcome(`http://127.0.0.1:${silentPort}/jwks`, 200);
    assert.ok(err instanceof JwksFetchError, String(err));
    assert.match(err.message, /no complete answer within 200 ms/);
  });

  it('ends a fetch whose answer dribbles in byte by byte, though bytes keep coming', async () => {
    const err = await outcome(`http://127.0.0.1:${dribblingPort}/jwks`, 300);
    assert.ok(err instanceof JwksFetchError, String(err));
    assert.match(err.message, /no complete answer within 300 ms/);
  });
});
