/**
 * The verifier README's Autorisaties API example as an API outside this repository runs it: the
 * package packed from the checkout and installed into an empty project, the README's code block
 * saved as zaken.mjs and run with node against a real zgw-auth whose applicaties are made through
 * its Autorisaties API; zgw-auth's notifications reach the example through a stand-in Notificaties
 * API that forwards them, as an abonnement would.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { eventually, type HttpResult, RealClock, request, startTestServer, type TestServer } from './helpers.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const EXAMPLE = path.join(ROOT, 'examples/zaken-api-autorisaties.mjs');
const PACKAGE_README = fs.readFileSync(path.join(ROOT, 'packages/verifier/README.md'), 'utf8');
const BASE = '/autorisaties/api/v1';
const ZAAKTYPE = 'https://catalogi.example.nl/api/v1/zaaktypen';
const ABONNEMENT_AUTH = `Bearer ${crypto.randomBytes(18).toString('base64url')}`;

/** The first ```js block after `heading`. */
function exampleBlock(markdown: string, heading: string): string {
  const section = markdown.slice(Math.max(0, markdown.indexOf(heading)));
  const block = /^```js\n([\s\S]*?)^```$/m.exec(section)?.[1];
  assert.ok(block, `no js block after "${heading}"`);
  return block;
}

