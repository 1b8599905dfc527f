import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { TokenError } from '@zgw-auth/verifier';
import { basicAuth, CLI, hs256, postForm, RealClock, startTestServer, type TestServer } from './helpers.js';

const run = promisify(execFile);

interface Verification {
  valid: boolean;
  kind?: string;
  clientId?: string;
  scopes?: string[];
  code?: string;
}

/**
 * `token inspect` gives one verdict, the server's: with the server's configuration it runs the
 * server's verifier on the registry; with --server it asks that server. Each case below is one where
 * a check of the token alone (signature with a given secret, or the issuer's keys) said otherwise.
 */
describe("token inspect: the server verifier's verdict, exit 0 valid, 1 invalid, 2 could not check", () => {
  let ts: TestServer;
  let env: NodeJS.ProcessEnv;
  let adminToken: string;
  const now = () => Math.floor(Date.now() / 1000);
  const cli = async (args: string[], over: NodeJS.ProcessEnv = {}) => {
    try {
      const { stdout, stderr } = await run(process.execPath, [CLI, 'token', 'inspect', ...args], {
        env: { ...env, ...over },
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  /** The verdict of the server's own verifier, as /introspect and the admin API use it. */
  const serverVerdict = async (token: string): Promise<Verification> =>
    ts.app.verifier.verify(token).then(
      (p) => ({ valid: true, kind: p.kind, clientId: p.clientId, scopes: p.scopes }),
      (err: unknown) => {
        assert.ok(err instanceof TokenError, String(err));
        return { valid: false, code: err.code };
      },
    );
  /** The code the server refuses a token with; fails when it accepts it. */
  const refusalCode = async (token: string) => {
    const v = await serverVerdict(token);
    assert.equal(v.valid, false, 'the server refuses it');
    return v.code!;
  };
  /** The CLI's verdict on the registry and from the server, with their exit codes. */
  const inspectBoth = async (token: string) => {
    const outcomes = [
      await cli([token, '--json']),
      await cli([token, '--json', '--server', ts.url, '--admin-token', adminToken]),
    ];
    return outcomes.map((r) => {
      assert.equal(r.stderr, '', r.stderr);
      const { valid, kind, clientId, scopes, code } = (JSON.parse(r.stdout) as { verification: Verification })
        .verification;
      return { exit: r.code, verdict: valid ? { valid, kind, clientId, scopes } : { valid, code } };
    });
  };
  const assertRefused = async (token: string, code: string) => {
    assert.deepEqual(await serverVerdict(token), { valid: false, code }, 'the server refuses it');
    assert.deepEqual(await inspectBoth(token), [
      { exit: 1, verdict: { valid: false, code } },
      { exit: 1, verdict: { valid: false, code } },
    ]);
  };
  const selfSigned = (c: { clientId: string; secret: string }, over: Record<string, unknown> = {}) =>
    hs256(
      {
        iss: c.clientId,
        client_id: c.clientId,
        iat: now(),
        exp: now() + 300,
        user_id: 'u1',
        user_representation: 'U',
        ...over,
      },
      c.secret,
    );

  before(async () => {
    // A shorter self-signed lifetime than the verifier's default: the CLI must take the server's.
    // Real time: the CLI's verdicts (its own processes) are compared with the server's.
    ts = await startTestServer({ env: { ZGW_AUTH_SELF_SIGNED_MAX_AGE: '600' }, clock: new RealClock() });
    env = {
      ...process.env,
      ZGW_AUTH_DATA_DIR: ts.config.dataDir,
      ZGW_AUTH_MASTER_KEY: ts.config.masterKey!,
      ZGW_AUTH_SELF_SIGNED_MAX_AGE: '600',
      ZGW_AUTH_ISSUER: ts.config.issuer,
      ZGW_AUTH_LOG_LEVEL: 'error',
    };
    adminToken = await ts.token(ts.admin.clientId, ts.admin.secret);
  });
  after(() => ts.close());

  it("accepts a valid self-signed token, with the client's registered scopes, never the token's", async () => {
    const c = await ts.createClient({ selfSignedAllowed: true, allowedScopes: ['zaken.lezen'] });
    const token = selfSigned(c, { scope: 'zaken.schrijven zgw-auth:admin' });
    const expected = { valid: true, kind: 'self-signed', clientId: c.clientId, scopes: ['zaken.lezen'] };
    assert.deepEqual(await serverVerdict(token), expected);
    assert.deepEqual(await inspectBoth(token), [
      { exit: 0, verdict: expected },
      { exit: 0, verdict: expected },
    ]);
    const text = await cli([token]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /VALID \(self-signed\), scopes: zaken\.lezen\n/);
  });

  it("accepts a valid token of the server's own, and refuses it once revoked", async () => {
    const c = await ts.createClient({ allowedScopes: ['zaken.lezen'] });
    const token = await ts.token(c.clientId, c.secret, 'zaken.lezen');
    const expected = { valid: true, kind: 'oauth2', clientId: c.clientId, scopes: ['zaken.lezen'] };
    assert.deepEqual(await inspectBoth(token), [
      { exit: 0, verdict: expected },
      { exit: 0, verdict: expected },
    ]);
    // The issuer is the server's business: another spelling of its address is no reason to refuse.
    const spelled = await cli([token, '--json', '--server', `${ts.url}/`, '--admin-token', adminToken]);
    assert.equal(spelled.code, 0, spelled.stdout + spelled.stderr);
    assert.equal(
      await cli([token], { ZGW_AUTH_ISSUER: 'https://elsewhere.example' }).then((r) => r.code),
      1,
      "the registry's verifier takes the issuer of its configuration",
    );
    assert.equal(
      (await postForm(`${ts.url}/revoke`, { token }, { authorization: basicAuth(c.clientId, c.secret) })).status,
      200,
    );
    await assertRefused(token, 'revoked');
  });

  it('refuses a self-signed token whose rsin is not the registered one', async () => {
    const c = await ts.createClient({ selfSignedAllowed: true, rsin: '000000000' });
    await assertRefused(selfSigned(c, { rsin: '123456782' }), 'rsin_mismatch');
  });

  it("refuses a self-signed token past the server's self-signed maximum lifetime, though before its own exp", async () => {
    const c = await ts.createClient({ selfSignedAllowed: true });
    // Signed 700 s ago for an hour: the server caps its life at 600 s from iat, so it has expired.
    await assertRefused(selfSigned(c, { iat: now() - 700, exp: now() + 2900 }), 'expired');
  });

  it('refuses tokens of a disabled client, of a client of a disabled organisation, and of a client that may not self-sign', async () => {
    const disabled = await ts.createClient({ selfSignedAllowed: true });
    await ts.app.clients.update(disabled.clientId, { enabled: false }, { id: 'test' });
    await assertRefused(selfSigned(disabled), await refusalCode(selfSigned(disabled)));

    const inOrganisation = await ts.createClient({ selfSignedAllowed: true, rsin: '111222333' });
    const idp = await ts.token(inOrganisation.clientId, inOrganisation.secret);
    await ts.app.organisations.disable('111222333', { id: 'test' });
    for (const token of [selfSigned(inOrganisation), idp]) await assertRefused(token, await refusalCode(token));

    const notSelfSigning = await ts.createClient({ selfSignedAllowed: false });
    await assertRefused(selfSigned(notSelfSigning), await refusalCode(selfSigned(notSelfSigning)));
  });

  it('says invalid for a token that does not decode, without a registry or server', async () => {
    const r = await cli(['not.a.token'], { ZGW_AUTH_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-inspect-')) });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /INVALID: /);
  });

  it('exits 2 when it could not check: no registry, no or a refused admin token, no server, or a secret alone', async () => {
    const c = await ts.createClient({ selfSignedAllowed: true });
    const token = selfSigned(c);
    const closed = `http://127.0.0.1:1`;
    for (const [args, over, why] of [
      [
        [token],
        { ZGW_AUTH_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-inspect-')) },
        /no registry|--init|does not exist|not found/i,
      ],
      [[token, '--server', ts.url], {}, /--admin-token/],
      [[token, '--server', ts.url, '--admin-token', 'x.y.z'], {}, /answered 401/],
      [[token, '--server', closed, '--admin-token', adminToken], {}, /fetch failed|ECONNREFUSED/],
      [[token, '--client-secret', c.secret], {}, /--client-secret/],
    ] as const) {
      const r = await cli([...args], over);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout} ${r.stderr}`);
      assert.match(r.stderr, /could not check the token/);
      assert.match(r.stderr, why);
      assert.doesNotMatch(r.stdout, /VALID/);
    }
  });
});
