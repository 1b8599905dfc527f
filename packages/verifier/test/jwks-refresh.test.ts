import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createVerifier, TokenError, type Verifier } from '@zgw-auth/verifier';
import { signJws } from '@zgw-auth/verifier/testing';

/**
 * The JWKS cache of the verifier against a real HTTP JWKS server that counts its fetches: a key
 * the issuer starts to publish is accepted within the refetch cooldown (1 s by default), and tokens
 * naming made-up kids cost at most one fetch per cooldown.
 */

const ISSUER = 'https://idp.example';
/** The design bound: the default refetch cooldown. */
const COOLDOWN_MS = 1000;

function newKey(kid: string) {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' } };
}
type Key = ReturnType<typeof newKey>;

const token = (key: Key, kid = key.kid) => {
  const iat = Math.floor(Date.now() / 1000);
  return signJws(
    { alg: 'ES256', typ: 'at+jwt', kid },
    { iss: ISSUER, sub: 'c1', client_id: 'c1', aud: 'ZGW_APIs', iat, nbf: iat, exp: iat + 600 },
    key.privateKey,
  );
};

describe('RemoteJwks: refetch on an unknown kid', () => {
  const published: Key[] = [];
  let fetches = 0;
  /** Called after a fetch was answered: lets a test change the JWKS right after the verifier saw it. */
  let afterFetch: (() => void) | undefined;
  let server: http.Server;
  let jwksUri: string;

  before(async () => {
    server = http.createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: published.map((k) => k.jwk) }));
      const then = afterFetch;
      afterFetch = undefined;
      then?.();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const accepted = (v: Verifier, t: string) =>
    v.verify(t).then(
      () => true,
      (err: unknown) => {
        if (err instanceof TokenError && err.code === 'unknown_key') return false;
        throw err;
      },
    );

  it('accepts a new kid within 1 s of the key appearing at the issuer, even when it appears right after a fetch', async (t) => {
    published.splice(0, published.length, newKey('old'));
    const fresh = newKey('fresh');
    const v = createVerifier({ issuer: ISSUER, jwksUri, cache: false });
    assert.equal(await accepted(v, token(published[0]!)), true);
    // The worst case: the issuer publishes the key just after the verifier fetched without it.
    let appearedAt: number | undefined;
    afterFetch = () => {
      published.push(fresh);
      appearedAt = performance.now();
    };
    const before = fetches;
    const deadline = performance.now() + 5000;
    let acceptedAt: number | undefined;
    // The slowest poll round (a verification, or one with a fetch, and the 20 ms wait): how slow
    // this machine is right now, the margin for the bound below.
    let slowestRound = 0;
    while (acceptedAt === undefined && performance.now() < deadline) {
      const roundStart = performance.now();
      if (await accepted(v, token(fresh))) acceptedAt = performance.now();
      else await new Promise((r) => setTimeout(r, 20));
      slowestRound = Math.max(slowestRound, performance.now() - roundStart);
    }
    assert.ok(appearedAt !== undefined, 'the key was published');
    assert.ok(acceptedAt !== undefined, 'accepted within 5 s');
    t.diagnostic(
      `accepted ${Math.round(acceptedAt - appearedAt)} ms after the key appeared, ${fetches - before} fetches`,
    );
    // The cooldown, then at most two poll rounds (the one that starts the fetch, and the one that
    // sees it), each no slower than the slowest measured in this run, with a wide margin.
    const bound = COOLDOWN_MS + 3 * slowestRound + 100;
    assert.ok(
      acceptedAt - appearedAt <= bound,
      `accepted ${Math.round(acceptedAt - appearedAt)} ms after the key appeared (bound ${Math.round(bound)} ms)`,
    );
    assert.ok(fetches - before <= 3, `${fetches - before} fetches while polling for about a second`);
  });

  it('a flood of made-up kids costs at most one fetch per second', async (t) => {
    published.splice(0, published.length, newKey('known'));
    const v = createVerifier({ issuer: ISSUER, jwksUri, cache: false });
    const real = token(published[0]!);
    assert.equal(await accepted(v, real), true);
    const before = fetches;
    const start = performance.now();
    let refused = 0;
    while (performance.now() - start < 2500) {
      const batch = Array.from({ length: 20 }, () =>
        accepted(v, token(published[0]!, crypto.randomBytes(16).toString('base64url'))),
      );
      refused += (await Promise.all(batch)).filter((ok) => !ok).length;
      await new Promise((r) => setImmediate(r));
    }
    const elapsed = performance.now() - start;
    assert.ok(refused > 100, `${refused} tokens with unknown kids refused`);
    t.diagnostic(`${refused} refused, ${fetches - before} fetches in ${Math.round(elapsed)} ms`);
    // Each fetch starts the cooldown: one at the start at most, then one per full second.
    const bound = Math.floor(elapsed / COOLDOWN_MS) + 1;
    assert.ok(fetches - before <= bound, `${fetches - before} fetches in ${Math.round(elapsed)} ms (at most ${bound})`);
    assert.equal(await accepted(v, real), true, 'the known key still verifies');
  });
  it('still fetches a new key after the clock was stepped back', async () => {
    published.splice(0, published.length, newKey('before-step'));
    let clock = Date.now();
    // exp and nbf are checked against the same clock: the tokens are made for it.
    const v = createVerifier({ issuer: ISSUER, jwksUri, cache: false, now: () => clock, clockSkew: 7200 });
    assert.equal(await accepted(v, token(published[0]!)), true);
    clock -= 3_600_000; // NTP steps the wall clock back an hour
    const fresh = newKey('after-step');
    published.push(fresh);
    const before = fetches;
    assert.equal(await accepted(v, token(fresh)), true, 'the new key is fetched at once');
    assert.equal(fetches - before, 1);
    const flood = await Promise.all(
      Array.from({ length: 50 }, () => accepted(v, token(fresh, crypto.randomBytes(8).toString('hex')))),
    );
    assert.ok(flood.every((ok) => !ok));
    assert.equal(fetches - before, 1, 'made-up kids right after it fetch nothing more');
  });
});
