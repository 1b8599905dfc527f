import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ApplicatieReportEntry } from '../src/migrate/apply-applicatie-migration.js';
import type { MigrationReport } from '../src/migrate/apply-migration-plan.js';
import {
  CLI,
  type DialectName,
  firstAdminSecret,
  type HttpResult,
  postForm,
  request,
  startServeProcess,
  startTestServer,
  type TestServer,
} from './helpers.js';

const run = promisify(execFile);
const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures');
const BASE = '/autorisaties/api/v1';
const RSIN = '123456782';
const OTHER_RSIN = '000000000';
/** A strong secret per client id of the dump: the clients part of the migration must create them. */
const strong = (id: string) => `${id}-${crypto.createHash('sha256').update(id).digest('base64url')}`;
const url = (kind: string, n: number) =>
  `https://openzaak.example.nl/catalogi/api/v1/${kind}/00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

type Row = { model: string; pk: number; fields: Record<string, unknown> };

/**
 * Open Zaak's sample dump (test/fixtures/open-zaak-dumpdata.json: two Applicaties, one Autorisatie)
 * with Applicaties of our own: one that is imported with autorisaties of every component, and one
 * for each rule of the Autorisaties API an Applicatie can break.
 */
function richDump(): Row[] {
  const sample = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'open-zaak-dumpdata.json'), 'utf8')) as Row[];
  const secrets: Row[] = [];
  const applicaties: Row[] = [];
  const autorisaties: Row[] = [];
  let autorisatiePk = 100;
  const add = (pk: number, label: string, clientIds: string[], all: boolean, rights: Record<string, unknown>[]) => {
    for (const id of clientIds)
      if (!secrets.some((s) => s.fields.identifier === id))
        secrets.push({
          model: 'vng_api_common.jwtsecret',
          pk: 100 + secrets.length,
          fields: { identifier: id, secret: strong(id) },
        });
    applicaties.push({
      model: 'authorizations.applicatie',
      pk,
      fields: {
        uuid: `00000000-0000-4000-a000-${String(pk).padStart(12, '0')}`,
        client_ids: clientIds,
        label,
        heeft_alle_autorisaties: all,
      },
    });
    for (const r of rights)
      autorisaties.push({
        model: 'authorizations.autorisatie',
        pk: autorisatiePk++,
        fields: {
          applicatie: pk,
          zaaktype: '',
          informatieobjecttype: '',
          besluittype: '',
          max_vertrouwelijkheidaanduiding: '',
          ...r,
        },
      });
  };
  const ztc = { component: 'ztc', scopes: ['catalogi.lezen'] };
  add(3, 'Documenten', ['documenten-app'], false, [
    {
      component: 'drc',
      scopes: ['documenten.lezen', 'documenten.aanmaken'],
      informatieobjecttype: url('informatieobjecttypen', 1),
      max_vertrouwelijkheidaanduiding: 'vertrouwelijk',
    },
    { component: 'brc', scopes: ['besluiten.lezen'], besluittype: url('besluittypen', 2) },
    ztc,
    { component: 'nrc', scopes: ['notificaties.consumeren'] },
    { component: 'ac', scopes: ['autorisaties.lezen'] },
  ]);
  // Each of these breaks one rule; none may be imported, in part or whole.
  add(4, 'Dubbel', ['open-formulieren'], true, []);
  add(5, 'Zonder zaaktype', ['ac003-app'], false, [
    { component: 'zrc', scopes: ['zaken.lezen'], max_vertrouwelijkheidaanduiding: 'openbaar' },
  ]);
  add(6, 'Beide', ['beide-app'], true, [ztc]);
  add(7, 'Geen rechten', ['geen-rechten-app'], false, []);
  add(8, 'Klantinteracties', ['kc-app'], false, [{ component: 'kc', scopes: ['klanten.lezen'] }, ztc]);
  add(9, 'Verkeerde scope', ['scope-app'], false, [{ component: 'ztc', scopes: ['zaken.lezen'] }]);
  add(10, 'Al bezet', ['bezet-app'], true, []);
  add(11, 'Twee organisaties', ['org-app', 'andere-org-app'], true, []);
  add(12, 'Zonder clients', [], true, []);
  autorisaties.push({
    model: 'authorizations.autorisatie',
    pk: 999,
    fields: { applicatie: 77, component: 'ztc', scopes: ['catalogi.lezen'] },
  });
  // Open Zaak's sample and these: secrets, then applicaties, then autorisaties, as dumpdata writes them.
  const of = (model: string) => sample.filter((r) => r.model === model);
  return [
    ...of('vng_api_common.jwtsecret'),
    ...secrets,
    ...of('authorizations.applicatie'),
    ...applicaties,
    ...of('authorizations.autorisatie'),
    ...autorisaties,
  ];
}

/** The reasons each rule-breaking Applicatie is reported with. */
const REFUSED: Record<string, RegExp> = {
  // zac-gemeente's weak secret keeps it out (no --allow-weak-secrets), zac-gemeente-test has none.
  'authorizations.applicatie pk 2': /client ids zac-gemeente, zac-gemeente-test are not clients of the registry/,
  'authorizations.applicatie pk 4': /open-formulieren is in an earlier applicatie of the source/,
  'authorizations.applicatie pk 5': /authorizations\.autorisatie pk 105: zaaktype \[required\]/,
  'authorizations.applicatie pk 6': /nonFieldErrors \[ambiguous-authorizations-specified\]/,
  'authorizations.applicatie pk 7': /nonFieldErrors \[missing-authorizations\]/,
  'authorizations.applicatie pk 8': /authorizations\.autorisatie pk 107: component \[invalid_choice\]/,
  'authorizations.applicatie pk 9': /authorizations\.autorisatie pk 109: scopes\.0 \[invalid_choice\]/,
  'authorizations.applicatie pk 10': /bezet-app in [0-9a-f-]{36} \("Eerder"\)/,
  'authorizations.applicatie pk 11': /more than one organisation/,
};

/** The tests of migrating applicaties for one dialect (migrate-applicaties-sqlite, -postgres run them in parallel). */
export function migrateApplicatiesTests(dialect: DialectName): void {
  describe(`migrate applicaties (${dialect})`, () => {
    let ts: TestServer;
    let dir: string;
    let env: Record<string, string>;
    let admin: string;
    const cli = async (args: string[], extra: Record<string, string> = {}) => {
      try {
        const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
          env: { ...process.env, ...env, ...extra },
        });
        return { code: 0, stdout, stderr };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    };
    const report = async (args: string[], extra: Record<string, string> = {}): Promise<MigrationReport> => {
      const r = await cli(['migrate', ...args, '--json'], extra);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as MigrationReport;
    };
    const ac = (method: string, p: string, body?: unknown): Promise<HttpResult> =>
      request(`${ts.url}${BASE}${p}`, {
        method,
        headers: {
          authorization: `Bearer ${admin}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    /** The applicaties as stored, and every change in the audit trail. */
    const registry = async () => {
      const db = ts.app.storage.db;
      return {
        applicaties: await db.selectFrom('applicaties').selectAll().orderBy('uuid').execute(),
        clients: await db.selectFrom('applicatie_clients').selectAll().orderBy('client_id').execute(),
        changes: await db
          .selectFrom('audit_events')
          .selectAll()
          .where('action', 'not in', ['token.issued', 'client_auth.failed'])
          .orderBy('id')
          .execute(),
      };
    };
    const outcome = (r: MigrationReport) => r.applicaties!.entries.map((a) => [a.source, a.status, a.created]);
    const entry = (r: MigrationReport, source: string): ApplicatieReportEntry =>
      r.applicaties!.entries.find((a) => a.source === source)!;

    const setUp = async (t: TestContext) => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-migrate-ac-'));
      const masterKey = crypto.randomBytes(32).toString('base64');
      const server = await startTestServer({
        dialect,
        dataDir: dir,
        masterKey,
        env: { ZGW_AUTH_SIGNING_ALG: 'EdDSA' },
      });
      t.after(() => server.close());
      ts = server;
      env = {
        ZGW_AUTH_DATA_DIR: dir,
        ZGW_AUTH_MASTER_KEY: masterKey,
        ...(ts.config.databaseUrl ? { DATABASE_URL: ts.config.databaseUrl } : {}),
      };
      admin = await ts.token(ts.admin.clientId, ts.admin.secret);
    };

    it('Open Zaak: each Applicatie with its Autorisaties becomes an applicatie of the migrated clients; a dry run reports the same and changes nothing', async (t) => {
      await setUp(t);
      const dump = path.join(dir, 'dump.json');
      fs.writeFileSync(dump, JSON.stringify(richDump()));
      // Already here: a client in an applicatie of its own, and one of another organisation.
      const actor = { id: 'test', rsin: OTHER_RSIN, everyOrganisation: true };
      await ts.app.clients.create({ clientId: 'bezet-app', rsin: RSIN }, { id: 'test' });
      await ts.app.autorisaties.create(
        { clientIds: ['bezet-app'], label: 'Eerder', heeftAlleAutorisaties: true },
        actor,
      );
      await ts.app.clients.create({ clientId: 'andere-org-app', rsin: OTHER_RSIN }, { id: 'test' });
      const before = await registry();

      const args = ['open-zaak', '--file', dump, '--rsin', RSIN];
      const dry = await report([...args, '--dry-run']);
      assert.equal(dry.dryRun, true);
      assert.deepEqual(await registry(), before, 'a dry run changes nothing');
      const done = await report(args);
      assert.deepEqual(outcome(done), outcome(dry), 'the dry run reported what the run did');
      assert.deepEqual(outcome(done), [
        ['authorizations.applicatie pk 1', 'imported', true],
        ['authorizations.applicatie pk 2', 'attention', false],
        ['authorizations.applicatie pk 3', 'imported', true],
        ...[4, 5, 6, 7, 8, 9, 10, 11].map((pk) => [`authorizations.applicatie pk ${pk}`, 'attention', false]),
        ['authorizations.applicatie pk 12', 'skipped', false],
      ]);
      assert.deepEqual(done.applicaties!.summary, { imported: 2, skipped: 1, attention: 9, created: 2 });
      for (const [source, reason] of Object.entries(REFUSED)) {
        assert.equal(entry(done, source).reasons.length, 1, source);
        assert.match(entry(done, source).reasons[0]!, reason, source);
      }
      assert.match(
        done.notes.join('\n'),
        /1 authorizations\.autorisatie record whose applicatie is not in the file \(pk 999\)/,
      );

      // Open Formulieren, as Open Zaak had it: its uuid, its zrc autorisatie with zaaktype and level.
      const forms = await ac('GET', '/applicaties/consumer?clientId=open-formulieren');
      assert.equal(forms.status, 200, forms.text);
      assert.deepEqual(forms.json, [
        {
          url: `${ts.url}${BASE}/applicaties/78f9ddcd-2ff0-4d7e-bfd8-46c63e5aa0bf`,
          clientIds: ['open-formulieren'],
          label: 'Open Formulieren',
          heeftAlleAutorisaties: false,
          autorisaties: [
            {
              component: 'zrc',
              componentWeergave: 'Zaakregistratiecomponent',
              scopes: ['zaken.lezen', 'zaken.aanmaken'],
              zaaktype: 'https://openzaak.example.nl/catalogi/api/v1/zaaktypen/0119dd4e-7be9-477e-bccf-75023b1453c1',
              maxVertrouwelijkheidaanduiding: 'openbaar',
            },
          ],
          alleenIsGereedVoorPublicatie: false,
        },
      ]);
      const documenten = await ac('GET', '/applicaties/00000000-0000-4000-a000-000000000003');
      assert.equal(documenten.status, 200, documenten.text);
      assert.deepEqual(
        documenten.json.autorisaties.map((a: Record<string, unknown>) => {
          const { componentWeergave, ...rest } = a;
          return rest;
        }),
        [
          {
            component: 'drc',
            scopes: ['documenten.lezen', 'documenten.aanmaken'],
            informatieobjecttype: url('informatieobjecttypen', 1),
            maxVertrouwelijkheidaanduiding: 'vertrouwelijk',
          },
          { component: 'brc', scopes: ['besluiten.lezen'], besluittype: url('besluittypen', 2) },
          { component: 'ztc', scopes: ['catalogi.lezen'] },
          { component: 'nrc', scopes: ['notificaties.consumeren'] },
          { component: 'ac', scopes: ['autorisaties.lezen'] },
        ],
      );
      // Its clients are the migrated ones: it may use its autorisaties.lezen with its own self-signed token.
      const own = await request(`${ts.url}${BASE}/applicaties/consumer?clientId=documenten-app`, {
        headers: { authorization: `Bearer ${await ts.token('documenten-app', strong('documenten-app'))}` },
      });
      assert.equal(own.status, 200, own.text);

      // Nothing of a refused one: no applicatie under its uuid, none for its clients (which were migrated).
      for (const pk of [2, 4, 5, 6, 7, 8, 9, 11]) {
        const source = `authorizations.applicatie pk ${pk}`;
        const uuid =
          pk === 2 ? '2b50e6cc-8242-4090-8936-d2ecf438be84' : `00000000-0000-4000-a000-${String(pk).padStart(12, '0')}`;
        assert.equal((await ac('GET', `/applicaties/${uuid}`)).status, 404, source);
      }
      for (const id of [
        'ac003-app',
        'beide-app',
        'geen-rechten-app',
        'kc-app',
        'scope-app',
        'org-app',
        'andere-org-app',
      ])
        assert.equal((await ac('GET', `/applicaties/consumer?clientId=${id}`)).status, 404, id);
      assert.equal((await ac('GET', '/applicaties/consumer?clientId=bezet-app')).json[0].label, 'Eerder');
      assert.equal(
        (await ac('GET', '/applicaties/consumer?clientId=open-formulieren')).json[0].heeftAlleAutorisaties,
        false,
      );

      // Each one created is in the audit trail, made by the CLI.
      const created = (await registry()).changes.filter((c) => c.action === 'applicatie.created' && c.actor === 'cli');
      assert.deepEqual(created.map((c) => c.target).sort(), [
        '00000000-0000-4000-a000-000000000003',
        '78f9ddcd-2ff0-4d7e-bfd8-46c63e5aa0bf',
      ]);

      // The table: a row per Applicatie with its reasons below; the count at the end.
      const text = await cli(['migrate', ...args, '--dry-run']);
      assert.match(text.stdout, /^APPLICATIE +LABEL +CLIENT IDS +RIGHTS +RESULT/m);
      assert.match(
        text.stdout,
        /^authorizations\.applicatie pk 3 +Documenten +documenten-app +5 autorisaties +skipped +no /m,
      );
      assert.match(
        text.stdout,
        /^ {2}authorizations\.applicatie pk 6 "Beide"\n {4}- not imported: nonFieldErrors \[ambiguous-authorizations-specified\]/m,
      );
      assert.match(
        text.stdout,
        /applicaties: 0 imported, 3 skipped, 9 need attention; 0 would be created \(dry run: nothing was changed\)/,
      );
    });

    it("Open Zaak: an Applicatie whose client ids are all another organisation's clients here is not imported (the dump is --rsin's)", async (t) => {
      await setUp(t);
      // A client id of the dump that is, here, a client of another organisation (same name, other party).
      await ts.app.clients.create({ clientId: 'gedeeld-app', rsin: OTHER_RSIN }, { id: 'test' });
      const dump = path.join(dir, 'dump.json');
      fs.writeFileSync(
        dump,
        JSON.stringify([
          {
            model: 'vng_api_common.jwtsecret',
            pk: 1,
            fields: { identifier: 'gedeeld-app', secret: strong('gedeeld-app') },
          },
          {
            model: 'authorizations.applicatie',
            pk: 1,
            fields: {
              uuid: '00000000-0000-4000-a000-000000000101',
              client_ids: ['gedeeld-app'],
              label: 'Alles',
              heeft_alle_autorisaties: true,
            },
          },
        ]),
      );
      const before = await registry();
      for (const dryRun of [true, false]) {
        const done = await report(['open-zaak', '--file', dump, '--rsin', RSIN, ...(dryRun ? ['--dry-run'] : [])]);
        const a = entry(done, 'authorizations.applicatie pk 1');
        assert.equal(a.status, 'attention', JSON.stringify(a));
        assert.match(
          a.reasons[0]!,
          new RegExp(`gedeeld-app is a client of organisation ${OTHER_RSIN} here, not of ${RSIN}`),
        );
      }
      assert.equal((await ac('GET', '/applicaties/consumer?clientId=gedeeld-app')).status, 404);
      assert.deepEqual((await registry()).applicaties, before.applicaties);
    });

    it('Open Zaak: running again changes nothing and duplicates nothing; an applicatie changed here since is reported, not overwritten', async (t) => {
      await setUp(t);
      const dump = path.join(FIXTURES, 'open-zaak-dumpdata.json');
      const args = ['open-zaak', '--file', dump, '--rsin', RSIN];
      const first = await report(args);
      assert.deepEqual(outcome(first), [
        ['authorizations.applicatie pk 1', 'imported', true],
        ['authorizations.applicatie pk 2', 'attention', false],
      ]);
      const after = await registry();
      const again = await report(args);
      assert.deepEqual(outcome(again), [
        ['authorizations.applicatie pk 1', 'skipped', false],
        ['authorizations.applicatie pk 2', 'attention', false],
      ]);
      assert.deepEqual(entry(again, 'authorizations.applicatie pk 1').reasons, ['exists: unchanged']);
      assert.deepEqual(await registry(), after, 'nothing written, nothing audited');
      assert.equal((await ac('GET', '/applicaties?clientIds=open-formulieren')).json.count, 1);

      // Changed here meanwhile: left as it is, and said so.
      const uuid = '78f9ddcd-2ff0-4d7e-bfd8-46c63e5aa0bf';
      assert.equal((await ac('PATCH', `/applicaties/${uuid}`, { label: 'Formulieren (hier)' })).status, 200);
      const changed = await report(args);
      assert.equal(entry(changed, 'authorizations.applicatie pk 1').status, 'attention');
      assert.match(
        entry(changed, 'authorizations.applicatie pk 1').reasons[0]!,
        /exists here with other label than in the source: left as it is/,
      );
      assert.equal((await ac('GET', `/applicaties/${uuid}`)).json.label, 'Formulieren (hier)');

      // --no-applicaties: the clients only.
      const clientsOnly = await report([...args, '--no-applicaties']);
      assert.equal(clientsOnly.applicaties, undefined);
      assert.match(clientsOnly.notes.join(), /--no-applicaties: 2 applicaties of the file not migrated/);
    });

    it('another Autorisaties API (a second zgw-auth process): every page read with a self-signed token, applicaties of known client ids created under their uuids, unknown ones reported', async (t) => {
      await setUp(t);
      // The source: `zgw-auth serve` of its own, its issuer the address it answers at (its next links use it).
      const source = await startServeProcess(fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-ac-source-')), {
        ZGW_AUTH_HOST: '127.0.0.1',
        ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
      });
      t.after(() => source.stop());
      const sourceAdmin = { id: 'zgw-auth-admin', secret: firstAdminSecret(source.output())! };
      const sourceToken = (
        await postForm(`${source.url}/token`, {
          grant_type: 'client_credentials',
          client_id: sourceAdmin.id,
          client_secret: sourceAdmin.secret,
        })
      ).json.access_token as string;
      const at = (method: string, p: string, body: unknown) =>
        request(`${source.url}${p}`, {
          method,
          headers: { authorization: `Bearer ${sourceToken}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      // 105 applicaties, two pages: the reader (autorisaties.lezen, may self-sign), and 104 others.
      const reader = await at('POST', '/admin/clients', { clientId: 'ac-reader', rsin: RSIN, selfSignedAllowed: true });
      assert.equal(reader.status, 201, reader.text);
      const readerSecret = reader.json.secret.value as string;
      const made = await at('POST', `${BASE}/applicaties`, {
        clientIds: ['ac-reader'],
        label: 'Lezer',
        autorisaties: [{ component: 'ac', scopes: ['autorisaties.lezen'] }],
      });
      assert.equal(made.status, 201, made.text);
      const ids = Array.from({ length: 104 }, (_, i) => `zaaksysteem-${i}`);
      for (const [i, id] of ids.entries()) {
        assert.equal((await at('POST', '/admin/clients', { clientId: id, rsin: RSIN })).status, 201);
        const app = await at('POST', `${BASE}/applicaties`, {
          clientIds: [id],
          label: `Zaaksysteem ${i}`,
          autorisaties: [
            {
              component: 'zrc',
              scopes: ['zaken.lezen'],
              zaaktype: url('zaaktypen', i),
              maxVertrouwelijkheidaanduiding: 'intern',
            },
          ],
          alleenIsGereedVoorPublicatie: i % 2 === 0,
        });
        assert.equal(app.status, 201, app.text);
      }
      // Here: the reader and 100 of the others; 4 are unknown.
      for (const id of ['ac-reader', ...ids.slice(0, 100)])
        await ts.app.clients.create({ clientId: id, rsin: RSIN }, { id: 'test' });
      const before = await registry();
      const args = ['autorisaties-api', '--url', `${source.url}${BASE}`, '--client-id', 'ac-reader'];
      const secret = { ZGW_AUTH_CLIENT_SECRET: readerSecret };

      const dry = await report([...args, '--dry-run'], secret);
      assert.deepEqual(await registry(), before, 'a dry run changes nothing');
      // --rsin: the source's applicaties are another organisation's; none of its rights reach our clients.
      const scoped = await report([...args, '--dry-run', '--rsin', OTHER_RSIN], secret);
      assert.equal(scoped.applicaties!.summary.imported, 0, JSON.stringify(scoped.applicaties!.summary));
      assert.match(
        scoped.applicaties!.entries.find((a) => a.clientIds[0] === ids[0])!.reasons[0]!,
        new RegExp(`${ids[0]} is a client of organisation ${RSIN} here, not of ${OTHER_RSIN}`),
      );
      const done = await report(args, secret);
      assert.equal(done.source, 'autorisaties-api');
      assert.deepEqual(done.clients, []);
      assert.deepEqual(outcome(done), outcome(dry));
      // The source's bootstrap applicatie of its administrator: that client is in one here already, alike.
      assert.deepEqual(done.applicaties!.summary, { imported: 101, skipped: 1, attention: 4, created: 101 });
      const unknown = done.applicaties!.entries.filter((a) => a.status === 'attention');
      assert.deepEqual(unknown.map((a) => a.clientIds[0]).sort(), ids.slice(100).sort());
      for (const a of unknown) assert.match(a.reasons[0]!, /is not a client of the registry/);
      // Under its uuid, as the source has it (its 1.1 field too).
      for (const i of [0, 57, 99]) {
        const there = await request(`${source.url}${BASE}/applicaties/consumer?clientId=${ids[i]}`, {
          headers: { authorization: `Bearer ${sourceToken}` },
        });
        const here = await ac('GET', `/applicaties/consumer?clientId=${ids[i]}`);
        assert.equal(here.status, 200, here.text);
        const { url: thereUrl, ...thereBody } = there.json[0];
        const { url: hereUrl, ...hereBody } = here.json[0];
        assert.equal(hereUrl.split('/').pop(), thereUrl.split('/').pop());
        assert.deepEqual(hereBody, thereBody);
      }
      for (const id of ids.slice(100))
        assert.equal((await ac('GET', `/applicaties/consumer?clientId=${id}`)).status, 404);

      // Again: unchanged, nothing written.
      const after = await registry();
      const again = await report(args, secret);
      assert.deepEqual(again.applicaties!.summary, { imported: 0, skipped: 102, attention: 4, created: 0 });
      assert.deepEqual(await registry(), after);

      // Bounded: a source with more pages than allowed is refused whole; a wrong secret is refused by the source.
      const bounded = await cli(['migrate', ...args, '--max-pages', '1'], secret);
      assert.notEqual(bounded.code, 0);
      assert.match(bounded.stderr, /more than 1 pages of applicaties: nothing was changed/);
      const refused = await cli(['migrate', ...args], { ZGW_AUTH_CLIENT_SECRET: strong('wrong') });
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /403: the source refused client id ac-reader/);
      assert.deepEqual(await registry(), after);
    });

    if (dialect === 'sqlite')
      it("another Autorisaties API: a next link that leads away from the source's /applicaties is not followed, and nothing changes", async (t) => {
        await setUp(t);
        // Where the token must never go.
        let elsewhere = 0;
        const other = http.createServer((_req, res) => {
          elsewhere++;
          res.end('[]');
        });
        await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
        t.after(() => new Promise((r) => other.close(r)));
        const otherPort = (other.address() as { port: number }).port;
        let next = '';
        const fake = http.createServer((req, res) => {
          res.setHeader('content-type', 'application/json');
          res.end(
            JSON.stringify({
              count: 2,
              next: req.url?.includes('page=2') ? null : next,
              previous: null,
              results: [
                {
                  url: `http://x/applicaties/${crypto.randomUUID()}`,
                  clientIds: [ts.admin.clientId],
                  label: 'x',
                  heeftAlleAutorisaties: true,
                },
              ],
            }),
          );
        });
        await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
        t.after(() => new Promise((r) => fake.close(r)));
        const port = (fake.address() as { port: number }).port;
        const before = await registry();
        const secret = { ZGW_AUTH_CLIENT_SECRET: strong('any') };
        for (const away of [
          `http://127.0.0.1:${otherPort}${BASE}/applicaties?page=2`,
          `http://localhost:${port}${BASE}/applicaties?page=2`,
          `http://127.0.0.1:${port}${BASE}/elders?page=2`,
        ]) {
          next = away;
          const r = await cli(
            ['migrate', 'autorisaties-api', '--url', `http://127.0.0.1:${port}${BASE}`, '--client-id', 'c'],
            secret,
          );
          assert.notEqual(r.code, 0, away);
          assert.match(
            r.stderr,
            /leads away from .*: not followed \(the token is sent to the source only\); nothing was changed/,
          );
        }
        assert.equal(elsewhere, 0);
        // The same page, its next on the source: followed.
        next = `http://127.0.0.1:${port}${BASE}/applicaties?page=2`;
        const ok = await report(
          ['autorisaties-api', '--url', `http://127.0.0.1:${port}${BASE}`, '--client-id', 'c', '--dry-run'],
          secret,
        );
        assert.equal(ok.applicaties!.entries.length, 2);
        assert.deepEqual(await registry(), before);
        // Plain http only to this machine: the token could be read on the way.
        const plain = await cli(
          [
            'migrate',
            'autorisaties-api',
            '--url',
            'http://openzaak.example.nl/autorisaties/api/v1',
            '--client-id',
            'c',
          ],
          secret,
        );
        assert.notEqual(plain.code, 0);
        assert.match(plain.stderr, /https \(or http to this machine\)/);
      });
  });
}
