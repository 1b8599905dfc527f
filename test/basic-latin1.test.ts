/**
 * HTTP Basic as Python sends it: requests (and requests-oauthlib and authlib, which use its
 * HTTPBasicAuth) encode the id and secret as Latin-1, raw, not form-encoded. Run with Debian's
 * python3-requests against a real server.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { basicAuth, forEachDialect, postForm, startTestServer, type TestServer } from './helpers.js';

const run = promisify(execFile);

/** One token request with requests' `auth=(id, secret)`; the status and the JSON answer. */
const PYTHON = `
import json, os, requests
r = requests.post(os.environ["URL"], data={"grant_type": "client_credentials"}, auth=(os.environ["ID"], os.environ["SECRET"]), timeout=10)
print(json.dumps({"status": r.status_code, "body": r.json()}))
`;

async function pythonToken(
  url: string,
  id: string,
  secret: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const { stdout } = await run('python3', ['-c', PYTHON], {
    env: { ...process.env, URL: url, ID: id, SECRET: secret },
    timeout: 20_000,
  });
  return JSON.parse(stdout) as { status: number; body: Record<string, unknown> };
}

/** The Basic header exactly as requests builds it: `id:secret` in Latin-1, base64. */
const latin1Basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`, 'latin1').toString('base64')}`;

forEachDialect((dialect) => {
  describe(`HTTP Basic in Latin-1, as Python requests sends it (${dialect})`, () => {
    let ts: TestServer;
    const secrets = { accents: 'ëüéßçñØ-Zaaksysteem-2026', plusPercent: 'ëü+é%ßçñØ-Zaaksysteem-2026' };
    const clients: Record<keyof typeof secrets, string> = { accents: '', plusPercent: '' };

    before(async () => {
      ts = await startTestServer({ dialect, env: { ZGW_AUTH_LOCKOUT_THRESHOLD: '2' } });
      for (const key of Object.keys(secrets) as Array<keyof typeof secrets>) {
        const { clientId } = await ts.createClient({ rsin: '123456782' });
        await ts.app.clients.addSecret(clientId, { value: secrets[key], label: 'latin-1' }, { id: 'test' });
        clients[key] = clientId;
      }
    });
    after(() => ts.close());

    it('issues a token for a secret outside ASCII sent by python3-requests, as it does for curl and form posts', async () => {
      const python = await pythonToken(`${ts.url}/token`, clients.accents, secrets.accents);
      assert.equal(python.status, 200, JSON.stringify(python.body));
      assert.equal(python.body.token_type, 'Bearer');
      const utf8 = await postForm(
        `${ts.url}/token`,
        { grant_type: 'client_credentials' },
        { authorization: basicAuth(clients.accents, secrets.accents) },
      );
      assert.equal(utf8.status, 200);
      const form = await postForm(`${ts.url}/token`, {
        grant_type: 'client_credentials',
        client_id: clients.accents,
        client_secret: secrets.accents,
      });
      assert.equal(form.status, 200);
    });

    it('reads a Latin-1 secret holding + and % raw, as Python sends it', async () => {
      const python = await pythonToken(`${ts.url}/token`, clients.plusPercent, secrets.plusPercent);
      assert.equal(python.status, 200, JSON.stringify(python.body));
    });

    it('refuses a wrong Latin-1 secret as invalid_client, counted as one attempt in the back-off', async () => {
      // Threshold 2: were the Latin-1 reading a second attempt, this one failure would back the client off.
      const wrong = await postForm(
        `${ts.url}/token`,
        { grant_type: 'client_credentials' },
        { authorization: latin1Basic(clients.plusPercent, `${secrets.plusPercent}ÿ`) },
      );
      assert.equal(wrong.status, 401);
      assert.equal(wrong.json.error, 'invalid_client');
      const right = await postForm(
        `${ts.url}/token`,
        { grant_type: 'client_credentials' },
        { authorization: latin1Basic(clients.plusPercent, secrets.plusPercent) },
      );
      assert.equal(right.status, 200, right.text);
    });
  });
});
