import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from '@zgw-auth/verifier';
import { type App, createApp, createLogger, initialize } from '../app.js';
import type { ClientCredentials } from '../clients/authenticate-client.js';
import type { ClientInput } from '../clients/model.js';
import { loadConfig } from '../config.js';
import { invalidClient, invalidRequest, OAuthError, type Parsed } from '../errors.js';
import { issueToken, type IssueTokenDeps, requestedScopes, type TokenRequest } from './issue-token.js';

const ADDRESS = '192.0.2.7';

/** A token request as the route builds it: missing credentials are the refusal reading them gave. */
function tokenRequest(params: {
  grantType?: string;
  scope?: Parsed<string | undefined>;
  credentials?: ClientCredentials;
}): TokenRequest {
  return {
    grantType: params.grantType,
    credentials:
      params.credentials ??
      invalidClient('client authentication missing: send client_id and client_secret, or HTTP Basic'),
    scope: params.scope,
    address: ADDRESS,
  };
}

async function refusal(promise: Promise<unknown>): Promise<OAuthError> {
  const err = await promise.then(
    () => assert.fail('expected a refusal'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof OAuthError, String(err));
  return err;
}

const issuedCount = async (app: App, alg: string) =>
  (await app.metrics.tokensIssued.get()).values.find((v) => v.labels.alg === alg)?.value ?? 0;

describe('issueToken (real SQLite)', () => {
  let app: App;
  let deps: IssueTokenDeps;
  let dataDir: string;
  const create = async (input: Partial<ClientInput>) => {
    const { client, secret } = await app.clients.create(
      { clientId: `c-${crypto.randomBytes(4).toString('hex')}`, rsin: '000000000', ...input },
      { id: 'test' },
    );
    return { clientId: client.clientId, secret: secret?.value ?? '', method: 'client_secret_post' as const };
  };

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-auth-issue-token-'));
    const config = loadConfig(
      {
        ZGW_AUTH_DATA_DIR: dataDir,
        ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
        ZGW_AUTH_ISSUER: 'https://auth.example',
      },
      {},
    );
    app = await createApp(config, { log: createLogger('silent') });
    await initialize(app);
    deps = {
      authenticator: app.authenticator,
      guard: app.guard,
      metrics: app.metrics,
      issuer: app.issuer,
      audit: app.audit,
      dpop: app.dpop,
    };
  });
  after(async () => {
    await app.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  describe('grant type', () => {
    it('refuses a missing grant_type as invalid_request, before the missing credentials', async () => {
      const err = await refusal(issueToken(deps, tokenRequest({})));
      assert.equal(err.code, 'invalid_request');
      assert.equal(err.message, 'grant_type is missing');
      assert.equal(err.status, 400);
    });

    it('refuses another grant type as unsupported_grant_type, before the missing credentials', async () => {
      const err = await refusal(issueToken(deps, tokenRequest({ grantType: 'password' })));
      assert.equal(err.code, 'unsupported_grant_type');
      assert.match(err.message, /"password" is not supported/);
    });

    it('refuses missing credentials as invalid_client, before a malformed scope', async () => {
      const err = await refusal(
        issueToken(
          deps,
          tokenRequest({
            grantType: 'client_credentials',
            scope: invalidRequest('parameter "scope" is included more than once'),
          }),
        ),
      );
      assert.equal(err.code, 'invalid_client');
      assert.equal(err.status, 401);
    });

    it('refuses a client registered without the client_credentials grant as unauthorized_client, before a malformed scope', async () => {
      const credentials = await create({ grantTypes: [] });
      const err = await refusal(
        issueToken(
          deps,
          tokenRequest({
            grantType: 'client_credentials',
            credentials,
            scope: invalidRequest('parameter "scope" is included more than once'),
          }),
        ),
      );
      assert.equal(err.code, 'unauthorized_client');
    });

    it('refuses a scope parameter that could not be read once the client is authenticated', async () => {
      const credentials = await create({});
      const err = await refusal(
        issueToken(
          deps,
          tokenRequest({
            grantType: 'client_credentials',
            credentials,
            scope: invalidRequest('parameter "scope" is included more than once'),
          }),
        ),
      );
      assert.equal(err.code, 'invalid_request');
      assert.match(err.message, /"scope" is included more than once/);
    });

    it('refuses a wrong secret as invalid_client (401) and records the failure', async () => {
      const { clientId } = await create({});
      const err = await refusal(
        issueToken(
          deps,
          tokenRequest({
            grantType: 'client_credentials',
            credentials: { clientId, secret: 'not-the-secret', method: 'client_secret_post' },
          }),
        ),
      );
      assert.equal(err.code, 'invalid_client');
      assert.equal(err.status, 401);
      const failed = await app.audit.list({ action: 'client_auth.failed', target: clientId });
      assert.equal(failed.length, 1);
      assert.equal(failed[0]!.reason, 'wrong_secret');
      assert.equal(failed[0]!.details.endpoint, 'token');
      assert.equal(failed[0]!.address, ADDRESS);
    });
  });

  describe('scope policy', () => {
    it('gives the default scopes when none are asked for, or only blanks', async () => {
      const credentials = await create({
        allowedScopes: ['zaken.lezen', 'zaken.schrijven'],
        defaultScopes: ['zaken.lezen'],
      });
      for (const scope of [undefined, '  ']) {
        const token = await issueToken(
          deps,
          tokenRequest({ grantType: 'client_credentials', credentials, ...(scope === undefined ? {} : { scope }) }),
        );
        assert.equal(token.scope, 'zaken.lezen');
        assert.equal(decodeJwt(token.accessToken).payload.scope, 'zaken.lezen');
      }
    });

    it('gives the allowed scopes asked for, each once, and no scope claim when there are none', async () => {
      const credentials = await create({ allowedScopes: ['zaken.lezen', 'zaken.schrijven'], defaultScopes: [] });
      const token = await issueToken(
        deps,
        tokenRequest({
          grantType: 'client_credentials',
          credentials,
          scope: 'zaken.schrijven zaken.lezen zaken.schrijven',
        }),
      );
      assert.equal(token.scope, 'zaken.schrijven zaken.lezen');
      const none = await issueToken(deps, tokenRequest({ grantType: 'client_credentials', credentials }));
      assert.equal(none.scope, undefined);
      assert.equal('scope' in none, false);
      assert.equal(decodeJwt(none.accessToken).payload.scope, undefined);
    });

    it('refuses a scope the client is not allowed, and a malformed one, as invalid_scope', async () => {
      const credentials = await create({ allowedScopes: ['zaken.lezen'] });
      const notAllowed = await refusal(
        issueToken(
          deps,
          tokenRequest({ grantType: 'client_credentials', credentials, scope: 'zaken.lezen zgw-auth:admin' }),
        ),
      );
      assert.equal(notAllowed.code, 'invalid_scope');
      assert.match(notAllowed.message, /"zgw-auth:admin" is not allowed/);
      const malformed = await refusal(
        issueToken(deps, tokenRequest({ grantType: 'client_credentials', credentials, scope: 'zaken"lezen' })),
      );
      assert.equal(malformed.code, 'invalid_scope');
      assert.equal(malformed.message, 'scope is malformed');
    });

    it('requestedScopes: defaults, duplicates, and refusals without a client', () => {
      assert.deepEqual(requestedScopes(undefined, ['a'], ['a']), ['a']);
      assert.deepEqual(requestedScopes('b a b', ['a', 'b'], []), ['b', 'a']);
      assert.throws(
        () => requestedScopes('c', ['a', 'b'], []),
        (e: unknown) => e instanceof OAuthError && e.code === 'invalid_scope',
      );
    });
  });

  describe('effects', () => {
    it('signs a token for the client, counts it by algorithm and audits token.issued with its jti and scope', async () => {
      const credentials = await create({ allowedScopes: ['zaken.lezen'] });
      const alg = app.keys.current()!.alg;
      const before = await issuedCount(app, alg);
      const token = await issueToken(
        deps,
        tokenRequest({ grantType: 'client_credentials', credentials, scope: 'zaken.lezen' }),
      );
      assert.equal(token.tokenType, 'Bearer');
      const { header, payload } = decodeJwt(token.accessToken);
      assert.equal(header.alg, alg);
      assert.equal(payload.client_id, credentials.clientId);
      assert.equal(payload.iss, 'https://auth.example');
      assert.equal(token.expiresIn, (payload.exp as number) - (payload.iat as number));
      assert.equal(await issuedCount(app, alg), before + 1);

      const [issued, ...more] = await app.audit.list({ action: 'token.issued', target: credentials.clientId });
      assert.equal(more.length, 0);
      assert.equal(issued!.actor, credentials.clientId);
      assert.equal(issued!.address, ADDRESS);
      assert.deepEqual(issued!.details, { jti: payload.jti, scope: 'zaken.lezen', expiresIn: token.expiresIn });
    });

    it("the console's sign-in: the administrator scope the client holds, the console's lifetime, audited under its organisation as the console", async () => {
      const credentials = await create({
        rsin: '123456782',
        allowedScopes: ['zaken.lezen', 'zgw-auth:org-admin'],
        tokenLifetime: 60,
      });
      const token = await issueToken(deps, {
        ...tokenRequest({ grantType: 'client_credentials', credentials, scope: 'zaken.lezen' }),
        console: { lifetime: 900 },
      });
      assert.equal(token.scope, 'zgw-auth:org-admin', 'the scope parameter is not read');
      assert.equal(token.expiresIn, 900);
      assert.equal(token.client.clientId, credentials.clientId);
      assert.equal(decodeJwt(token.accessToken).payload.jti, token.jti);
      const [issued] = await app.audit.list({ action: 'token.issued', target: credentials.clientId });
      assert.equal(issued!.organisation, '123456782');
      assert.deepEqual(issued!.details, {
        jti: token.jti,
        scope: 'zgw-auth:org-admin',
        expiresIn: 900,
        via: 'console',
      });

      const plain = await create({ allowedScopes: ['zaken.lezen'] });
      const refused = await refusal(
        issueToken(deps, {
          ...tokenRequest({ grantType: 'client_credentials', credentials: plain }),
          console: { lifetime: 900 },
        }),
      );
      assert.equal(refused.code, 'unauthorized_client');
      assert.deepEqual(await app.audit.list({ action: 'token.issued', target: plain.clientId }), []);
      await refusal(
        issueToken(deps, {
          ...tokenRequest({ grantType: 'client_credentials', credentials: { ...plain, secret: 'wrong' } }),
          console: { lifetime: 900 },
        }),
      );
      const [failed] = await app.audit.list({ action: 'client_auth.failed', target: plain.clientId });
      assert.equal(failed!.details.endpoint, 'console');
    });

    it('neither counts nor audits a refused request', async () => {
      const credentials = await create({ allowedScopes: ['zaken.lezen'] });
      const alg = app.keys.current()!.alg;
      const before = await issuedCount(app, alg);
      await refusal(
        issueToken(deps, tokenRequest({ grantType: 'client_credentials', credentials, scope: 'zaken.schrijven' })),
      );
      assert.equal(await issuedCount(app, alg), before);
      assert.deepEqual(await app.audit.list({ action: 'token.issued', target: credentials.clientId }), []);
    });
  });
});
