import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import * as oidc from 'openid-client';
import type { ClientInput } from '../src/clients/model.js';
import { OIN_NEEDS_CERTIFICATE } from '../src/clients/key-certificate.js';
import { loadConfig } from '../src/config.js';
import { KyselyClientStore } from '../src/storage/kysely-client-store.js';
import { decodePart, startTestServer, type TestServer } from './helpers.js';
import { type CertificateName, makeTestPki, OIN, OTHER_OIN, type TestPki } from './pki/test-pki.js';
import { fetchWithCertificate, httpsPostForm, httpsRequest, type TlsIdentity } from './pki/tls-client.js';

const run = promisify(execFile);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('mutual TLS at the HTTPS listener (tls_client_auth, self_signed_tls_client_auth)', () => {
  let pki: TestPki;
  let ts: TestServer;
  let tokenUrl: string;
  // Each test from an address of its own: the back-off counts failures per address.
  const as = (name: CertificateName, localAddress = '127.0.0.1'): TlsIdentity => ({
    cert: pki.certs[name].chainPem,
    key: pki.certs[name].keyPem,
    ca: pki.rootPem,
    localAddress,
  });
  const client = async (input: Partial<ClientInput>) => (await ts.createClient(input)).clientId;
  const grant = (clientId: string) => ({ grant_type: 'client_credentials', client_id: clientId });
  const failures = async (clientId: string) =>
    (await ts.app.audit.list({ action: 'client_auth.failed', target: clientId })).map((e) => ({
      reason: e.reason,
      detail: e.details.detail,
    }));

  before(async () => {
    pki = makeTestPki();
    ts = await startTestServer({
      env: {
        ZGW_AUTH_TLS_CERT: pki.certs.server.chainPath,
        ZGW_AUTH_TLS_KEY: pki.certs.server.keyPath,
        ZGW_AUTH_TLS_CLIENT_CA: pki.anchorsPath,
        ZGW_AUTH_TLS_CLIENT_CERT: 'optional',
        ZGW_AUTH_TLS_CRL: pki.crlPath,
        ZGW_AUTH_LOCKOUT_BASE_SECONDS: '60',
      },
    });
    tokenUrl = `${ts.url}/token`;
  });
  after(async () => {
    await ts?.close();
    pki?.remove();
  });

  it('listens with HTTPS, and its issuer says so', () => {
    assert.match(ts.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(ts.config.issuer, ts.url);
  });

  it('curl --cert/--key: a client registered by OIN gets a token', async () => {
    const clientId = await client({ authMethods: ['tls_client_auth'], oin: OIN });
    const { stdout } = await run('curl', [
      '-sS',
      '--cacert',
      pki.anchorsPath,
      '--cert',
      pki.certs.client.chainPath,
      '--key',
      pki.certs.client.keyPath,
      '-d',
      'grant_type=client_credentials',
      '-d',
      `client_id=${clientId}`,
      tokenUrl,
    ]);
    const body = JSON.parse(stdout) as { access_token: string };
    assert.equal(decodePart(body.access_token, 1).client_id, clientId);
  });

  it('Python requests with cert=(chain, key): a client registered by subject DN (commas, quotes) gets a token', async () => {
    const clientId = await client({
      authMethods: ['tls_client_auth'],
      tlsSubject: { field: 'subject_dn', value: pki.subjectDn.clientRsa },
      oin: OTHER_OIN,
    });
    const script = [
      'import sys, requests',
      'r = requests.post(sys.argv[1], data={"grant_type": "client_credentials", "client_id": sys.argv[2]},',
      '                  cert=(sys.argv[3], sys.argv[4]), verify=sys.argv[5], timeout=10)',
      'print(r.status_code); print(r.json().get("access_token", r.text))',
    ].join('\n');
    const { stdout } = await run('/usr/bin/python3', [
      '-c',
      script,
      tokenUrl,
      clientId,
      pki.certs.clientRsa.chainPath,
      pki.certs.clientRsa.keyPath,
      pki.anchorsPath,
    ]);
    const [status, token] = stdout.trim().split('\n');
    assert.equal(status, '200');
    assert.equal(decodePart(token!, 1).client_id, clientId);
  });

  it("openid-client's TlsClientAuth through the discovered mtls_endpoint_aliases", async () => {
    // The alias names the same server as `localhost` (its certificate's DNS name), the issuer as 127.0.0.1.
    ts.config.mtlsEndpoint = ts.url.replace('127.0.0.1', 'localhost');
    try {
      const clientId = await client({
        authMethods: ['tls_client_auth'],
        tlsSubject: { field: 'san_dns', value: 'zaaksysteem.testdorp.nl' },
        oin: OIN,
      });
      const seen: string[] = [];
      const certified = fetchWithCertificate(as('client'));
      const fetchVia: typeof certified = (url, options) => (seen.push(url), certified(url, options));
      const config = await oidc.discovery(
        new URL(ts.url),
        clientId,
        { use_mtls_endpoint_aliases: true },
        oidc.TlsClientAuth(),
        { [oidc.customFetch]: fetchVia as oidc.CustomFetch },
      );
      assert.equal(config.serverMetadata().mtls_endpoint_aliases?.token_endpoint, `${ts.config.mtlsEndpoint}/token`);
      for (const method of ['tls_client_auth', 'self_signed_tls_client_auth'])
        assert.ok(config.serverMetadata().token_endpoint_auth_methods_supported?.includes(method), method);
      const tokens = await oidc.clientCredentialsGrant(config);
      assert.equal(decodePart(tokens.access_token, 1).client_id, clientId);
      assert.ok(seen.includes(`${ts.config.mtlsEndpoint}/token`), `token asked at the alias: ${seen.join(', ')}`);
    } finally {
      ts.config.mtlsEndpoint = undefined;
    }
  });

  it('a resumed TLS session (no chain sent again) authenticates with the chain of its full handshake', async () => {
    const clientId = await client({ authMethods: ['tls_client_auth'], oin: OIN });
    // Node's agent caches TLS sessions: each new connection after the first resumes one.
    const agent = new https.Agent({
      keepAlive: false,
      cert: pki.certs.client.chainPem,
      key: pki.certs.client.keyPem,
      ca: pki.rootPem,
    });
    try {
      const resumed: boolean[] = [];
      for (let i = 0; i < 3; i++) {
        const status = await new Promise<number>((resolve, reject) => {
          const body = new URLSearchParams(grant(clientId)).toString();
          const req = https.request(
            tokenUrl,
            {
              method: 'POST',
              agent,
              headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length) },
            },
            (res) => {
              resumed.push((res.socket as TLSSocket).isSessionReused());
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
            },
          );
          req.on('error', reject);
          req.end(body);
        });
        assert.equal(status, 200, `request ${i + 1}`);
      }
      assert.deepEqual(resumed, [false, true, true]);
    } finally {
      agent.destroy();
    }
  });

  it('self_signed_tls_client_auth: a certificate registered as a key (x5c), or by its public key', async () => {
    const store = new KyselyClientStore(ts.app.storage.db);
    const byCert = await client({ authMethods: ['self_signed_tls_client_auth'] });
    const byKey = await client({ authMethods: ['self_signed_tls_client_auth'] });
    const self = pki.certs.selfSigned;
    const t = Date.now();
    const key = (clientId: string, x5c: boolean) => ({
      clientId,
      kid: 'k1',
      thumbprint: 'k1',
      kty: 'EC',
      alg: null,
      publicJwk: { ...(self.jwk as { kty: string }), ...(x5c ? { x5c: self.x5c } : {}) },
      expiresAt: null,
      createdAt: t,
      lastUsedAt: null,
    });
    const expiredKey = await client({ authMethods: ['self_signed_tls_client_auth'] });
    // Registered as the PEM an administrator pastes: a self-signed certificate chains to nothing, and need not.
    await ts.app.clients.addKeys(byCert, self.chainPem, { id: 'test' });
    await store.insertKeys([
      key(byKey, false),
      {
        ...key(expiredKey, true),
        publicJwk: { ...(pki.certs.expired.jwk as { kty: string }), x5c: pki.certs.expired.x5c },
      },
    ]);
    for (const clientId of [byCert, byKey]) {
      const res = await httpsPostForm(tokenUrl, { ...as('selfSigned'), ca: pki.rootPem }, grant(clientId));
      assert.equal(res.status, 200, res.text);
    }
    // Another certificate, even one chaining to the anchors, is none of its keys.
    const res = await httpsPostForm(tokenUrl, as('client'), grant(byCert));
    assert.equal(res.status, 401);
    assert.deepEqual(await failures(byCert), [
      { reason: 'certificate_mismatch', detail: 'the certificate is none of the registered keys' },
    ]);
    // No chain is checked, but a registered certificate past its validity period is refused.
    const expired = await httpsPostForm(tokenUrl, as('expired'), grant(expiredKey));
    assert.equal(expired.status, 401);
    assert.deepEqual(await failures(expiredKey), [
      { reason: 'untrusted_chain', detail: 'certificate outside its validity period' },
    ]);
  });

  it('refuses every bad certificate with invalid_client (401), auditing why', async () => {
    const cases: [CertificateName, string, string][] = [
      ['expired', 'untrusted_chain', 'certificate expired'],
      ['notYetValid', 'untrusted_chain', 'certificate not yet valid'],
      ['revoked', 'untrusted_chain', 'certificate revoked'],
      ['otherRoot', 'untrusted_chain', 'chain does not lead to a trusted root'],
      ['selfSigned', 'untrusted_chain', 'chain does not lead to a trusted root'],
      ['caAsLeaf', 'untrusted_chain', 'a CA certificate is no client certificate'],
      ['noClientAuth', 'untrusted_chain', 'extended key usage lacks clientAuth'],
      ['noDigitalSignature', 'untrusted_chain', 'key usage lacks digitalSignature'],
      ['wrongOin', 'certificate_mismatch', "the certificate does not carry the client's OIN"],
    ];
    for (const [name, reason, detail] of cases) {
      const clientId = await client({ authMethods: ['tls_client_auth'], oin: OIN });
      const res = await httpsPostForm(tokenUrl, as(name), grant(clientId));
      assert.equal(res.status, 401, `${name}: ${res.text}`);
      assert.equal(res.json.error, 'invalid_client', name);
      assert.deepEqual(await failures(clientId), [{ reason, detail }], name);
    }
  });

  it('matches the registered subject identifier: another DNS name or DN is certificate_mismatch', async () => {
    const dns = await client({
      authMethods: ['tls_client_auth'],
      tlsSubject: { field: 'san_dns', value: 'ander.testdorp.nl' },
    });
    const dn = await client({
      authMethods: ['tls_client_auth'],
      tlsSubject: { field: 'subject_dn', value: pki.subjectDn.client.replace('zaaksysteem', 'ander') },
    });
    const none = await client({ authMethods: ['tls_client_auth'] });
    for (const clientId of [dns, dn, none]) {
      const res = await httpsPostForm(tokenUrl, as('client'), grant(clientId));
      assert.equal(res.status, 401);
      assert.equal((await failures(clientId))[0]?.reason, 'certificate_mismatch');
    }
    assert.deepEqual(await failures(none), [
      { reason: 'certificate_mismatch', detail: 'the client has no certificate subject or OIN registered' },
    ]);
  });

  it('refuses registering a blank or unparsable subject DN, which could never name one certificate', async () => {
    for (const value of [' ', 'garbage', '+', 'CN=a,,']) {
      await assert.rejects(
        ts.createClient({ authMethods: ['tls_client_auth'], tlsSubject: { field: 'subject_dn', value } }),
        /tlsSubject: subject_dn/,
        JSON.stringify(value),
      );
    }
    assert.ok(
      await client({
        authMethods: ['tls_client_auth'],
        tlsSubject: { field: 'subject_dn', value: pki.subjectDn.client },
      }),
    );
  });

  it('needs client_id (RFC 8705 §2) and a client registered for a certificate method', async () => {
    const noId = await httpsPostForm(tokenUrl, as('client', '127.0.0.2'), { grant_type: 'client_credentials' });
    assert.equal(noId.status, 401);
    assert.match(noId.json.error_description, /client_id is required with a client certificate/);
    await ts.app.audit.flush(true);
    const unnamed = (await ts.app.audit.list({ action: 'client_auth.failed', reason: 'unknown_client' })).find(
      (e) => e.address === '127.0.0.2',
    );
    assert.match(String(unnamed?.details.detail), /client_id is required with a client certificate/);
    const secretClient = await ts.createClient({ oin: OIN });
    const withSecret = { ...grant(secretClient.clientId), client_secret: secretClient.secret };
    // A secret client's secret works over TLS, with a certificate presented or not.
    assert.equal((await httpsPostForm(tokenUrl, as('client', '127.0.0.2'), withSecret)).status, 200);
    assert.equal(
      (await httpsPostForm(tokenUrl, { ca: pki.rootPem, localAddress: '127.0.0.2' }, withSecret)).status,
      200,
    );
    const res = await httpsPostForm(tokenUrl, as('client', '127.0.0.2'), grant(secretClient.clientId));
    assert.equal(res.status, 401);
    assert.deepEqual(await failures(secretClient.clientId), [{ reason: 'method_not_allowed', detail: undefined }]);
  });

  it('refuses a disabled client whose certificate is right', async () => {
    const clientId = await client({ authMethods: ['tls_client_auth'], oin: OIN });
    await ts.app.clients.update(clientId, { enabled: false }, { id: 'test' });
    const res = await httpsPostForm(tokenUrl, as('client', '127.0.0.5'), grant(clientId));
    assert.equal(res.status, 401);
    assert.deepEqual(await failures(clientId), [{ reason: 'disabled_client', detail: undefined }]);
  });

  it('counts failed certificate authentications in the guessing back-off', async () => {
    const clientId = await client({ authMethods: ['tls_client_auth'], oin: OIN });
    for (let i = 0; i < 5; i++)
      assert.equal((await httpsPostForm(tokenUrl, as('wrongOin', '127.0.0.3'), grant(clientId))).status, 401);
    const blocked = await httpsPostForm(tokenUrl, as('client', '127.0.0.3'), grant(clientId));
    assert.equal(blocked.status, 429);
    assert.equal(blocked.json.error, 'invalid_client');
  });

  it("private_key_jwt with an x5c key: the chain validates to the anchors and carries the client's OIN, at registration and at each use", async () => {
    const keyClient = async (oin: string | null) =>
      (await ts.createClient({ authMethods: ['private_key_jwt'], oin, allowedScopes: [] })).clientId;
    const assertion = (clientId: string, name: CertificateName) => {
      const input = `${b64({ alg: 'ES256', typ: 'JWT' })}.${b64({
        iss: clientId,
        sub: clientId,
        aud: tokenUrl,
        exp: Math.floor(Date.now() / 1000) + 60,
        jti: crypto.randomUUID(),
      })}`;
      const signature = crypto.sign('sha256', Buffer.from(input), {
        key: pki.certs[name].keyPem,
        dsaEncoding: 'ieee-p1363',
      });
      return `${input}.${signature.toString('base64url')}`;
    };
    const withAssertion = (clientId: string, name: CertificateName) =>
      httpsPostForm(
        tokenUrl,
        { ca: pki.rootPem, localAddress: '127.0.0.6' },
        {
          grant_type: 'client_credentials',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion(clientId, name),
        },
      );
    // As a JWK with x5c; the good one as the PEM chain an administrator pastes.
    const register = (clientId: string, name: CertificateName) =>
      ts.app.clients.addKeys(
        clientId,
        JSON.stringify({ keys: [{ ...pki.certs[name].jwk, x5c: pki.certs[name].x5c }] }),
        {
          id: 'test',
        },
      );

    const good = await keyClient(OIN);
    await ts.app.clients.addKeys(good, pki.certs.client.chainPem, { id: 'test' });
    const ok = await withAssertion(good, 'client');
    assert.equal(ok.status, 200, ok.text);

    // Refused when registered: an expired chain, another root, another OIN.
    await assert.rejects(register(await keyClient(OIN), 'expired'), /certificate expired/);
    await assert.rejects(register(await keyClient(null), 'otherRoot'), /chain does not lead to a trusted root/);
    await assert.rejects(register(await keyClient(OIN), 'wrongOin'), /does not carry the client's OIN/);
    // A bare key proves no OIN: refused when registered for a client with an OIN, fine without one.
    const plain = await keyClient(OIN);
    await assert.rejects(
      ts.app.clients.addKeys(plain, JSON.stringify({ keys: [pki.certs.client.jwk] }), { id: 'test' }),
      /accepted only with a key whose x5c certificate chain validates and carries the OIN/,
    );
    const noOin = await keyClient(null);
    await ts.app.clients.addKeys(noOin, JSON.stringify({ keys: [pki.certs.client.jwk] }), { id: 'test' });
    assert.equal((await withAssertion(noOin, 'client')).status, 200);

    // Checked again at each use: a key stored before its certificate was revoked (or by another path).
    const store = new KyselyClientStore(ts.app.storage.db);
    const revoked = await keyClient(OIN);
    await store.insertKeys([
      {
        clientId: revoked,
        kid: 'k1',
        thumbprint: 'k1',
        kty: 'EC',
        alg: null,
        publicJwk: { ...(pki.certs.revoked.jwk as { kty: string }), x5c: pki.certs.revoked.x5c },
        expiresAt: null,
        createdAt: Date.now(),
        lastUsedAt: null,
      },
    ]);
    const refused = await withAssertion(revoked, 'revoked');
    assert.equal(refused.status, 401);
    assert.deepEqual(await failures(revoked), [{ reason: 'untrusted_chain', detail: 'certificate revoked' }]);
    // A bare key stored for a client with an OIN (before this rule, or by another path) is refused at use.
    await store.insertKeys([
      {
        clientId: plain,
        kid: 'k1',
        thumbprint: 'k1',
        kty: 'EC',
        alg: null,
        publicJwk: pki.certs.client.jwk as { kty: string },
        expiresAt: null,
        createdAt: Date.now(),
        lastUsedAt: null,
      },
    ]);
    assert.equal((await withAssertion(plain, 'client')).status, 401);
    assert.deepEqual(await failures(plain), [{ reason: 'certificate_mismatch', detail: OIN_NEEDS_CERTIFICATE }]);
  });

  it('an OIN added later through the admin API: kept when the keys carry it, refused as key registration is when not', async () => {
    const noCert = { ca: pki.rootPem };
    const adminToken = (
      await httpsPostForm(tokenUrl, noCert, {
        grant_type: 'client_credentials',
        client_id: ts.admin.clientId,
        client_secret: ts.admin.secret,
      })
    ).json.access_token as string;
    const admin = (method: string, path: string, body: unknown) =>
      httpsRequest(`${ts.url}/admin${path}`, noCert, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const certified = await client({ authMethods: ['private_key_jwt'] });
    assert.equal((await admin('POST', `/clients/${certified}/keys`, { pem: pki.certs.client.chainPem })).status, 201);
    const kept = await admin('PATCH', `/clients/${certified}`, { oin: OIN });
    assert.equal(kept.status, 200, kept.text);
    assert.equal(kept.json.client.oin, OIN);
    const other = await admin('PATCH', `/clients/${certified}`, { oin: OTHER_OIN });
    assert.equal(other.status, 400, other.text);
    assert.equal(other.json.code, 'invalid_input');
    assert.equal(other.json.invalidParams[0].name, 'oin');
    assert.match(other.json.detail, /does not carry the client's OIN/);

    const bare = await client({ authMethods: ['private_key_jwt'] });
    const jwk = { keys: [pki.certs.client.jwk] };
    assert.equal((await admin('POST', `/clients/${bare}/keys`, { jwks: jwk })).status, 201);
    const added = await admin('PATCH', `/clients/${bare}`, { oin: OIN, name: 'with an OIN' });
    assert.equal(added.status, 400, added.text);
    assert.match(added.json.detail, /has no x5c/);
    assert.equal((await ts.app.clients.get(bare)).oin, null, 'nothing changed');
    // Registering that key for a client that has the OIN is refused with the same code.
    const withOin = await client({ authMethods: ['private_key_jwt'], oin: OIN });
    const refused = await admin('POST', `/clients/${withOin}/keys`, { jwks: jwk });
    assert.deepEqual([refused.status, refused.json.code], [added.status, added.json.code]);
  });

  it('authenticates at /introspect and /revoke with the certificate as well', async () => {
    const clientId = await client({
      authMethods: ['tls_client_auth'],
      oin: OIN,
      allowedScopes: ['zgw-auth:introspect'],
    });
    const at = (name: CertificateName) => as(name, '127.0.0.4');
    const token = (await httpsPostForm(tokenUrl, at('client'), { ...grant(clientId), scope: 'zgw-auth:introspect' }))
      .json.access_token as string;
    const introspected = await httpsPostForm(`${ts.url}/introspect`, at('client'), { client_id: clientId, token });
    assert.equal(introspected.status, 200, introspected.text);
    assert.equal(introspected.json.active, true);
    const revoked = await httpsPostForm(`${ts.url}/revoke`, at('client'), { client_id: clientId, token });
    assert.equal(revoked.status, 200, revoked.text);
    const bad = await httpsPostForm(`${ts.url}/introspect`, at('expired'), { client_id: clientId, token });
    assert.equal(bad.status, 401);
  });
});

describe('ZGW_AUTH_TLS_CLIENT_CERT=required', () => {
  let pki: TestPki;
  let ts: TestServer;
  before(async () => {
    pki = makeTestPki();
    ts = await startTestServer({
      env: {
        ZGW_AUTH_TLS_CERT: pki.certs.server.chainPath,
        ZGW_AUTH_TLS_KEY: pki.certs.server.keyPath,
        ZGW_AUTH_TLS_CLIENT_CA: pki.anchorsPath,
        ZGW_AUTH_TLS_CLIENT_CERT: 'required',
        ZGW_AUTH_TLS_CRL: pki.crlPath,
      },
    });
  });
  after(async () => {
    await ts?.close();
    pki?.remove();
  });

  it('ends the handshake without a certificate or with one of another root; the chain is still checked after it', async () => {
    const clientId = (await ts.createClient({ authMethods: ['tls_client_auth'], oin: OIN })).clientId;
    const form = { grant_type: 'client_credentials', client_id: clientId };
    const ok = await httpsPostForm(
      `${ts.url}/token`,
      { cert: pki.certs.client.chainPem, key: pki.certs.client.keyPem, ca: pki.rootPem },
      form,
    );
    assert.equal(ok.status, 200);
    await assert.rejects(httpsPostForm(`${ts.url}/token`, { ca: pki.rootPem }, form));
    await assert.rejects(
      httpsPostForm(
        `${ts.url}/token`,
        { cert: pki.certs.otherRoot.chainPem, key: pki.certs.otherRoot.keyPem, ca: pki.rootPem },
        form,
      ),
    );
    // OpenSSL passes a revoked certificate (zgw-auth does the CRL): refused as a client, not as a connection.
    const revoked = await httpsPostForm(
      `${ts.url}/token`,
      { cert: pki.certs.revoked.chainPem, key: pki.certs.revoked.keyPem, ca: pki.rootPem },
      form,
    );
    assert.equal(revoked.status, 401);
  });
});

describe('TLS settings', () => {
  it('refuse half or contradicting settings at start, naming the setting', () => {
    assert.throws(() => loadConfig({ ZGW_AUTH_TLS_CERT: '/x.pem' }), /both ZGW_AUTH_TLS_CERT and ZGW_AUTH_TLS_KEY/);
    assert.throws(() => loadConfig({ ZGW_AUTH_TLS_CLIENT_CERT: 'optional' }), /needs HTTPS/);
    assert.throws(
      () => loadConfig({ ZGW_AUTH_TLS_CERT: '/x', ZGW_AUTH_TLS_KEY: '/y', ZGW_AUTH_TLS_CLIENT_CERT: 'required' }),
      /needs ZGW_AUTH_TLS_CLIENT_CA/,
    );
    assert.throws(() => loadConfig({ ZGW_AUTH_TLS_CLIENT_CERT: 'maybe' }), /one of off, optional, required/);
    assert.throws(() => loadConfig({ ZGW_AUTH_TLS_CRL: '/x.crl' }), /ZGW_AUTH_TLS_CRL needs ZGW_AUTH_TLS_CLIENT_CA/);
    assert.throws(() => loadConfig({ ZGW_AUTH_CLIENT_CERT_HEADER: 'client-cert' }), /needs ZGW_AUTH_TRUST_PROXY/);
    // A hop count would believe the header from any direct peer, a client past the proxy included.
    assert.throws(
      () => loadConfig({ ZGW_AUTH_CLIENT_CERT_HEADER: 'client-cert', ZGW_AUTH_TRUST_PROXY: '1' }),
      /list the proxies' addresses/,
    );
    assert.throws(
      () => loadConfig({ ZGW_AUTH_CLIENT_CERT_HEADER: 'authorization', ZGW_AUTH_TRUST_PROXY: '127.0.0.1' }),
      /header name/,
    );
    assert.throws(() => loadConfig({ ZGW_AUTH_MTLS_ENDPOINT: 'http://mtls.example' }), /https URL/);
    const c = loadConfig({ ZGW_AUTH_TLS_CERT: '/x', ZGW_AUTH_TLS_KEY: '/y', ZGW_AUTH_PORT: '8443' });
    assert.equal(c.issuer, 'https://127.0.0.1:8443');
  });

  it('an unreadable bundle or a CRL that is no CRL stops the start with its name', async () => {
    const pki = makeTestPki();
    try {
      await assert.rejects(
        startTestServer({ env: { ZGW_AUTH_TLS_CLIENT_CA: '/nonexistent/ca.pem' } }),
        /ZGW_AUTH_TLS_CLIENT_CA \/nonexistent\/ca.pem cannot be read: ENOENT/,
      );
      const notCrl = `${pki.dir}/not.crl`;
      fs.writeFileSync(notCrl, crypto.randomBytes(40));
      await assert.rejects(
        startTestServer({ env: { ZGW_AUTH_TLS_CLIENT_CA: pki.anchorsPath, ZGW_AUTH_TLS_CRL: notCrl } }),
        new RegExp(`CRL ${notCrl}:`),
      );
    } finally {
      pki.remove();
    }
  });
});
