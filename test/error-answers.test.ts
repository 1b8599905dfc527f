import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { basicAuth, type HttpResult, postForm, request, startTestServer, type TestServer } from './helpers.js';

/** Every refusal in the wire format of the endpoint that gives it: RFC 6749 JSON at the OAuth endpoints, RFC 9457 problems at /admin. */
describe('error answers per wire format', () => {
  let ts: TestServer;
  let adminToken: string;
  const admin = (method: string, path: string, body?: string, contentType = 'application/json') =>
    request(`${ts.url}/admin${path}`, {
      method,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(body !== undefined ? { 'content-type': contentType } : {}),
      },
      ...(body !== undefined ? { body } : {}),
    });

  /** Another connection holds SQLite's write lock: writes wait out the busy timeout and fail. */
  const withWriteLock = async <T>(fn: () => Promise<T>): Promise<T> => {
    const lock = new SQLite(ts.app.storage.location.replace(/^sqlite:/, ''));
    lock.exec('BEGIN EXCLUSIVE');
    try {
      return await fn();
    } finally {
      lock.exec('ROLLBACK');
      lock.close();
    }
  };

  const oauthError = (res: HttpResult, status: number, error: string, description: string) => {
    assert.equal(res.status, status, res.text);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers.pragma, 'no-cache');
    assert.deepEqual(res.json, { error, error_description: description });
  };

  const problem = (res: HttpResult, status: number, code: string, title: string, detail?: string) => {
    assert.equal(res.status, status, res.text);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    assert.equal(res.json.type, `urn:zgw-auth:error:${code}`);
    assert.equal(res.json.code, code);
    assert.equal(res.json.title, title);
    assert.equal(res.json.status, status);
    if (detail !== undefined) assert.equal(res.json.detail, detail);
  };

  before(async () => {
    ts = await startTestServer();
    adminToken = await ts.token(ts.admin.clientId, ts.admin.secret);
  });
  after(() => ts.close());

  describe('OAuth endpoints (RFC 6749 §5.2)', () => {
    it('a content type other than a form: invalid_request, 400', async () => {
      const res = await request(`${ts.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      oauthError(
        res,
        400,
        'invalid_request',
        'unsupported content type: use application/x-www-form-urlencoded or multipart/form-data',
      );
    });

    it('a body over the bound: invalid_request, 413', async () => {
      const res = await postForm(`${ts.url}/introspect`, { token: 'x'.repeat(20_000) });
      oauthError(res, 413, 'invalid_request', 'request body too large');
    });

    it('a wrong secret: invalid_client, 401, with a Basic challenge only when sent with HTTP Basic', async () => {
      const c = await ts.createClient();
      const res = await postForm(`${ts.url}/revoke`, {
        token: 'x',
        client_id: c.clientId,
        client_secret: `${c.secret}x`,
      });
      oauthError(res, 401, 'invalid_client', 'client authentication failed');
      assert.equal(res.headers['www-authenticate'], undefined);
      const basic = await postForm(
        `${ts.url}/revoke`,
        { token: 'x' },
        { authorization: basicAuth(c.clientId, `${c.secret}x`) },
      );
      oauthError(basic, 401, 'invalid_client', 'client authentication failed');
      assert.equal(basic.headers['www-authenticate'], 'Basic realm="zgw-auth", charset="UTF-8"');
    });

    it('the database unable to write: temporarily_unavailable, 503, Retry-After 1, no driver detail', async () => {
      const c = await ts.createClient();
      const token = await ts.token(c.clientId, c.secret);
      const res = await withWriteLock(() =>
        postForm(`${ts.url}/revoke`, { token, client_id: c.clientId, client_secret: c.secret }),
      );
      oauthError(res, 503, 'temporarily_unavailable', 'the service is temporarily unavailable; retry shortly');
      assert.equal(res.headers['retry-after'], '1');
      assert.doesNotMatch(res.text, /SQLITE|busy|locked/i);
      assert.equal(
        (await postForm(`${ts.url}/revoke`, { token, client_id: c.clientId, client_secret: c.secret })).status,
        200,
        'revoked once the lock is gone',
      );
    });
  });

  describe('admin API (RFC 9457)', () => {
    it('a content type other than JSON: unsupported_media_type, 415', async () => {
      problem(
        await admin('POST', '/clients', 'rsin=000000000', 'application/x-www-form-urlencoded'),
        415,
        'unsupported_media_type',
        'Unsupported media type',
        'send application/json',
      );
    });

    it('a body over the bound: body_too_large, 413', async () => {
      problem(
        await admin('POST', '/clients', JSON.stringify({ rsin: '000000000', description: 'x'.repeat(70_000) })),
        413,
        'body_too_large',
        'Body too large',
        'request body too large',
      );
    });

    it('JSON that does not parse: bad_request with its status', async () => {
      problem(await admin('POST', '/clients', '{"rsin":'), 400, 'bad_request', 'Bad request');
    });

    it('a field the schema refuses, and one the registry refuses (named in invalidParams): invalid_input, 400', async () => {
      problem(
        await admin('POST', '/clients', JSON.stringify({ rsin: '000000000', colour: 'blue' })),
        400,
        'invalid_input',
        'Invalid input',
      );
      const rsin = await admin('POST', '/clients', JSON.stringify({ rsin: '123456789' }));
      problem(rsin, 400, 'invalid_input', 'Invalid input');
      assert.deepEqual(
        rsin.json.invalidParams.map((p: { name: string }) => p.name),
        ['rsin'],
      );
    });

    it('an unknown client: not_found, 404; a client id taken: conflict, 409', async () => {
      problem(
        await admin('GET', '/clients/no-such-client'),
        404,
        'not_found',
        'Not found',
        'client "no-such-client" does not exist',
      );
      const c = await ts.createClient();
      problem(
        await admin('POST', '/clients', JSON.stringify({ clientId: c.clientId, rsin: '000000000' })),
        409,
        'conflict',
        'Conflict',
        `client "${c.clientId}" already exists`,
      );
    });

    it('the database unable to write: unavailable, 503, Retry-After 1', async () => {
      const res = await withWriteLock(() => admin('POST', '/clients', JSON.stringify({ rsin: '000000000' })));
      problem(res, 503, 'unavailable', 'Service unavailable', 'the database is unreachable; retry shortly');
      assert.equal(res.headers['retry-after'], '1');
      assert.equal(
        (await admin('POST', '/clients', JSON.stringify({ rsin: '000000000' }))).status,
        201,
        'created once the lock is gone',
      );
    });
  });
});
