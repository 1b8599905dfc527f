import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import type { Kysely } from '#kysely';
import fc from 'fast-check';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { COMPONENT_SCOPES } from '../src/autorisaties/model.js';
import { loadConfig } from '../src/config.js';
import { ConflictError } from '../src/errors.js';
import {
  type DialectName,
  DIALECTS,
  eventually,
  freshPostgres,
  hs256,
  type HttpResult,
  request,
  startTestServer,
  type TestServer,
} from './helpers.js';

// Ed25519 signing keys: an RSA key costs tenths of a second of CPU per registry, and no test here
// depends on the signing algorithm.
const FAST_KEYS = { ZGW_AUTH_SIGNING_ALG: 'EdDSA' };

/**
 * The standard's own OpenAPI (VNG Realisatie, EUPL 1.2; see test/fixtures/README-autorisaties-api.md):
 * every request these tests send as a valid one and every answer they get is checked against it.
 */
const SPEC = parseYaml(
  fs.readFileSync(
    path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/autorisaties-api-1.0.0.yaml'),
    'utf8',
  ),
) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };

/** OpenAPI 3.0 as JSON Schema for Ajv: the discriminator is a hint for code generators, not a rule. */
function withoutDiscriminators(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDiscriminators);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k]) => k !== 'discriminator')
      .map(([k, v]) => [k, withoutDiscriminators(v)]),
  );
}

const ajv = new Ajv({ strict: false, allErrors: true });
(addFormatsModule as unknown as { default: (a: Ajv) => void }).default(ajv);
ajv.addSchema(withoutDiscriminators(SPEC) as object, 'spec');
const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
const compiled = new Map<string, ValidateFunction>();
function schemaAt(ref: string): ValidateFunction {
  let v = compiled.get(ref);
  if (!v) compiled.set(ref, (v = ajv.compile({ $ref: ref })));
  return v;
}
/** PATCH sends part of an applicatie: the schema without its required fields. */
const partialApplicatie = ajv.compile({
  ...(withoutDiscriminators(
    (SPEC as unknown as { components: { schemas: Record<string, object> } }).components.schemas.Applicatie,
  ) as object),
  required: [],
  properties: {
    ...((SPEC as unknown as { components: { schemas: Record<string, { properties: object }> } }).components.schemas
      .Applicatie!.properties as object),
    autorisaties: { type: 'array', items: { $ref: 'spec#/components/schemas/AutorisatieBase' } },
  },
});

function check(v: ValidateFunction, value: unknown, what: string) {
  assert.ok(v(value), `${what}: ${ajv.errorsText(v.errors)}\n${JSON.stringify(value).slice(0, 600)}`);
}

const BASE = '/autorisaties/api/v1';

/** The spec's path of a request path, for its operation. */
function specPath(p: string): string {
  if (p === '/applicaties' || p === '/applicaties/consumer') return p;
  return '/applicaties/{uuid}';
}

interface Call {
  token?: string;
  body?: unknown;
  raw?: string | Buffer;
  contentType?: string;
  /** Hostile input: the request is not checked against the spec, the answer is. */
  invalidRequest?: boolean;
}

/** One request to the AC, checked against the standard in both directions; never a 5xx. */
async function ac(ts: TestServer, method: string, p: string, call: Call = {}): Promise<HttpResult> {
  const [pathOnly] = p.split('?');
  const op = specPath(pathOnly!);
  const lower = method.toLowerCase();
  if (call.body !== undefined && !call.invalidRequest) {
    if (lower === 'patch') check(partialApplicatie, call.body, `${method} ${p} request`);
    else check(schemaAt('spec#/components/schemas/Applicatie'), call.body, `${method} ${p} request`);
  }
  const body = call.raw ?? (call.body === undefined ? undefined : JSON.stringify(call.body));
  const res = await request(`${ts.url}${BASE}${p}`, {
    method,
    headers: {
      ...(call.token ? { authorization: `Bearer ${call.token}` } : {}),
      ...(body !== undefined ? { 'content-type': call.contentType ?? 'application/json' } : {}),
    },
    ...(body !== undefined ? { body } : {}),
  });
  assert.ok(res.status < 500, `${method} ${p}: ${res.status} ${res.text.slice(0, 300)}`);
  assert.equal(res.headers['api-version'], '1.1.0', `${method} ${p}: API-version`);
  if (res.status === 204) return res;
  const operation = SPEC.paths[op]?.[lower];
  const documented = operation?.responses[String(res.status)] !== undefined;
  if (res.status >= 400) {
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/, `${method} ${p}`);
    const shape = res.status === 400 ? 'ValidatieFout' : 'Fout';
    check(schemaAt(`spec#/components/schemas/${shape}`), res.json, `${method} ${p} ${res.status}`);
  } else {
    assert.match(String(res.headers['content-type']), /^application\/json/, `${method} ${p}`);
  }
  if (documented) {
    const type = res.status >= 400 ? 'application/problem+json' : 'application/json';
    check(
      schemaAt(`spec#/${pointer('paths', op, lower, 'responses', String(res.status), 'content', type, 'schema')}`),
      res.json,
      `${method} ${p} ${res.status}`,
    );
  }
  return res;
}

function invalid(res: HttpResult, name: string, code: string) {
  assert.equal(res.status, 400, res.text);
  const found = (res.json.invalidParams as Array<{ name: string; code: string }>).find((x) => x.name === name);
  assert.ok(found, `no invalidParam ${name} in ${res.text}`);
  assert.equal(found.code, code, res.text);
}