/** A Notificaties API reduced to one abonnement: what zgw-auth publishes is forwarded to `callback`. */
class Forwarder {
  callback = '';
  forwarded: Array<{ actie: string; resourceUrl: string; status: number }> = [];
  private server: http.Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const p = new URL(req.url ?? '/', 'http://x').pathname;
        const send = (status: number, value: unknown) =>
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
        if (req.method === 'GET' && p === '/api/v1/kanaal') send(200, [{ naam: 'autorisaties' }]);
        else if (req.method === 'POST' && p === '/api/v1/notificaties') {
          const message = JSON.parse(body) as { actie: string; resourceUrl: string };
          // Forwarded before the answer: delivered to the subscriber, as the NRC does.
          void request(this.callback, {
            method: 'POST',
            headers: { authorization: ABONNEMENT_AUTH, 'content-type': 'application/json' },
            body,
          }).then(
            (r) => {
              this.forwarded.push({ ...message, status: r.status });
              send(201, message);
            },
            () => send(503, {}),
          );
        } else send(201, {});
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/v1`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => (this.server ? this.server.close(r) : r(undefined)));
  }
}

describe("the verifier README's Autorisaties API example, installed outside the repository", () => {
  let ts: TestServer;
  let project: string;
  let api: ReturnType<typeof spawn> | undefined;
  const nrc = new Forwarder();

  before(async () => {
    await nrc.start();
    ts = await startTestServer({
      clock: new RealClock(),
      env: {
        ZGW_AUTH_NOTIFICATIONS_URL: nrc.url,
        ZGW_AUTH_NOTIFICATIONS_CLIENT_ID: 'zgw-auth',
        ZGW_AUTH_NOTIFICATIONS_SECRET: crypto.randomBytes(24).toString('base64url'),
        ZGW_AUTH_NOTIFICATIONS_RETRY_MAX: '1',
      },
    });
    ts.app.notifications!.start();
    project = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-auth-ac-api-'));
  });
  after(async () => {
    if (api && api.exitCode === null) {
      const exited = new Promise((r) => api!.once('exit', r));
      api.kill();
      await exited;
    }
    await ts.close();
    await nrc.stop();
    fs.rmSync(project, { recursive: true, force: true });
  });

  it('is examples/zaken-api-autorisaties.mjs, word for word', () => {
    assert.equal(
      exampleBlock(PACKAGE_README, '## Who may do what: the Autorisaties API'),
      fs.readFileSync(EXAMPLE, 'utf8'),
    );
  });

  it('runs as written: lists and reads what the applicatie allows, 403 Fout otherwise, changes seen via notifications', async () => {
    const admin = await ts.token(ts.admin.clientId, ts.admin.secret);
    const ac = async (method: string, p: string, body?: unknown): Promise<HttpResult> => {
      const res = await request(`${ts.url}${BASE}${p}`, {
        method,
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      assert.ok(res.status < 300, res.text);
      return res;
    };
    // The API's own client reads the AC; the caller may read bouwvergunningen up to openbaar.
    const self = await ts.createClient();
    await ac('POST', '/applicaties', {
      clientIds: [self.clientId],
      label: 'Zaken API',
      autorisaties: [{ component: 'ac', scopes: ['autorisaties.lezen'] }],
    });
    const caller = await ts.createClient({ allowedScopes: ['zaken.lezen'] });
    const made = await ac('POST', '/applicaties', {
      clientIds: [caller.clientId],
      label: 'Zaaksysteem',
      autorisaties: [
        {
          component: 'zrc',
          scopes: ['zaken.lezen'],
          zaaktype: `${ZAAKTYPE}/bouwvergunning`,
          maxVertrouwelijkheidaanduiding: 'openbaar',
        },
      ],
    });
    const uuid = (made.json.url as string).split('/').pop();

    const { stdout: packed } = await run(
      'npm',
      ['pack', './packages/verifier', '--pack-destination', project, '--silent'],
      { cwd: ROOT },
    );
    const tarball = path.join(project, packed.trim().split('\n').at(-1)!);
    fs.writeFileSync(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'zaken-api', private: true, type: 'module' }),
    );
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: project });
    fs.writeFileSync(
      path.join(project, 'zaken.mjs'),
      exampleBlock(PACKAGE_README, '## Who may do what: the Autorisaties API'),
    );

    api = spawn(process.execPath, ['zaken.mjs'], {
      cwd: project,
      env: {
        ...process.env,
        ZGW_AUTH_ISSUER: ts.config.issuer,
        ZAKEN_API_CLIENT_ID: self.clientId,
        ZAKEN_API_SECRET: self.secret,
        NOTIFICATIES_AUTH: ABONNEMENT_AUTH,
        PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    api.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    api.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const base = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the example did not start within 15 s:\n${output}`)), 15_000);
      api!.stdout!.on('data', () => {
        const m = /Zaken API on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      api!.once('exit', (code) => reject(new Error(`the example exited ${code}:\n${output}`)));
    });
    nrc.callback = `${base}/notificaties`;

    const token = await ts.token(caller.clientId, caller.secret);
    const get = (p: string) => request(`${base}${p}`, { headers: { authorization: `Bearer ${token}` } });
    const list = await get('/zaken/api/v1/zaken');
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(
      list.json.results.map((z: { uuid: string }) => z.uuid),
      ['1'],
    );
    assert.equal((await get('/zaken/api/v1/zaken/1')).status, 200);
    for (const p of ['/zaken/api/v1/zaken/2', '/zaken/api/v1/zaken/3']) {
      const refused = await get(p);
      assert.equal(refused.status, 403, refused.text);
      assert.equal(refused.json.code, 'permission_denied');
      assert.equal(refused.json.title, 'Je hebt geen toestemming om deze actie uit te voeren.');
    }
    assert.equal((await request(`${base}/zaken/api/v1/zaken`)).status, 401);

    // The applicatie now reaches geheim: zgw-auth notifies, the abonnement delivers, the next request sees it.
    await ac('PATCH', `/applicaties/${uuid}`, {
      autorisaties: [
        {
          component: 'zrc',
          scopes: ['zaken.lezen'],
          zaaktype: `${ZAAKTYPE}/bouwvergunning`,
          maxVertrouwelijkheidaanduiding: 'geheim',
        },
      ],
    });
    assert.ok(
      await eventually(async () => nrc.forwarded.some((f) => f.actie === 'partial_update' && f.status === 204), 30_000),
      JSON.stringify(nrc.forwarded),
    );
    assert.equal((await get('/zaken/api/v1/zaken/2')).status, 200);
    assert.deepEqual(
      (await get('/zaken/api/v1/zaken')).json.results.map((z: { uuid: string }) => z.uuid),
      ['1', '2'],
    );
    // A notification without the abonnement's auth is refused.
    const forged = await request(`${base}/notificaties`, { method: 'POST', body: '{}' });
    assert.equal(forged.status, 403);
  });
});
