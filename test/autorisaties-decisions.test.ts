import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import Fastify from 'fastify';
import { parse as parseYaml } from 'yaml';
import {
  autorisatieHook,
  type Autorisaties,
  AutorisatieRefused,
  type ClientRecord,
  createAutorisaties,
  createVerifier,
  type Principal,
  remoteApplicaties,
  type RemoteApplicaties,
  requireAutorisatie,
  requireToken,
  VERTROUWELIJKHEIDAANDUIDINGEN,
  type Verifier,
  zgwAuthFastify,
} from '@zgw-auth/verifier';
import { registryApplicaties } from '../src/autorisaties/registry-applicaties.js';
import {
  eventually,
  firstAdminSecret,
  freshPostgres,
  hs256,
  postForm,
  request,
  startServeProcess,
  startTestServer,
} from './helpers.js';

/**
 * The decision `@zgw-auth/verifier` makes for a ZGW API, against real zgw-auth processes: the
 * applicaties are made through zgw-auth's Autorisaties API, the tokens come from its /token (or
 * are self-signed), and the verifier reads the applicaties back from the AC over HTTP, kept fresh
 * by the notifications zgw-auth publishes. (packages/verifier/test has the source's behaviour
 * against hostile answers and the list filter's agreement with the decision on any applicatie.)
 */
type Proc = Awaited<ReturnType<typeof startServeProcess>>;
const BASE = '/autorisaties/api/v1';
const ZT = (n: number) => `https://catalogi.example/api/v1/zaaktypen/${n}`;
const IOT = (n: number) => `https://catalogi.example/api/v1/informatieobjecttypen/${n}`;
const BT = (n: number) => `https://catalogi.example/api/v1/besluittypen/${n}`;
const LEVELS = VERTROUWELIJKHEIDAANDUIDINGEN;
const NOTIFY_SECRET = crypto.randomBytes(24).toString('base64url');
/** Bounded waits for what a process does in its own time: generous, never asserted as durations. */
const WAIT = 30_000;
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-acdecide-'));

/** The standard's `Fout` (the AC's OpenAPI, test/fixtures): what a refusal must look like. */
const SPEC = parseYaml(
  fs.readFileSync(
    path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/autorisaties-api-1.0.0.yaml'),
    'utf8',
  ),
) as { components: { schemas: { Fout: object } } };
const foutSchema = new Ajv({ strict: false, allErrors: true }).compile(SPEC.components.schemas.Fout);
const isFout = (body: unknown): boolean => foutSchema(body);

/**
 * A Notificaties API as far as zgw-auth publishes to it (kanaal registration, notifications); each
 * notification is handed to the listeners at once, as an API's notification endpoint would.
 */