const ZAAKTYPE = 'https://catalogi.example.nl/api/v1/zaaktypen/8b3e1a9a-6e5c-4a4f-9d3b-0c1f2e3d4a5b';
const IOTYPE = 'https://catalogi.example.nl/api/v1/informatieobjecttypen/1';
const BESLUITTYPE = 'https://catalogi.example.nl/api/v1/besluittypen/1';

for (const dialect of DIALECTS) suite(dialect);

function suite(dialect: DialectName) {
  describe(`Autorisaties API (${dialect})`, () => {
    let ts: TestServer;
    let admin: string;
    const fresh = async (input: { rsin?: string; selfSignedAllowed?: boolean } = {}) =>
      ts.createClient({ rsin: '000000000', ...input });

    before(async () => {
      ts = await startTestServer({ env: FAST_KEYS, dialect });
      admin = await ts.token(ts.admin.clientId, ts.admin.secret);
    });
    after(() => ts.close());

    it('first start gives the administrator an applicatie with all rights, audited; a second start does not add one', async () => {
      const res = await ac(ts, 'GET', `/applicaties/consumer?clientId=${ts.admin.clientId}`, { token: admin });
      assert.equal(res.status, 200);
      assert.equal(res.json.length, 1);
      assert.equal(res.json[0].heeftAlleAutorisaties, true);
      assert.deepEqual(res.json[0].clientIds, [ts.admin.clientId]);
      const uuid = res.json[0].url.split('/').pop();
      const events = await ts.app.audit.list({ action: 'applicatie.created', target: uuid });
      assert.equal(events.length, 1);
      assert.equal(await ts.app.autorisaties.bootstrap(ts.admin.clientId), undefined, 'once per registry');
      // Deleted by an operator, it is not made again by a later start.
      await ac(ts, 'DELETE', `/applicaties/${uuid}`, { token: admin });
      assert.equal(await ts.app.autorisaties.bootstrap(ts.admin.clientId), undefined, 'not after a delete either');
      // A registry of an earlier version (no mark, no applicaties) gets it at its first start with the AC.
      const state = (ts.app.storage.db as unknown as Kysely<{ registry_state: { name: string } }>).deleteFrom(
        'registry_state',
      );
      await state.where('name', '=', 'autorisaties-bootstrap').execute();
      const made = await ts.app.autorisaties.bootstrap(ts.admin.clientId);
      assert.deepEqual(made?.clientIds, [ts.admin.clientId]);
      assert.equal(made?.heeftAlleAutorisaties, true);
      admin = await ts.token(ts.admin.clientId, ts.admin.secret);
      assert.equal((await ac(ts, 'GET', '/applicaties', { token: admin })).status, 200);
    });

    it('creates, reads, replaces, patches and deletes an applicatie, each change audited, urls absolute', async () => {
      const a = await fresh();
      const b = await fresh();
      const body = {
        clientIds: [a.clientId],
        label: 'Zaaksysteem',
        autorisaties: [
          {
            component: 'zrc',
            scopes: ['zaken.lezen', 'zaken.aanmaken'],
            zaaktype: ZAAKTYPE,
            maxVertrouwelijkheidaanduiding: 'zaakvertrouwelijk',
          },
          { component: 'ztc', scopes: ['catalogi.lezen'] },
        ],
      };
      const created = await ac(ts, 'POST', '/applicaties', { token: admin, body });
      assert.equal(created.status, 201, created.text);
      const url: string = created.json.url;
      assert.ok(url.startsWith(`${ts.url}${BASE}/applicaties/`), url);
      assert.equal(created.headers.location, url);
      assert.equal(created.json.heeftAlleAutorisaties, false);
      assert.equal(created.json.alleenIsGereedVoorPublicatie, false);
      assert.equal(created.json.autorisaties[0].componentWeergave, 'Zaakregistratiecomponent');
      assert.equal(created.json.autorisaties[0].zaaktype, ZAAKTYPE);
      const uuid = url.split('/').pop()!;

      const read = await ac(ts, 'GET', `/applicaties/${uuid}`, { token: admin });
      assert.deepEqual(read.json, created.json);

      // 1.1's field set by PATCH; a 1.0-style PUT and PATCH without it keep it.
      const patched = await ac(ts, 'PATCH', `/applicaties/${uuid}`, {
        token: admin,
        body: { alleenIsGereedVoorPublicatie: true },
      });
      assert.equal(patched.json.alleenIsGereedVoorPublicatie, true);
      const put = await ac(ts, 'PUT', `/applicaties/${uuid}`, {
        token: admin,
        body: { clientIds: [a.clientId, b.clientId], label: 'Zaaksysteem 2' },
      });
      assert.equal(put.status, 200, put.text);
      assert.equal(put.json.alleenIsGereedVoorPublicatie, true, 'a PUT without the 1.1 field keeps it');
      assert.deepEqual(put.json.clientIds, [a.clientId, b.clientId]);
      assert.deepEqual(put.json.autorisaties, created.json.autorisaties, 'a PUT without autorisaties keeps them');
      const label = await ac(ts, 'PATCH', `/applicaties/${uuid}`, { token: admin, body: { label: 'Z3' } });
      assert.equal(label.json.alleenIsGereedVoorPublicatie, true);
      assert.equal(label.json.label, 'Z3');
      // Autorisaties replaced by a PATCH, as the reference implementation does.
      const replaced = await ac(ts, 'PATCH', `/applicaties/${uuid}`, {
        token: admin,
        body: { autorisaties: [{ component: 'brc', scopes: ['besluiten.lezen'], besluittype: BESLUITTYPE }] },
      });
      assert.deepEqual(
        replaced.json.autorisaties.map((x: { component: string }) => x.component),
        ['brc'],
      );

      const gone = await ac(ts, 'DELETE', `/applicaties/${uuid}`, { token: admin });
      assert.equal(gone.status, 204);
      assert.equal((await ac(ts, 'GET', `/applicaties/${uuid}`, { token: admin })).status, 404);
      assert.equal((await ac(ts, 'DELETE', `/applicaties/${uuid}`, { token: admin })).status, 404);
      for (const action of ['applicatie.created', 'applicatie.updated', 'applicatie.deleted']) {
        const events = await ts.app.audit.list({ action, target: uuid });
        assert.ok(events.length >= 1, action);
        assert.equal(events[0]!.actor, ts.admin.clientId);
        assert.equal(events[0]!.organisation, '000000000');
      }
      assert.equal((await ts.app.audit.list({ action: 'applicatie.updated', target: uuid })).length, 4);
    });

    it('ac-001: a client id is in one applicatie at a time (clientId-exists); deleted, it is free again', async () => {
      const a = await fresh();
      const first = await ac(ts, 'POST', '/applicaties', {
        token: admin,
        body: { clientIds: [a.clientId], label: 'Een', heeftAlleAutorisaties: true },
      });
      assert.equal(first.status, 201);
      const again = await ac(ts, 'POST', '/applicaties', {
        token: admin,
        body: { clientIds: [a.clientId], label: 'Twee', heeftAlleAutorisaties: true },
      });
      invalid(again, 'clientIds', 'clientId-exists');
      // Two writers racing for one client id: one gets it.
      const b = await fresh();
      const raced = await Promise.all(
        [1, 2].map((n) =>
          ac(ts, 'POST', '/applicaties', {
            token: admin,
            body: { clientIds: [b.clientId], label: `Race ${n}`, heeftAlleAutorisaties: true },
          }),
        ),
      );
      assert.deepEqual(raced.map((r) => r.status).sort(), [201, 400]);
      invalid(
        raced.find((r) => r.status === 400)!,
        'clientIds',
        'clientId-exists',
      );
      // Moving the id by PUT into another applicatie is refused too.
      const other = raced
        .find((r) => r.status === 201)!
        .json.url.split('/')
        .pop();
      const moved = await ac(ts, 'PATCH', `/applicaties/${other}`, {
        token: admin,
        body: { clientIds: [b.clientId, a.clientId] },
      });
      invalid(moved, 'clientIds', 'clientId-exists');
      await ac(ts, 'DELETE', `/applicaties/${first.json.url.split('/').pop()}`, { token: admin });
      const reused = await ac(ts, 'POST', '/applicaties', {
        token: admin,
        body: { clientIds: [a.clientId], label: 'Drie', heeftAlleAutorisaties: true },
      });
      assert.equal(reused.status, 201, 'the reference implementation frees the ids of a deleted applicatie');
    });

    it('ac-002: heeftAlleAutorisaties or autorisaties, never both, never neither, also by PATCH', async () => {
      const a = await fresh();
      const zrc = {
        component: 'zrc',
        scopes: ['zaken.lezen'],
        zaaktype: ZAAKTYPE,
        maxVertrouwelijkheidaanduiding: 'openbaar',
      };
      invalid(
        await ac(ts, 'POST', '/applicaties', {
          token: admin,
          body: { clientIds: [a.clientId], label: 'X', heeftAlleAutorisaties: true, autorisaties: [zrc] },
        }),
        'nonFieldErrors',
        'ambiguous-authorizations-specified',
      );
      invalid(
        await ac(ts, 'POST', '/applicaties', { token: admin, body: { clientIds: [a.clientId], label: 'X' } }),
        'nonFieldErrors',
        'missing-authorizations',
      );
      invalid(
        await ac(ts, 'POST', '/applicaties', {
          token: admin,
          body: { clientIds: [a.clientId], label: 'X', autorisaties: [] },
        }),
        'nonFieldErrors',
        'missing-authorizations',
      );
      const made = await ac(ts, 'POST', '/applicaties', {
        token: admin,
        body: { clientIds: [a.clientId], label: 'X', autorisaties: [zrc] },
      });
      const uuid = made.json.url.split('/').pop();
      invalid(
        await ac(ts, 'PATCH', `/applicaties/${uuid}`, { token: admin, body: { heeftAlleAutorisaties: true } }),
        'nonFieldErrors',
        'ambiguous-authorizations-specified',
      );
      const switched = await ac(ts, 'PATCH', `/applicaties/${uuid}`, {
        token: admin,
        body: { heeftAlleAutorisaties: true, autorisaties: [] },
      });
      assert.equal(switched.status, 200);
      assert.deepEqual(switched.json.autorisaties, []);
      invalid(
        await ac(ts, 'PATCH', `/applicaties/${uuid}`, { token: admin, body: { heeftAlleAutorisaties: false } }),
        'nonFieldErrors',
        'missing-authorizations',
      );
      invalid(
        await ac(ts, 'POST', '/applicaties', {
          token: admin,
          body: { clientIds: [a.clientId], label: 'X', heeftAlleAutorisaties: null },
          invalidRequest: true,
        }),
        'heeftAlleAutorisaties',
        'null',
      );
    });

    it('ac-003, levels and scopes: each component its required fields, the eight levels, only its own scopes', async () => {
      const post = (autorisaties: unknown[], invalidRequest = false) =>
        ac(ts, 'POST', '/applicaties', {
          token: admin,
          body: { clientIds: [], label: 'Regels', autorisaties },
          invalidRequest,
        });
      const zrc = await post(
        [{ component: 'zrc', scopes: ['zaken.lezen'], zaaktype: '', maxVertrouwelijkheidaanduiding: '' }],
        true,
      );
      invalid(zrc, 'autorisaties.0.zaaktype', 'required');
      invalid(zrc, 'autorisaties.0.maxVertrouwelijkheidaanduiding', 'required');
      const drc = await post([{ component: 'drc', scopes: ['documenten.lezen'] }]);
      invalid(drc, 'autorisaties.0.informatieobjecttype', 'required');
      invalid(drc, 'autorisaties.0.maxVertrouwelijkheidaanduiding', 'required');
      const brc = await post([
        { component: 'ztc', scopes: ['catalogi.lezen'] },
        { component: 'brc', scopes: ['besluiten.lezen'] },
      ]);
      invalid(brc, 'autorisaties.1.besluittype', 'required');
      // Scopes outside the main resource need no type (audit trails of the ZRC).
      assert.equal((await post([{ component: 'zrc', scopes: ['audittrails.lezen'] }])).status, 201);
      for (const level of [
        'openbaar',
        'beperkt_openbaar',
        'intern',
        'zaakvertrouwelijk',
        'vertrouwelijk',
        'confidentieel',
        'geheim',
        'zeer_geheim',
      ]) {
        const ok = await post([
          {
            component: 'drc',
            scopes: ['documenten.lezen'],
            informatieobjecttype: IOTYPE,
            maxVertrouwelijkheidaanduiding: level,
          },
        ]);
        assert.equal(ok.status, 201, `${level}: ${ok.text}`);
        assert.equal(ok.json.autorisaties[0].maxVertrouwelijkheidaanduiding, level);
      }
      invalid(
        await post(
          [
            {
              component: 'zrc',
              scopes: ['zaken.lezen'],
              zaaktype: ZAAKTYPE,
              maxVertrouwelijkheidaanduiding: 'topgeheim',
            },
          ],
          true,
        ),
        'autorisaties.0.maxVertrouwelijkheidaanduiding',
        'invalid_choice',
      );
      invalid(
        await post([
          {
            component: 'drc',
            scopes: ['documenten.lezen', 'zaken.lezen'],
            informatieobjecttype: IOTYPE,
            maxVertrouwelijkheidaanduiding: 'geheim',
          },
        ]),
        'autorisaties.0.scopes.1',
        'invalid_choice',
      );
      invalid(
        await post([{ component: 'ac', scopes: ['autorisaties.schrijven'] }]),
        'autorisaties.0.scopes.0',
        'invalid_choice',
      );
      invalid(await post([{ component: 'xyz', scopes: [] }], true), 'autorisaties.0.component', 'invalid_choice');
      invalid(
        await post(
          [
            {
              component: 'zrc',
              scopes: ['zaken.lezen'],
              zaaktype: 'not a url',
              maxVertrouwelijkheidaanduiding: 'intern',
            },
          ],
          true,
        ),
        'autorisaties.0.zaaktype',
        'invalid',
      );
      invalid(await post([{ scopes: ['zaken.lezen'] }], true), 'autorisaties.0.component', 'required');
      // Fields of another component are not kept.
      const kept = await post([{ component: 'ztc', scopes: ['catalogi.lezen'], zaaktype: ZAAKTYPE }]);
      assert.equal(kept.status, 201);
      assert.equal(kept.json.autorisaties[0].zaaktype, undefined);
    });

    it('one registry: client ids of the registry only, all of one organisation; a client in an applicatie is not deleted or moved', async () => {
      invalid(
        await ac(ts, 'POST', '/applicaties', {
          token: admin,
          body: { clientIds: ['nobody-registered'], label: 'X', heeftAlleAutorisaties: true },
        }),
        'clientIds.0',
        'clientId-unknown',
      );
      const own = await fresh({ rsin: '002220647' });
      const other = await fresh({ rsin: '123456782' });
      invalid(
        await ac(ts, 'POST', '/applicaties', {
          token: admin,
          body: { clientIds: [own.clientId, other.clientId], label: 'X', heeftAlleAutorisaties: true },
        }),
        'clientIds',
        'clientIds-multiple-organisations',
      );
      const made = await ac(ts, 'POST', '/applicaties', {
        token: admin,
        body: { clientIds: [own.clientId], label: 'Gemeente', heeftAlleAutorisaties: true },
      });
      assert.equal(made.status, 201);
      const uuid = made.json.url.split('/').pop();
      const events = await ts.app.audit.list({ action: 'applicatie.created', target: uuid });
      assert.equal(events[0]!.organisation, '002220647', "the applicatie belongs to its clients' organisation");
      await assert.rejects(ts.app.clients.delete(own.clientId, { id: 'test' }), ConflictError);
      assert.ok(await ts.app.clients.get(own.clientId));
      // Nor does it move to another organisation alone; other changes are fine.
      await assert.rejects(ts.app.clients.update(own.clientId, { rsin: '123456782' }, { id: 'test' }), ConflictError);
      assert.equal((await ts.app.clients.get(own.clientId)).rsin, '002220647');
      await ts.app.clients.update(own.clientId, { name: 'Hernoemd' }, { id: 'test' });
      await ac(ts, 'PATCH', `/applicaties/${uuid}`, { token: admin, body: { clientIds: [] } });
      await ts.app.clients.delete(own.clientId, { id: 'test' });
    });

    it("a caller that is not a global administrator writes only its own organisation's applicaties, reads all", async () => {
      const consumer = await fresh({ rsin: '002220647' });
      const colleague = await fresh({ rsin: '002220647' });
      const foreign = await fresh({ rsin: '123456782' });
      await ac(ts, 'POST', '/applicaties', {
        token: admin,
        body: { clientIds: [consumer.clientId], label: 'Zaaksysteem A', heeftAlleAutorisaties: true },
      });
      const theirs = await ac(ts, 'POST', '/applicaties', {
        token: admin,
        body: { clientIds: [foreign.clientId], label: 'Zaaksysteem B', heeftAlleAutorisaties: true },
      });
      const token = await ts.token(consumer.clientId, consumer.secret);
      const own = await ac(ts, 'POST', '/applicaties', {
        token,
        body: { clientIds: [colleague.clientId], label: 'Collega', heeftAlleAutorisaties: true },
      });
      assert.equal(own.status, 201, own.text);
      const other = await fresh({ rsin: '123456782' });
      const refused = await ac(ts, 'POST', '/applicaties', {
        token,
        body: { clientIds: [other.clientId], label: 'Van B', heeftAlleAutorisaties: true },
      });
      assert.equal(refused.status, 403);
      assert.equal(refused.json.code, 'permission_denied');
      const uuid = theirs.json.url.split('/').pop();
      assert.equal((await ac(ts, 'GET', `/applicaties/${uuid}`, { token })).status, 200, 'reading is registry-wide');
      assert.equal(
        (await ac(ts, 'PATCH', `/applicaties/${uuid}`, { token, body: { label: 'Overgenomen' } })).status,
        403,
      );
      assert.equal((await ac(ts, 'DELETE', `/applicaties/${uuid}`, { token })).status, 403);
      const moved = await ac(ts, 'PATCH', `/applicaties/${own.json.url.split('/').pop()}`, {
        token,
        body: { clientIds: [other.clientId] },
      });
      assert.equal(moved.status, 403, 'nor moved into another organisation');
      assert.equal((await ac(ts, 'GET', `/applicaties/${uuid}`, { token: admin })).json.label, 'Zaaksysteem B');
    });

    it('pages of 100, newest first, with the clientIds filter and refused unknown parameters', async () => {
      const x = await fresh();
      const y = await fresh();
      const tagged = await ac(ts, 'POST', '/applicaties', {
        token: admin,
        body: { clientIds: [x.clientId, y.clientId], label: 'Gefilterd', heeftAlleAutorisaties: true },
      });
      for (let i = 0; i < 100; i++)
        await ts.app.autorisaties.create(
          { clientIds: [], label: `Bulk ${i}`, heeftAlleAutorisaties: true },
          { id: 'test', rsin: '000000000', everyOrganisation: true },
        );
      const page1 = await ac(ts, 'GET', '/applicaties', { token: admin });
      assert.equal(page1.json.results.length, 100);
      assert.ok(page1.json.count > 100);
      assert.equal(page1.json.previous, null);
      assert.equal(page1.json.next, `${ts.url}${BASE}/applicaties?page=2`);
      assert.equal(page1.json.results[0].label, 'Bulk 99', 'newest first');
      const page2 = await ac(ts, 'GET', '/applicaties?page=2', { token: admin });
      assert.equal(page2.json.results.length, page1.json.count - 100);
      assert.equal(page2.json.previous, `${ts.url}${BASE}/applicaties`);
      assert.equal(page2.json.next, null);
      assert.equal((await ac(ts, 'GET', '/applicaties?page=99', { token: admin })).status, 404);
      assert.equal((await ac(ts, 'GET', '/applicaties?page=nul', { token: admin })).status, 404);

      const hit = await ac(ts, 'GET', `/applicaties?clientIds=${y.clientId}`, { token: admin });
      assert.equal(hit.json.count, 1);
      assert.equal(hit.json.results[0].url, tagged.json.url);
      const both = await ac(ts, 'GET', `/applicaties?clientIds=${x.clientId},${y.clientId}`, { token: admin });
      assert.equal(both.json.count, 1);
      const miss = await ac(ts, 'GET', `/applicaties?clientIds=${x.clientId},${ts.admin.clientId}`, { token: admin });
      assert.equal(miss.json.count, 0, 'every client id listed, as the reference implementation filters');
      invalid(await ac(ts, 'GET', '/applicaties?clientId=x', { token: admin }), 'nonFieldErrors', 'unknown-parameters');
      invalid(
        await ac(ts, 'GET', `/applicaties/consumer?clientId=${x.clientId}&page=1`, { token: admin }),
        'nonFieldErrors',
        'unknown-parameters',
      );
    });

    it('consumer: the applicatie of a client id as a list of one; unknown 404; missing clientId 400', async () => {
      const c = await fresh();
      await ac(ts, 'POST', '/applicaties', {
        token: admin,
        body: { clientIds: [c.clientId], label: 'Consument', heeftAlleAutorisaties: true },
      });
      const found = await ac(ts, 'GET', `/applicaties/consumer?clientId=${c.clientId}`, { token: admin });
      assert.equal(found.status, 200);
      assert.equal(found.json[0].label, 'Consument');
      // Asked again after a change: the new applicatie, not a remembered one.
      const uuid = found.json[0].url.split('/').pop();
      await ac(ts, 'PATCH', `/applicaties/${uuid}`, { token: admin, body: { label: 'Consument 2' } });
      const again = await ac(ts, 'GET', `/applicaties/consumer?clientId=${c.clientId}`, { token: admin });
      assert.equal(again.json[0].label, 'Consument 2');
      await ac(ts, 'DELETE', `/applicaties/${uuid}`, { token: admin });
      assert.equal((await ac(ts, 'GET', `/applicaties/consumer?clientId=${c.clientId}`, { token: admin })).status, 404);
      await ac(ts, 'POST', '/applicaties', {
        token: admin,
        body: { clientIds: [c.clientId], label: 'Consument 3', heeftAlleAutorisaties: true },
      });
      assert.equal(
        (await ac(ts, 'GET', '/applicaties/consumer?clientId=unknown-client', { token: admin })).status,
        404,
      );
      invalid(await ac(ts, 'GET', '/applicaties/consumer', { token: admin }), 'clientId', 'required');
    });

    it('callers are decided by the AC itself: no token, another client, the wrong scope 403; self-signed tokens work', async () => {
      const none = await ac(ts, 'GET', '/applicaties');
      assert.equal(none.status, 403);
      assert.equal(none.json.code, 'permission_denied');
      assert.equal((await ac(ts, 'GET', '/applicaties', { token: 'not.a.token' })).status, 403);

      const outsider = await fresh();
      const outsiderToken = await ts.token(outsider.clientId, outsider.secret);
      assert.equal((await ac(ts, 'GET', '/applicaties', { token: outsiderToken })).status, 403, 'no applicatie');

      const reader = await fresh({ selfSignedAllowed: true });
      await ac(ts, 'POST', '/applicaties', {
        token: admin,
        body: {
          clientIds: [reader.clientId],
          label: 'Lezer',
          autorisaties: [{ component: 'ac', scopes: ['autorisaties.lezen'] }],
        },
      });
      const readerToken = await ts.token(reader.clientId, reader.secret);
      assert.equal((await ac(ts, 'GET', '/applicaties', { token: readerToken })).status, 200);
      const refused = await ac(ts, 'POST', '/applicaties', {
        token: readerToken,
        body: { clientIds: [], label: 'Mag niet', heeftAlleAutorisaties: true },
      });
      assert.equal(refused.status, 403, 'lezen does not write');
      assert.equal(refused.json.code, 'permission_denied');

      const iat = Math.floor(ts.clock.now() / 1000);
      const claims = { iss: reader.clientId, client_id: reader.clientId, iat, exp: iat + 300 };
      const selfSigned = hs256(claims, reader.secret);
      assert.equal(
        (await ac(ts, 'GET', `/applicaties/consumer?clientId=${reader.clientId}`, { token: selfSigned })).status,
        200,
      );
      assert.equal(
        (await ac(ts, 'GET', '/applicaties', { token: hs256(claims, 'a-wrong-secret-of-enough-length') })).status,
        403,
      );
      // A component autorisatie of another component grants nothing in the AC.
      const zrcOnly = await fresh();
      await ac(ts, 'POST', '/applicaties', {
        token: admin,
        body: {
          clientIds: [zrcOnly.clientId],
          label: 'Alleen zaken',
          autorisaties: [{ component: 'zrc', scopes: ['audittrails.lezen'] }],
        },
      });
      assert.equal(
        (await ac(ts, 'GET', '/applicaties', { token: await ts.token(zrcOnly.clientId, zrcOnly.secret) })).status,
        403,
      );
    });

    it('nothing the standard does not define: 405 and 404 as problem documents', async () => {
      const patchList = await ac(ts, 'PATCH', '/applicaties', {
        token: admin,
        body: { label: 'x' },
        invalidRequest: true,
      });
      assert.equal(patchList.status, 405);
      assert.equal(patchList.json.code, 'method_not_allowed');
      assert.match(String(patchList.headers.allow), /GET, POST/);
      assert.equal(
        (await ac(ts, 'POST', '/applicaties/consumer', { token: admin, body: {}, invalidRequest: true })).status,
        405,
      );
      assert.equal(
        (await ac(ts, 'POST', `/applicaties/${crypto.randomUUID()}`, { token: admin, body: {}, invalidRequest: true }))
          .status,
        405,
      );
      assert.equal((await ac(ts, 'GET', '/autorisaties', { token: admin })).status, 404);
      assert.equal((await ac(ts, 'GET', '/applicaties/not-a-uuid', { token: admin })).status, 404);
    });

    it('hostile input: oversized bodies, wrong types, huge arrays, unicode controls, bad JSON: 4xx, never 5xx', async () => {
      const post = (body: unknown) => ac(ts, 'POST', '/applicaties', { token: admin, body, invalidRequest: true });
      assert.equal(
        (await ac(ts, 'POST', '/applicaties', { token: admin, raw: `{"label":"${'x'.repeat(3 * 1024 * 1024)}"}` }))
          .status,
        413,
      );
      invalid(
        await ac(ts, 'POST', '/applicaties', { token: admin, raw: '{"label":' }),
        'nonFieldErrors',
        'parse_error',
      );
      assert.equal(
        (
          await ac(ts, 'POST', '/applicaties', {
            token: admin,
            raw: 'label=x',
            contentType: 'application/x-www-form-urlencoded',
          })
        ).status,
        415,
      );
      invalid(await post([]), 'nonFieldErrors', 'invalid');
      invalid(await post('x'), 'nonFieldErrors', 'invalid');
      invalid(await post({ clientIds: 'abc', label: 'X', heeftAlleAutorisaties: true }), 'clientIds', 'not_a_list');
      invalid(await post({ clientIds: [1], label: 'X', heeftAlleAutorisaties: true }), 'clientIds.0', 'invalid');
      invalid(
        await post({ clientIds: ['x'.repeat(51)], label: 'X', heeftAlleAutorisaties: true }),
        'clientIds.0',
        'max_length',
      );
      invalid(await post({ clientIds: [], label: 7, heeftAlleAutorisaties: true }), 'label', 'invalid');
      invalid(
        await post({ clientIds: [], label: 'x'.repeat(101), heeftAlleAutorisaties: true }),
        'label',
        'max_length',
      );
      invalid(await post({ clientIds: [], label: '', heeftAlleAutorisaties: true }), 'label', 'blank');
      invalid(await post({ clientIds: [], heeftAlleAutorisaties: true }), 'label', 'required');
      invalid(await post({ label: 'X', heeftAlleAutorisaties: true }), 'clientIds', 'required');
      invalid(
        await post({ clientIds: [], label: 'X', heeftAlleAutorisaties: 'ja' }),
        'heeftAlleAutorisaties',
        'invalid',
      );
      invalid(
        await post({ clientIds: [], label: 'X', alleenIsGereedVoorPublicatie: 1, heeftAlleAutorisaties: true }),
        'alleenIsGereedVoorPublicatie',
        'invalid',
      );
      invalid(await post({ clientIds: [], label: 'X', autorisaties: null }), 'autorisaties', 'null');
      invalid(await post({ clientIds: [], label: 'X', autorisaties: [7] }), 'autorisaties.0.nonFieldErrors', 'invalid');
      invalid(
        await post({ clientIds: [], label: 'X', autorisaties: [{ component: 'ac', scopes: 'autorisaties.lezen' }] }),
        'autorisaties.0.scopes',
        'not_a_list',
      );
      invalid(
        await post({
          clientIds: Array.from({ length: 101 }, (_, i) => `c${i}`),
          label: 'X',
          heeftAlleAutorisaties: true,
        }),
        'clientIds',
        'max_length',
      );
      invalid(
        await post({
          clientIds: [],
          label: 'X',
          autorisaties: Array.from({ length: 1001 }, () => ({ component: 'ztc', scopes: ['catalogi.lezen'] })),
        }),
        'autorisaties',
        'max_length',
      );
      invalid(await post({ clientIds: ['a', 'a'], label: 'X', heeftAlleAutorisaties: true }), 'clientIds.1', 'unique');
      for (const control of ['\u0000', '\u001b[31m', '\u202e', '\u200b', '\ufeff'])
        invalid(
          await post({ clientIds: [], label: `Rechten${control}x`, heeftAlleAutorisaties: true }),
          'label',
          'invalid',
        );
      invalid(
        await post({ clientIds: ['a\u0000b'], label: 'X', heeftAlleAutorisaties: true }),
        'clientIds.0',
        'invalid',
      );
      // Many faults at once: bounded, every one named.
      const many = await post({ clientIds: Array.from({ length: 100 }, () => 5), label: 5, autorisaties: 5 });
      assert.equal(many.status, 400);
      assert.ok(many.json.invalidParams.length <= 100);
      const big = await ac(
        ts,
        'GET',
        `/applicaties?clientIds=${Array.from({ length: 101 }, (_, i) => `c${i}`).join(',')}`,
        { token: admin },
      );
      invalid(big, 'clientIds', 'max_length');
      const odd = await ac(ts, 'GET', '/applicaties?%E2%80%AEevil%1B=1', { token: admin });
      invalid(odd, 'nonFieldErrors', 'unknown-parameters');
      assert.doesNotMatch(odd.json.invalidParams[0].reason, /[\u202e\u001b]/, 'names are echoed printable only');
    });

    it("fuzzed bodies on every field (POST, PUT, PATCH): 201, 200 or 400, every answer the standard's shape, never 5xx", async () => {
      const c = await fresh();
      const target = await ac(ts, 'POST', '/applicaties', {
        token: admin,
        body: { clientIds: [], label: 'Doel', heeftAlleAutorisaties: true },
      });
      const uuid = target.json.url.split('/').pop();
      const scopes = [...new Set(Object.values(COMPONENT_SCOPES).flat()), 'zaken', 'x.lezen', ''];
      const maybe = <T>(a: fc.Arbitrary<T>) =>
        fc.oneof({ weight: 4, arbitrary: a as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: fc.anything() });
      const autorisatie = fc.record(
        {
          component: maybe(fc.constantFrom('ac', 'nrc', 'zrc', 'ztc', 'drc', 'brc', 'xx')),
          scopes: maybe(fc.array(fc.constantFrom(...scopes), { maxLength: 4 })),
          zaaktype: maybe(fc.oneof(fc.webUrl(), fc.string({ maxLength: 20 }))),
          informatieobjecttype: maybe(fc.webUrl()),
          besluittype: maybe(fc.webUrl()),
          maxVertrouwelijkheidaanduiding: maybe(fc.constantFrom('openbaar', 'geheim', 'zeer_geheim', 'Geheim', '')),
        },
        { requiredKeys: [] },
      );
      const body = fc.record(
        {
          clientIds: maybe(fc.array(fc.constantFrom(c.clientId, 'not-registered', '', 'a\u202eb'), { maxLength: 3 })),
          label: maybe(fc.string({ maxLength: 110, unit: 'binary' })),
          heeftAlleAutorisaties: maybe(fc.boolean()),
          autorisaties: maybe(fc.array(autorisatie, { maxLength: 3 })),
          alleenIsGereedVoorPublicatie: maybe(fc.boolean()),
          url: fc.string(),
        },
        { requiredKeys: [] },
      );
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('POST', 'PUT', 'PATCH'), body, async (method, b) => {
          const res = await ac(ts, method, method === 'POST' ? '/applicaties' : `/applicaties/${uuid}`, {
            token: admin,
            body: b,
            invalidRequest: true,
          });
          assert.ok([200, 201, 400].includes(res.status), `${method}: ${res.status} ${res.text.slice(0, 300)}`);
          if (res.status === 201)
            await ac(ts, 'DELETE', `/applicaties/${res.json.url.split('/').pop()}`, { token: admin });
        }),
        { seed: 20261207, numRuns: 150, endOnFailure: true },
      );
    });

    if (dialect === 'postgres')
      it("two processes on one PostgreSQL database see each other's changes", async () => {
        const db = await freshPostgres();
        const masterKey = crypto.randomBytes(32).toString('base64');
        // One issuer, as behind one balancer: each accepts the other's tokens.
        const env = { ZGW_AUTH_ISSUER: 'http://zgw-auth.test' };
        const one = await startTestServer({ databaseUrl: db.url, masterKey, env: { ...FAST_KEYS, ...env } });
        const two = await startTestServer({
          databaseUrl: db.url,
          masterKey,
          env: { ...FAST_KEYS, ...env },
          clock: one.clock,
        });
        try {
          const token = await one.token(one.admin.clientId, one.admin.secret);
          const c = await one.createClient({ rsin: '000000000' });
          const made = await ac(one, 'POST', '/applicaties', {
            token,
            body: { clientIds: [c.clientId], label: 'Gedeeld', heeftAlleAutorisaties: true },
          });
          assert.equal(made.status, 201);
          const seen = await ac(two, 'GET', `/applicaties/consumer?clientId=${c.clientId}`, { token });
          assert.equal(seen.status, 200);
          assert.equal(seen.json[0].label, 'Gedeeld');
          const uuid = made.json.url.split('/').pop();
          // Both processes keep the consumer lookup in memory: a change through one reaches the other's (the
          // change feed tells it at once; the bound is generous for a loaded machine).
          await ac(one, 'GET', `/applicaties/consumer?clientId=${c.clientId}`, { token });
          await ac(two, 'PATCH', `/applicaties/${uuid}`, { token, body: { label: 'Gewijzigd' } });
          assert.equal((await ac(one, 'GET', `/applicaties/${uuid}`, { token })).json.label, 'Gewijzigd');
          const consumerLabel = async (ts: TestServer) =>
            (await ac(ts, 'GET', `/applicaties/consumer?clientId=${c.clientId}`, { token })).json[0].label;
          assert.ok(await eventually(async () => (await consumerLabel(one)) === 'Gewijzigd', 5000));
          // A caller's rights too: taking the admin's away through one refuses it at the other.
          const reader = await one.createClient({ rsin: '000000000' });
          const readerApp = await ac(one, 'POST', '/applicaties', {
            token,
            body: { clientIds: [reader.clientId], label: 'Lezer', heeftAlleAutorisaties: true },
          });
          const readerToken = await one.token(reader.clientId, reader.secret);
          assert.equal((await ac(two, 'GET', '/applicaties', { token: readerToken })).status, 200);
          await ac(one, 'PATCH', `/applicaties/${readerApp.json.url.split('/').pop()}`, {
            token,
            body: { heeftAlleAutorisaties: false, autorisaties: [{ component: 'ztc', scopes: ['catalogi.lezen'] }] },
          });
          assert.ok(
            await eventually(
              async () => (await ac(two, 'GET', '/applicaties', { token: readerToken })).status === 403,
              5000,
            ),
          );
          await ac(one, 'DELETE', `/applicaties/${uuid}`, { token });
          assert.equal((await ac(two, 'GET', `/applicaties/${uuid}`, { token })).status, 404);
        } finally {
          await two.close();
          await one.close();
          await db.drop();
        }
      });
  });
}

