import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { importJwks, introspect, RemoteJwks, TokenError } from '@zgw-auth/verifier';

/**
 * JSON from the network (discovery, JWKS, introspection) is parsed as untrusted input: whatever
 * shape arrives, the answer is a clean refusal or "not active", never a TypeError thrown out of
 * the library.
 */
describe('JSON from the network', () => {
  let server: http.Server;
  let base: string;
  const answers = new Map<string, string>();
  before(async () => {
    server = http.createServer((req, res) => {
      const body = answers.get(req.url ?? '');
      if (body === undefined) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  for (const [name, body] of [
    ['null', 'null'],
    ['an array', '[]'],
    ['a string', '"active"'],
    ['a number', '1'],
  ] as const) {
    it(`introspection answering ${name} means not active`, async () => {
      answers.set('/introspect', body);
      assert.deepEqual(await introspect('t', { endpoint: `${base}/introspect`, clientId: 'c', clientSecret: 's' }), {
        active: false,
      });
    });

    it(`a discovery document that is ${name} leaves the keys unavailable`, async () => {
      const issuer = `${base}/discovery-${name.replace(/ /g, '-')}`;
      answers.set(`/discovery-${name.replace(/ /g, '-')}/.well-known/openid-configuration`, body);
      const jwks = new RemoteJwks({ issuer });
      await assert.rejects(
        Promise.resolve(jwks.get('kid')),
        (err: unknown) => err instanceof TokenError && err.code === 'keys_unavailable',
      );
    });
  }

  it('skips JWKS entries that are not objects and keeps the good key', () => {
    const { publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const good = { ...publicKey.export({ format: 'jwk' }), kid: 'good', alg: 'ES256' };
    const keys = importJwks({ keys: [null, 1, 'x', [], good] });
    assert.deepEqual([...keys.keys()], ['good']);
  });
});