class Receiver {
  received: Array<{ kanaal: string; resourceUrl: string; actie: string }> = [];
  listeners: Array<(body: unknown) => void> = [];
  private server: http.Server | undefined;
  private kanalen: unknown[] = [];
  url = '';

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const send = (status: number, value: unknown) =>
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
        const p = new URL(req.url ?? '/', 'http://x').pathname;
        if (req.method === 'GET' && p === '/api/v1/kanaal') send(200, this.kanalen);
        else if (req.method === 'POST' && p === '/api/v1/kanaal') {
          this.kanalen.push(JSON.parse(body));
          send(201, JSON.parse(body));
        } else if (req.method === 'POST' && p === '/api/v1/notificaties') {
          const message = JSON.parse(body) as Receiver['received'][number];
          for (const listener of this.listeners) listener(message);
          this.received.push(message);
          send(201, message);
        } else send(404, {});
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/v1`;
  }

  arrived(url: string, actie: string): boolean {
    const uuid = url.split('/').pop();
    return this.received.some((m) => m.resourceUrl.endsWith(`/${uuid}`) && m.actie === actie);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => (this.server ? this.server.close(r) : r(undefined)));
  }
}

const notifying = (receiver: Receiver) => ({
  ZGW_AUTH_NOTIFICATIONS_URL: receiver.url,
  ZGW_AUTH_NOTIFICATIONS_CLIENT_ID: 'zgw-auth',
  ZGW_AUTH_NOTIFICATIONS_SECRET: NOTIFY_SECRET,
  ZGW_AUTH_NOTIFICATIONS_RETRY_MAX: '1',
});

/** A zgw-auth process seen from outside: its admin API, its AC and its token endpoint. */
class Zgw {
  private adminToken: string | undefined;

  constructor(
    readonly proc: Proc,
    readonly admin: { clientId: string; secret: string },
  ) {}

  get url() {
    return this.proc.url;
  }

  async token(clientId: string, secret: string): Promise<string> {
    const res = await postForm(`${this.url}/token`, {
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: secret,
    });
    assert.equal(res.status, 200, res.text);
    return res.json.access_token as string;
  }

  private async call(method: string, url: string, body?: unknown) {
    this.adminToken ??= await this.token(this.admin.clientId, this.admin.secret);
    return request(`${this.url}${url}`, {
      method,
      headers: {
        authorization: `Bearer ${this.adminToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  async client(clientId: string, extra: Record<string, unknown> = {}) {
    const res = await this.call('POST', '/admin/clients', { clientId, rsin: '000000000', ...extra });
    assert.equal(res.status, 201, res.text);
    return { clientId, secret: res.json.secret.value as string };
  }

  /** A new applicatie through the Autorisaties API; its URL. */
  async applicatie(clientIds: string[], fields: Record<string, unknown>): Promise<string> {
    const res = await this.call('POST', `${BASE}/applicaties`, { clientIds, label: clientIds.join(' '), ...fields });
    assert.equal(res.status, 201, res.text);
    return res.json.url as string;
  }

  async change(url: string, method: 'PATCH' | 'DELETE', body?: unknown) {
    const res = await this.call(method, `${BASE}/applicaties/${url.split('/').pop()}`, body);
    assert.ok(res.status === 200 || res.status === 204, res.text);
  }
}

async function startZgw(env: Record<string, string>): Promise<Zgw> {
  const proc = await startServeProcess(tempDir(), env);
  return new Zgw(proc, { clientId: 'zgw-auth-admin', secret: firstAdminSecret(proc.output())! });
}

/** The issuer a process's discovery names, for a verifier of its tokens. */
async function verifierOf(zgw: Zgw, clients?: Map<string, ClientRecord>): Promise<Verifier> {
  const issuer = (await request(`${zgw.url}/.well-known/openid-configuration`)).json.issuer as string;
  return createVerifier({
    issuer,
    jwksUri: `${zgw.url}/jwks`,
    // Self-signing clients from the map; every other client id is one zgw-auth issued tokens to.
    ...(clients
      ? {
          clients: (id: string) =>
            clients.get(id) ?? {
              clientId: id,
              rsin: '000000000',
              enabled: true,
              selfSignedAllowed: false,
              secrets: [],
            },
        }
      : {}),
  });
}

/** The ZGW API's own client: it reads the AC (an `ac` autorisatie with autorisaties.lezen). */
async function apiClient(zgw: Zgw, clientId: string) {
  const api = await zgw.client(clientId, { selfSignedAllowed: true });
  await zgw.applicatie([clientId], { autorisaties: [{ component: 'ac', scopes: ['autorisaties.lezen'] }] });
  return api;
}

describe('the ZGW decision against a real zgw-auth (SQLite, one process)', () => {
  const receiver = new Receiver();
  let zgw: Zgw;
  let verifier: Verifier;
  let applicaties: RemoteApplicaties;
  let autorisaties: Autorisaties;
  const refusedFor: string[] = [];
  const selfSigning = new Map<string, ClientRecord>();
  const principals = new Map<string, Principal>();

  /** The principal of a token zgw-auth issued to the client (a self-signed one for `self`). */
  const who = (name: string) => principals.get(name)!;
  const urls = new Map<string, string>();

  before(async () => {
    await receiver.start();
    zgw = await startZgw(notifying(receiver));
    const api = await apiClient(zgw, 'zaken-api');
    applicaties = remoteApplicaties({
      url: `${zgw.url}${BASE}`,
      credentials: { selfSigned: { clientId: api.clientId, secret: api.secret } },
      onError: (err) => refusedFor.push(err.message),
    });
    receiver.listeners.push((body) => applicaties.notified(body));
    autorisaties = createAutorisaties({ applicaties });

    // The matrix's applicatie: zaaktype k reaches level k (read); zaaktype 7 also bijwerken up to intern.
    const clients: Record<string, { clientId: string; secret: string }> = {};
    for (const name of ['behandelaar', 'alles', 'publicatie', 'zonder', 'wisselend'])
      clients[name] = await zgw.client(`c-${name}`);
    clients.self = await zgw.client('c-self', { selfSignedAllowed: true });
    selfSigning.set('c-self', {
      clientId: 'c-self',
      rsin: '000000000',
      enabled: true,
      selfSignedAllowed: true,
      secrets: [clients.self.secret],
    });
    urls.set(
      'behandelaar',
      await zgw.applicatie(['c-behandelaar'], {
        autorisaties: [
          ...LEVELS.map((level, k) => ({
            component: 'zrc',
            scopes: ['zaken.lezen'],
            zaaktype: ZT(k),
            maxVertrouwelijkheidaanduiding: level,
          })),
          { component: 'zrc', scopes: ['zaken.bijwerken'], zaaktype: ZT(7), maxVertrouwelijkheidaanduiding: 'intern' },
          { component: 'zrc', scopes: ['audittrails.lezen'] },
          {
            component: 'drc',
            scopes: ['documenten.lezen'],
            informatieobjecttype: IOT(1),
            maxVertrouwelijkheidaanduiding: 'vertrouwelijk',
          },
          { component: 'brc', scopes: ['besluiten.lezen'], besluittype: BT(1) },
          { component: 'ztc', scopes: ['catalogi.lezen'] },
        ],
      }),
    );
    urls.set('alles', await zgw.applicatie(['c-alles'], { heeftAlleAutorisaties: true }));
    urls.set(
      'publicatie',
      await zgw.applicatie(['c-publicatie'], {
        alleenIsGereedVoorPublicatie: true,
        autorisaties: [
          {
            component: 'drc',
            scopes: ['documenten.lezen'],
            informatieobjecttype: IOT(1),
            maxVertrouwelijkheidaanduiding: 'zeer_geheim',
          },
        ],
      }),
    );
    urls.set(
      'self',
      await zgw.applicatie(['c-self'], {
        autorisaties: [
          { component: 'zrc', scopes: ['zaken.lezen'], zaaktype: ZT(0), maxVertrouwelijkheidaanduiding: 'openbaar' },
        ],
      }),
    );
    urls.set(
      'wisselend',
      await zgw.applicatie(['c-wisselend'], {
        autorisaties: [
          { component: 'zrc', scopes: ['zaken.lezen'], zaaktype: ZT(1), maxVertrouwelijkheidaanduiding: 'geheim' },
        ],
      }),
    );

    verifier = await verifierOf(zgw, selfSigning);
    for (const [name, c] of Object.entries(clients)) {
      const token =
        name === 'self'
          ? hs256({ iss: c.clientId, client_id: c.clientId, iat: Math.floor(Date.now() / 1000) }, c.secret)
          : await zgw.token(c.clientId, c.secret);
      principals.set(name, await verifier.verify(token));
    }
    assert.equal(who('self').kind, 'self-signed');
  });
  after(async () => {
    await zgw?.proc.stop();
    await receiver.stop();
  });

  const read = (zaaktype: string, vertrouwelijkheidaanduiding: string) => ({
    component: 'zrc',
    scopes: ['zaken.lezen'],
    object: { zaaktype, vertrouwelijkheidaanduiding },
  });

  it("the level boundary: a zaak is readable exactly up to its zaaktype's maxVertrouwelijkheidaanduiding (8 x 8)", async () => {
    for (let k = 0; k < 8; k++)
      for (let j = 0; j < 8; j++) {
        const d = await autorisaties.decide(who('behandelaar'), read(ZT(k), LEVELS[j]!));
        assert.deepEqual(
          d,
          j <= k ? { allowed: true } : { allowed: false, reason: 'too_confidential' },
          `zaaktype reaching ${LEVELS[k]}, zaak ${LEVELS[j]}`,
        );
      }
    // Documents the same way; besluiten have no level.
    const doc = (level: string) => ({
      component: 'drc',
      scopes: ['documenten.lezen'],
      object: { informatieobjecttype: IOT(1), vertrouwelijkheidaanduiding: level },
    });
    assert.equal((await autorisaties.decide(who('behandelaar'), doc('vertrouwelijk'))).allowed, true);
    assert.deepEqual(await autorisaties.decide(who('behandelaar'), doc('confidentieel')), {
      allowed: false,
      reason: 'too_confidential',
    });
  });

  it('each rule: scopes, the type, the component, the object, all rights, no applicatie', async () => {
    const b = who('behandelaar');
    const decide = (request: Parameters<Autorisaties['decide']>[1], caller: Principal = b) =>
      autorisaties.decide(caller, request);
    // A scope the autorisatie of that zaaktype lacks.
    assert.deepEqual(await decide({ ...read(ZT(3), 'openbaar'), scopes: ['zaken.verwijderen'] }), {
      allowed: false,
      reason: 'insufficient_scope',
    });
    // A zaaktype no autorisatie names.
    assert.deepEqual(await decide(read(ZT(99), 'openbaar')), { allowed: false, reason: 'type_not_authorised' });
    // Scopes of two autorisaties of one zaaktype join, up to the level both reach.
    const both = { component: 'zrc', scopes: ['zaken.lezen', 'zaken.bijwerken'] };
    assert.equal(
      (await decide({ ...both, object: { zaaktype: ZT(7), vertrouwelijkheidaanduiding: 'intern' } })).allowed,
      true,
    );
    assert.deepEqual(
      await decide({ ...both, object: { zaaktype: ZT(7), vertrouwelijkheidaanduiding: 'zaakvertrouwelijk' } }),
      {
        allowed: false,
        reason: 'too_confidential',
      },
    );
    // Any one of a list will do (the reference's `scope_a | scope_b`).
    assert.equal(
      (await decide({ ...read(ZT(2), 'intern'), scopes: [['zaken.geforceerd-bijwerken', 'zaken.lezen']] })).allowed,
      true,
    );
    // Another component's autorisaties count for nothing.
    assert.deepEqual(await decide({ component: 'brc', scopes: ['zaken.lezen'], object: { besluittype: BT(1) } }), {
      allowed: false,
      reason: 'insufficient_scope',
    });
    assert.equal(
      (await decide({ component: 'brc', scopes: ['besluiten.lezen'], object: { besluittype: BT(1) } })).allowed,
      true,
    );
    assert.deepEqual(await decide({ component: 'brc', scopes: ['besluiten.lezen'], object: { besluittype: BT(2) } }), {
      allowed: false,
      reason: 'type_not_authorised',
    });
    assert.equal((await decide({ component: 'ztc', scopes: ['catalogi.lezen'] })).allowed, true);
    assert.equal((await decide({ component: 'ztc', scopes: ['catalogi.schrijven'] })).allowed, false);
    assert.equal((await decide({ component: 'nrc', scopes: ['notificaties.consumeren'] })).allowed, false);
    // zrc needs the object, or says it has none yet ('any': a list, before its filter).
    assert.deepEqual(await decide({ component: 'zrc', scopes: ['zaken.lezen'] }), {
      allowed: false,
      reason: 'object_missing',
    });
    assert.equal((await decide({ component: 'zrc', scopes: ['zaken.lezen'], object: 'any' })).allowed, true);
    // An autorisatie without zaaktype (audittrails) reaches the component, never an object.
    assert.equal((await decide({ component: 'zrc', scopes: ['audittrails.lezen'], object: 'any' })).allowed, true);
    assert.equal((await decide({ ...read(ZT(0), 'openbaar'), scopes: ['audittrails.lezen'] })).allowed, false);
    // An object whose facts are missing or not a level is refused, never taken as "any".
    for (const object of [
      { zaaktype: ZT(7) },
      { vertrouwelijkheidaanduiding: 'openbaar' },
      { zaaktype: ZT(7), vertrouwelijkheidaanduiding: 'topgeheim' },
    ])
      assert.deepEqual(await decide({ component: 'zrc', scopes: ['zaken.lezen'], object }), {
        allowed: false,
        reason: 'object_incomplete',
      });

    // heeftAlleAutorisaties: everything, every component, every level.
    for (const request of [
      read(ZT(99), 'zeer_geheim'),
      { component: 'nrc', scopes: ['notificaties.publiceren'] },
      {
        component: 'drc',
        scopes: ['documenten.verwijderen'],
        object: { informatieobjecttype: IOT(9), vertrouwelijkheidaanduiding: 'geheim' },
      },
    ])
      assert.deepEqual(await decide(request, who('alles')), { allowed: true });

    // A client id without an applicatie: refused.
    assert.deepEqual(await decide({ component: 'ztc', scopes: ['catalogi.lezen'] }, who('zonder')), {
      allowed: false,
      reason: 'unknown_client',
    });
    await assert.rejects(autorisaties.check(who('zonder'), read(ZT(0), 'openbaar')), (e: unknown) => {
      assert.ok(e instanceof AutorisatieRefused);
      assert.equal(e.status, 403);
      assert.equal(e.reason, 'unknown_client');
      return true;
    });
    // A self-signed ZGW token: its client id decides like any other.
    assert.equal((await decide(read(ZT(0), 'openbaar'), who('self'))).allowed, true);
    assert.equal((await decide(read(ZT(0), 'beperkt_openbaar'), who('self'))).allowed, false);
    assert.deepEqual(refusedFor, [], 'no failure to read the AC');
  });

  it('alleenIsGereedVoorPublicatie (1.1): only documents ready for publication, however high the level', async () => {
    const doc = (isGereedVoorPublicatie: boolean | undefined) => ({
      component: 'drc',
      scopes: ['documenten.lezen'],
      object: { informatieobjecttype: IOT(1), vertrouwelijkheidaanduiding: 'geheim', isGereedVoorPublicatie },
    });
    assert.equal((await autorisaties.decide(who('publicatie'), doc(true))).allowed, true);
    for (const not of [false, undefined])
      assert.deepEqual(await autorisaties.decide(who('publicatie'), doc(not)), {
        allowed: false,
        reason: 'not_gereed_voor_publicatie',
      });
    // Others read a document whatever its flag.
    assert.equal(
      (
        await autorisaties.decide(who('behandelaar'), {
          ...doc(false),
          object: { ...doc(false).object, vertrouwelijkheidaanduiding: 'intern' },
        })
      ).allowed,
      true,
    );
    const seen = await autorisaties.visible(who('publicatie'), { component: 'drc', scopes: ['documenten.lezen'] });
    assert.equal(seen.onlyGereedVoorPublicatie, true);
    assert.deepEqual([...seen.types], [[IOT(1), 'zeer_geheim']]);
  });

  it('list filtering: which zaaktypen up to which level, or all; the predicate filters objects alike', async () => {
    const zaken = await autorisaties.visible(who('behandelaar'), { component: 'zrc', scopes: ['zaken.lezen'] });
    assert.equal(zaken.all, false);
    assert.deepEqual([...zaken.types].sort(), LEVELS.map((level, k) => [ZT(k), level]).sort());
    const both = await autorisaties.visible(who('behandelaar'), {
      component: 'zrc',
      scopes: ['zaken.lezen', 'zaken.bijwerken'],
    });
    assert.deepEqual([...both.types], [[ZT(7), 'intern']]);
    assert.deepEqual(
      [...(await autorisaties.visible(who('behandelaar'), { component: 'brc', scopes: ['besluiten.lezen'] })).types],
      [[BT(1), undefined]],
    );
    assert.equal(
      (await autorisaties.visible(who('behandelaar'), { component: 'ztc', scopes: ['catalogi.lezen'] })).all,
      true,
    );
    assert.equal((await autorisaties.visible(who('alles'), { component: 'zrc', scopes: ['zaken.lezen'] })).all, true);
    const none = await autorisaties.visible(who('zonder'), { component: 'zrc', scopes: ['zaken.lezen'] });
    assert.equal(none.all, false);
    assert.equal(none.types.size, 0);

    // In memory: 8 x 8 zaken plus some of other zaaktypen, filtered the way the decision decides.
    const all = [];
    for (let k = 0; k < 10; k++)
      for (const level of LEVELS) all.push({ zaaktype: ZT(k), vertrouwelijkheidaanduiding: level });
    const kept = all.filter(zaken.allows);
    assert.equal(kept.length, 36, '1 + 2 + ... + 8 zaken');
    for (const z of all)
      assert.equal(
        zaken.allows(z),
        (await autorisaties.decide(who('behandelaar'), read(z.zaaktype, z.vertrouwelijkheidaanduiding))).allowed,
      );
  });

  it('a change through the AC followed by its notification is seen by the next decision at once', async () => {
    const w = who('wisselend');
    const url = urls.get('wisselend')!;
    // Cached: many decisions, one question to the AC.
    for (let i = 0; i < 3; i++) assert.equal((await autorisaties.decide(w, read(ZT(1), 'geheim'))).allowed, true);

    await zgw.change(url, 'PATCH', {
      autorisaties: [
        { component: 'zrc', scopes: ['zaken.lezen'], zaaktype: ZT(1), maxVertrouwelijkheidaanduiding: 'intern' },
      ],
    });
    assert.ok(await eventually(async () => receiver.arrived(url, 'partial_update'), WAIT), 'the notification arrived');
    assert.deepEqual(await autorisaties.decide(w, read(ZT(1), 'geheim')), {
      allowed: false,
      reason: 'too_confidential',
    });
    assert.equal((await autorisaties.decide(w, read(ZT(1), 'intern'))).allowed, true);

    await zgw.change(url, 'DELETE');
    assert.ok(await eventually(async () => receiver.arrived(url, 'destroy'), WAIT));
    assert.deepEqual(await autorisaties.decide(w, read(ZT(1), 'intern')), { allowed: false, reason: 'unknown_client' });

    // A client without an applicatie ("no applicatie" is cached too) gets one: the create's notification.
    const made = await zgw.applicatie(['c-wisselend'], {
      autorisaties: [{ component: 'ztc', scopes: ['catalogi.lezen'] }],
    });
    assert.ok(await eventually(async () => receiver.arrived(made, 'create'), WAIT));
    assert.equal((await autorisaties.decide(w, { component: 'ztc', scopes: ['catalogi.lezen'] })).allowed, true);
    urls.set('wisselend', made);
  });

  it('without a notification, a change is seen once the cached answer is older than the max age', async () => {
    const api = await apiClient(zgw, 'zaken-api-unnotified');
    let t = Date.now();
    const unnotified = createAutorisaties({
      applicaties: remoteApplicaties({
        url: `${zgw.url}${BASE}`,
        credentials: {
          clientCredentials: { tokenEndpoint: `${zgw.url}/token`, clientId: api.clientId, clientSecret: api.secret },
        },
        maxAgeMs: 60_000,
        now: () => t,
      }),
    });
    const client = await zgw.client('c-unnotified');
    const token = await verifier.verify(await zgw.token(client.clientId, client.secret));
    const url = await zgw.applicatie([client.clientId], {
      autorisaties: [{ component: 'ztc', scopes: ['catalogi.lezen', 'catalogi.schrijven'] }],
    });
    const write = { component: 'ztc', scopes: ['catalogi.schrijven'] };
    assert.equal((await unnotified.decide(token, write)).allowed, true);
    await zgw.change(url, 'PATCH', { autorisaties: [{ component: 'ztc', scopes: ['catalogi.lezen'] }] });
    t += 59_000;
    assert.equal((await unnotified.decide(token, write)).allowed, true, 'still the cached answer');
    t += 2_000;
    assert.deepEqual(await unnotified.decide(token, write), { allowed: false, reason: 'insufficient_scope' });
  });

  it('through HTTP: node:http and Fastify APIs answer 403 with the ZGW Fout, 503 while the AC is away', async () => {
    const onRefusal: string[] = [];
    const guardFor = (ac: Autorisaties) => ({
      component: 'zrc',
      scopes: ['zaken.lezen'],
      object: (req: { headers: http.IncomingHttpHeaders }) => ({
        zaaktype: ZT(Number(req.headers['x-zaaktype'])),
        vertrouwelijkheidaanduiding: String(req.headers['x-level']),
      }),
      onRefusal: (err: AutorisatieRefused) => void onRefusal.push(err.reason),
      ac,
    });
    const gone = createAutorisaties({
      applicaties: remoteApplicaties({
        url: 'http://127.0.0.1:1/autorisaties/api/v1',
        credentials: { selfSigned: { clientId: 'zaken-api', secret: 'x' } },
      }),
    });
    const servers: Array<() => Promise<void>> = [];
    const urlsOf = async (ac: Autorisaties) => {
      const { ac: _ac, ...options } = guardFor(ac);
      const tokenGuard = requireToken(verifier);
      const acGuard = requireAutorisatie(ac, options);
      const plain = http.createServer((req, res) =>
        tokenGuard(req, res, () => acGuard(req, res, () => res.writeHead(200).end('{"ok":true}'))),
      );
      await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
      const fastify = Fastify();
      await fastify.register(async (scope) => {
        await scope.register(zgwAuthFastify, { verifier, problemJson: true });
        scope.get('/zaken', { preHandler: autorisatieHook(ac, options) }, async () => ({ ok: true }));
      });
      const f = await fastify.listen({ host: '127.0.0.1', port: 0 });
      servers.push(async () => {
        plain.closeAllConnections();
        await new Promise((r) => plain.close(r));
        await fastify.close();
      });
      return [`http://127.0.0.1:${(plain.address() as AddressInfo).port}/zaken`, `${f}/zaken`];
    };
    try {
      const caller = await zgw.client('c-http-caller');
      await zgw.applicatie([caller.clientId], {
        autorisaties: [
          { component: 'zrc', scopes: ['zaken.lezen'], zaaktype: ZT(1), maxVertrouwelijkheidaanduiding: 'intern' },
        ],
      });
      const bearer = await zgw.token(caller.clientId, caller.secret);
      const headers = (level: string) => ({ authorization: `Bearer ${bearer}`, 'x-zaaktype': '1', 'x-level': level });
      for (const url of await urlsOf(autorisaties)) {
        assert.equal((await request(url, { headers: headers('intern') })).status, 200, url);
        const refused = await request(url, { headers: headers('geheim') });
        assert.equal(refused.status, 403, url);
        assert.match(String(refused.headers['content-type']), /^application\/problem\+json/);
        assert.ok(isFout(refused.json), JSON.stringify(foutSchema.errors));
        assert.equal(refused.json.code, 'permission_denied');
        assert.equal(refused.json.title, 'Je hebt geen toestemming om deze actie uit te voeren.');
        assert.equal(refused.json.status, 403);
        assert.match(refused.json.instance, /^urn:uuid:/);
        // No token: the token guard's 401 comes first.
        assert.equal((await request(url)).status, 401);
      }
      assert.deepEqual(onRefusal, ['too_confidential', 'too_confidential']);
      for (const url of await urlsOf(gone)) {
        const down = await request(url, { headers: headers('intern') });
        assert.equal(down.status, 503, url);
        assert.equal(down.headers['retry-after'], '1');
        assert.ok(isFout(down.json), JSON.stringify(foutSchema.errors));
        assert.equal(down.json.code, 'service_unavailable');
      }
    } finally {
      for (const close of servers) await close();
    }
  });
});

describe("the ZGW decision in zgw-auth's own process (the registry as the source)", () => {
  it('decides from the registry directly; a change through the AC is seen by the next decision', async () => {
    const ts = await startTestServer({ dialect: 'sqlite' });
    try {
      const adminToken = await ts.token(ts.admin.clientId, ts.admin.secret);
      const client = await ts.createClient();
      const made = await request(`${ts.url}${BASE}/applicaties`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          clientIds: [client.clientId],
          label: 'x',
          autorisaties: [
            { component: 'zrc', scopes: ['zaken.lezen'], zaaktype: ZT(1), maxVertrouwelijkheidaanduiding: 'geheim' },
          ],
        }),
      });
      assert.equal(made.status, 201, made.text);
      const autorisaties = createAutorisaties({ applicaties: registryApplicaties(ts.app.autorisaties) });
      const read = {
        component: 'zrc',
        scopes: ['zaken.lezen'],
        object: { zaaktype: ZT(1), vertrouwelijkheidaanduiding: 'geheim' },
      };
      assert.equal((await autorisaties.decide(client.clientId, read)).allowed, true);
      assert.equal((await autorisaties.decide(client.clientId, read)).allowed, true);
      const patched = await request(made.json.url.replace(/^https?:\/\/[^/]+/, ts.url), {
        method: 'PATCH',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          autorisaties: [
            { component: 'zrc', scopes: ['zaken.lezen'], zaaktype: ZT(1), maxVertrouwelijkheidaanduiding: 'intern' },
          ],
        }),
      });
      assert.equal(patched.status, 200, patched.text);
      assert.deepEqual(await autorisaties.decide(client.clientId, read), {
        allowed: false,
        reason: 'too_confidential',
      });
      assert.deepEqual(await autorisaties.decide('nobody-here', read), { allowed: false, reason: 'unknown_client' });
    } finally {
      await ts.close();
    }
  });
});

