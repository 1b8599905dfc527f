import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeJwt,
  extractToken,
  MAX_TOKEN_LENGTH,
  refusal,
  TokenError,
  type TokenErrorCode,
} from '@zgw-auth/verifier';

/** Every code, so that a code added to TokenErrorCode without a decision here fails to compile. */
const CODES = Object.keys({
  missing_token: 1,
  malformed: 1,
  token_too_large: 1,
  alg_not_allowed: 1,
  crit_unsupported: 1,
  wrong_typ: 1,
  unknown_key: 1,
  bad_signature: 1,
  expired: 1,
  not_yet_valid: 1,
  iat_in_future: 1,
  no_expiry: 1,
  missing_iat: 1,
  invalid_claim: 1,
  issuer_mismatch: 1,
  audience_mismatch: 1,
  unknown_client: 1,
  client_disabled: 1,
  client_replaced: 1,
  self_signed_not_allowed: 1,
  rsin_mismatch: 1,
  revoked: 1,
  insufficient_scope: 1,
  keys_unavailable: 1,
  dpop_proof_missing: 1,
  invalid_dpop_proof: 1,
  dpop_wrong_request: 1,
  dpop_stale: 1,
  dpop_replayed: 1,
  dpop_wrong_token: 1,
  dpop_wrong_key: 1,
  use_dpop_nonce: 1,
  bound_token_as_bearer: 1,
  token_not_bound: 1,
  dpop_origin_unknown: 1,
  certificate_missing: 1,
  certificate_mismatch: 1,
  replay_cache_full: 1,
} satisfies Record<TokenErrorCode, 1>) as TokenErrorCode[];

/** What a caller could have put into a message: must never reach a header or a body. */
const CHOSEN = 'client "evil\r\nx-injected: 1" <script>';

describe('extractToken', () => {
  it('takes the token from a Bearer header in any case, with spaces around, or a bare token', () => {
    assert.equal(extractToken('Bearer abc.def.ghi'), 'abc.def.ghi');
    assert.equal(extractToken('bearer   abc.def.ghi  '), 'abc.def.ghi');
    assert.equal(extractToken('BEARER abc'), 'abc');
    assert.equal(extractToken('abc.def.ghi'), 'abc.def.ghi');
    assert.equal(extractToken('  abc.def.ghi '), 'abc.def.ghi');
  });

  it('refuses a missing token and other schemes as missing_token', () => {
    for (const value of [undefined, '', 'Basic dXNlcjpwYXNz', 'Bearer a b', 'DPoP abc']) {
      assert.throws(
        () => extractToken(value),
        (err: unknown) => err instanceof TokenError && err.code === 'missing_token' && !err.authenticated,
        String(value),
      );
    }
  });
});

describe('refusal(): fixed vocabulary', () => {
  it('before the signature verified, every refusal looks the same: 401 invalid_token', () => {
    const answers = new Set<string>();
    for (const code of CODES) {
      if (code === 'missing_token' || code === 'keys_unavailable') continue;
      const r = refusal(new TokenError(code, `${code}: ${CHOSEN}`));
      assert.equal(r.status, 401, code);
      answers.add(JSON.stringify(r));
    }
    assert.equal(answers.size, 1, 'one answer for all');
    const [only] = [...answers];
    assert.deepEqual(JSON.parse(only!), {
      status: 401,
      headers: {
        'www-authenticate': 'Bearer realm="zgw", error="invalid_token", error_description="the token is not valid"',
        'cache-control': 'no-store',
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        error: 'invalid_token',
        error_description: 'the token is not valid',
        code: 'invalid_token',
      }),
    });
  });

  it('after the signature verified, the code and a fixed description; never the message', () => {
    for (const code of CODES) {
      for (const problemJson of [false, true]) {
        const r = refusal(new TokenError(code, `${code}: ${CHOSEN}`, { authenticated: true }), {
          problemJson,
          scopes: ['zaken.lezen'],
        });
        const text = JSON.stringify(r);
        assert.ok(!text.includes('evil') && !text.includes('injected'), `${code}: ${text}`);
        assert.ok(/^[\x20-\x7e]+$/.test(r.headers['www-authenticate']!), 'a header value of printable ASCII');
        assert.equal(r.headers['cache-control'], 'no-store');
        const body = JSON.parse(r.body) as Record<string, unknown>;
        assert.equal(body.code, code);
        const expected =
          code === 'insufficient_scope' ? 403 : code === 'keys_unavailable' || code === 'replay_cache_full' ? 503 : 401;
        assert.equal(r.status, expected, code);
        if (problemJson) {
          assert.equal(r.headers['content-type'], 'application/problem+json');
          assert.equal(body.type, `urn:zgw-auth:error:${code}`);
          assert.equal(body.status, expected);
        }
      }
    }
    const expired = refusal(new TokenError('expired', CHOSEN, { authenticated: true }));
    assert.equal(
      expired.headers['www-authenticate'],
      'Bearer realm="zgw", error="invalid_token", error_description="the token has expired"',
    );
  });

  it('missing token: a bare challenge; keys unavailable: 503 with Retry-After; anything else: 503 too', () => {
    const missing = refusal(new TokenError('missing_token', CHOSEN));
    assert.equal(missing.status, 401);
    assert.equal(missing.headers['www-authenticate'], 'Bearer realm="zgw"');
    assert.equal((JSON.parse(missing.body) as { error: string }).error, 'invalid_request');
    for (const err of [new TokenError('keys_unavailable', CHOSEN), new Error(CHOSEN), 'not even an error']) {
      const r = refusal(err);
      assert.equal(r.status, 503);
      assert.equal(r.headers['retry-after'], '1');
      assert.ok(!JSON.stringify(r).includes('evil'));
    }
  });

  it('403 names the required scopes when they are safe to quote; the realm only when it is safe', () => {
    const scope = new TokenError('insufficient_scope', CHOSEN, { authenticated: true });
    assert.match(
      refusal(scope, { scopes: ['zaken.lezen', 'zaken.aanmaken'] }).headers['www-authenticate']!,
      /, scope="zaken.lezen zaken.aanmaken"$/,
    );
    assert.doesNotMatch(refusal(scope, { scopes: ['a"b'] }).headers['www-authenticate']!, /scope=/);
    assert.match(
      refusal(scope, { realm: 'api.example:zaken' }).headers['www-authenticate']!,
      /^Bearer realm="api.example:zaken"/,
    );
    for (const realm of ['a"b', 'x\r\ny', '', 'r'.repeat(65)])
      assert.match(refusal(scope, { realm }).headers['www-authenticate']!, /^Bearer realm="zgw"/);
  });

  it('tokens longer than 8192 characters are refused before they are parsed', () => {
    assert.equal(MAX_TOKEN_LENGTH, 8192);
    const sized = (n: number) => `e30.${'A'.repeat(n - 5)}.`;
    assert.throws(
      () => decodeJwt(sized(8193)),
      (err: TokenError) => err.code === 'token_too_large',
    );
    assert.throws(
      () => decodeJwt(sized(8192)),
      (err: TokenError) => err.code === 'malformed',
      'parsed, then refused for what it says',
    );
  });
});