describe('Autorisaties API settings', () => {
  it('ZGW_AUTH_AC_BASE_PATH moves it, urls follow; ZGW_AUTH_AC_ENABLED=false serves none; bad paths are refused', async () => {
    const moved = await startTestServer({ env: { ...FAST_KEYS, ZGW_AUTH_AC_BASE_PATH: '/zgw/ac/v1/' } });
    try {
      const token = await moved.token(moved.admin.clientId, moved.admin.secret);
      const res = await request(`${moved.url}/zgw/ac/v1/applicaties`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(res.status, 200, res.text);
      assert.ok(res.json.results[0].url.startsWith(`${moved.url}/zgw/ac/v1/applicaties/`), res.json.results[0].url);
      assert.equal(
        (await request(`${moved.url}${BASE}/applicaties`, { headers: { authorization: `Bearer ${token}` } })).status,
        404,
      );
    } finally {
      await moved.close();
    }
    const off = await startTestServer({ env: { ...FAST_KEYS, ZGW_AUTH_AC_ENABLED: 'false' } });
    try {
      const token = await off.token(off.admin.clientId, off.admin.secret);
      assert.equal(
        (await request(`${off.url}${BASE}/applicaties`, { headers: { authorization: `Bearer ${token}` } })).status,
        404,
      );
    } finally {
      await off.close();
    }
    for (const bad of ['autorisaties', '/admin/ac', '/a/../b', '/a b', '/', '/console'])
      assert.throws(() => loadConfig({ ZGW_AUTH_AC_BASE_PATH: bad }), /ZGW_AUTH_AC_BASE_PATH/, bad);
  });
});