describe('two zgw-auth processes on one PostgreSQL database', () => {
  it('a change through one is decided alike through the other within 0.5 s of its notification', async () => {
    const db = await freshPostgres();
    const receiver = new Receiver();
    await receiver.start();
    const env = {
      DATABASE_URL: db.url,
      ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
      ZGW_AUTH_ISSUER: 'https://auth.zgw.test',
      ...notifying(receiver),
    };
    let a: Zgw | undefined;
    let b: Zgw | undefined;
    try {
      a = await startZgw(env);
      b = new Zgw(await startServeProcess(tempDir(), env), a.admin);
      // The API reads the AC of process b (client credentials from b's /token).
      const api = await apiClient(a, 'zaken-api');
      const through = (zgw: Zgw) =>
        remoteApplicaties({
          url: `${zgw.url}${BASE}`,
          credentials: {
            clientCredentials: { tokenEndpoint: `${zgw.url}/token`, clientId: api.clientId, clientSecret: api.secret },
          },
        });
      const fed = through(b);
      const unfed = through(b);
      receiver.listeners.push((body) => fed.notified(body));
      const decideFed = createAutorisaties({ applicaties: fed });
      const decideUnfed = createAutorisaties({ applicaties: unfed });

      const client = await a.client('c-twee');
      const url = await a.applicatie([client.clientId], {
        autorisaties: [
          { component: 'zrc', scopes: ['zaken.lezen'], zaaktype: ZT(1), maxVertrouwelijkheidaanduiding: 'geheim' },
        ],
      });
      const read = {
        component: 'zrc',
        scopes: ['zaken.lezen'],
        object: { zaaktype: ZT(1), vertrouwelijkheidaanduiding: 'geheim' },
      };
      for (const d of [decideFed, decideUnfed]) assert.equal((await d.decide(client.clientId, read)).allowed, true);

      for (const [level, expected] of [
        ['intern', false],
        ['zeer_geheim', true],
      ] as const) {
        const before = receiver.received.length;
        await a.change(url, 'PATCH', {
          autorisaties: [
            { component: 'zrc', scopes: ['zaken.lezen'], zaaktype: ZT(1), maxVertrouwelijkheidaanduiding: level },
          ],
        });
        assert.ok(
          await eventually(async () => receiver.received.slice(before).some((m) => m.actie === 'partial_update'), WAIT),
          'the notification arrived',
        );
        assert.ok(
          await eventually(async () => (await decideFed.decide(client.clientId, read)).allowed === expected, 500),
          `through b, ${level}: decided as a decides within 0.5 s of the notification`,
        );
        // What b's own AC says, to compare: the same.
        const answer = await request(`${b.url}${BASE}/applicaties/consumer?clientId=${client.clientId}`, {
          headers: { authorization: `Bearer ${await b.token(api.clientId, api.secret)}` },
        });
        assert.equal(answer.json[0].autorisaties[0].maxVertrouwelijkheidaanduiding, level);
      }
      // Without the notifications the API would still decide on its cached answer (60 s).
      assert.equal((await decideUnfed.decide(client.clientId, read)).allowed, true);
      assert.equal(
        (
          await decideUnfed.decide(client.clientId, {
            ...read,
            object: { ...read.object, vertrouwelijkheidaanduiding: 'zeer_geheim' },
          })
        ).allowed,
        false,
        'the unfed source still holds the first answer (geheim)',
      );
    } finally {
      await a?.proc.stop();
      await b?.proc.stop();
      await receiver.stop();
      await db.drop();
    }
  });
});
