import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createApp, createLogger } from '../src/app.js';
import type { AcActor } from '../src/autorisaties/autorisaties-service.js';
import type { InvalidParamsError } from '../src/errors.js';
import { FIRST_ADMIN_CLIENT_ID } from '../src/clients/model.js';
import { loadConfig } from '../src/config.js';
import { exportRegistry, importRegistry } from '../src/transfer/registry-transfer.js';
import { REGISTRY_TABLES } from '../src/transfer/registry-export.js';
import { decodePart, forEachDialect, freshPostgres, hs256, postForm, startTestServer } from './helpers.js';

/** A compact JWS signed with an ES256 key (IEEE P1363 signature, as RFC 7518 §3.4 says). */
function jwt(header: Record<string, unknown>, claims: Record<string, unknown>, key: crypto.KeyObject): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${part(header)}.${part(claims)}`;
  const signature = crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures');

/**
 * An export written by an earlier build (`zgw-auth export`, kept byte for byte), of a registry made
 * under this test-only master key: a signing key, the first administrator, an organisation, a client
 * with a known secret, a self-signing client with a known secret, a revoked token id.
 */
const EXPORT_FILE = path.join(FIXTURES, 'registry-export-v1.json');
const MASTER_KEY = 'c2hhcGUtZml4dHVyZS1tYXN0ZXIta2V5LTMyLWJ5dGU=';
const APP_SECRET = 'Fixture-secret-Qw8vX2mR9pLw4nT6yB3c';
const SELF_SIGNING_SECRET = 'Fixture-selfsigned-Zr5tY7uI1oP3aS9dF2gH';

forEachDialect((dialect) => {
  describe(`registry export and import (${dialect})`, () => {
    it('an export written by an earlier build imports: its key signs, its secrets authenticate and open, its revocations hold; exported again, the same rows', async () => {
      const text = fs.readFileSync(EXPORT_FILE, 'utf8');
      const file = JSON.parse(text) as { tables: Record<string, Array<Record<string, unknown>>> };
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-auth-transfer-'));
      const pgdb = dialect === 'postgres' ? await freshPostgres() : undefined;
      try {
        const config = loadConfig({
          ZGW_AUTH_DATA_DIR: dataDir,
          ZGW_AUTH_MASTER_KEY: MASTER_KEY,
          ...(pgdb ? { DATABASE_URL: pgdb.url } : {}),
        });
        const empty = await createApp(config, { log: createLogger('warn') });
        try {
          assert.deepEqual(await importRegistry(empty.transfer, JSON.parse(text)), {
            signing_keys: 1,
            organisations: 2,
            clients: 3,
            client_secrets: 3,
            client_keys: 0,
            applicaties: 0,
            applicatie_clients: 0,
            audit_events: 5,
            revoked_tokens: 1,
            used_once: 0,
          });
          // Nothing was added or changed on the way in: an export of the new registry holds the same
          // rows, with the columns and tables of later versions at their defaults (secret methods).
          const again = await exportRegistry(empty.transfer);
          const later: Record<string, Array<Record<string, unknown>>> = {
            ...file.tables,
            clients: file.tables.clients!.map((r) => ({
              ...r,
              auth_methods: '["client_secret_basic","client_secret_post"]',
              jwks_uri: null,
              tls_subject_field: null,
              tls_subject_value: null,
              oin: null,
              dpop_bound_access_tokens: 0,
              certificate_bound_access_tokens: 0,
            })),
            // A secret's expiry announcement (migration 0015) comes last in its row.
            client_secrets: file.tables.client_secrets!.map((r) => ({ ...r, expiry_announced_at: null })),
            client_keys: [],
            applicaties: [],
            applicatie_clients: [],
            used_once: [],
          };
          const expected = Object.fromEntries(REGISTRY_TABLES.map((t) => [t, later[t]]));
          assert.deepEqual(again.tables, expected);
          assert.equal(JSON.stringify(again.tables), JSON.stringify(expected), 'the same columns in the same order');
        } finally {
          await empty.close();
        }

        const ts = await startTestServer({ dataDir, databaseUrl: pgdb?.url, masterKey: MASTER_KEY });
        try {
          const [signingKey] = file.tables.signing_keys!;
          const token = await ts.token('fixture-app', APP_SECRET);
          assert.equal(decodePart(token, 0).kid, signingKey!.kid, 'signed with the imported key');
          assert.equal(decodePart(token, 1).user_id, 'fixture', 'with the static claims');
          assert.equal((await ts.app.verifier.verify(token)).clientId, 'fixture-app');
          const iat = Math.floor(ts.clock.now() / 1000);
          const selfSigned = hs256(
            { iss: 'fixture-selfsigned', client_id: 'fixture-selfsigned', iat, exp: iat + 300 },
            SELF_SIGNING_SECRET,
          );
          const principal = await ts.app.verifier.verify(selfSigned);
          assert.equal(principal.kind, 'self-signed', 'the sealed secret opens under the same master key');
          assert.equal(await ts.app.revocations.isRevoked('fixture-revoked-jti'), true);
          // Events added now are numbered past the imported ones.
          await ts.app.audit.record({ actor: 'test', action: 'x', target: 'y', details: {} });
          const [newest] = await ts.app.audit.list({ limit: 1 });
          assert.ok(newest!.id > 5, `id ${newest!.id}`);
        } finally {
          await ts.close();
        }
      } finally {
        await pgdb?.drop();
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    });

    it("a client's registered keys and methods move with the registry; a key row holding private key material is refused", async () => {
      const masterKey = crypto.randomBytes(32).toString('base64');
      const source = await startTestServer({ masterKey, dialect });
      const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
      let text: string;
      let clientId: string;
      try {
        clientId = (await source.createClient({ authMethods: ['private_key_jwt'] })).clientId;
        const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'moved-key' };
        await source.app.clients.addKeys(clientId, JSON.stringify(jwk), { id: 'test' });
        text = JSON.stringify(await exportRegistry(source.app.transfer));
      } finally {
        await source.close();
      }
      const file = JSON.parse(text) as { tables: Record<string, Array<Record<string, unknown>>> };
      assert.equal(file.tables.client_keys!.length, 1);

      // A private member smuggled into a key row: refused by the rules of registration, nothing imported.
      const smuggled = structuredClone(file);
      const row = smuggled.tables.client_keys![0]!;
      row.public_jwk = JSON.stringify({
        ...JSON.parse(String(row.public_jwk)),
        ...privateKey.export({ format: 'jwk' }),
      });
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-auth-transfer-'));
      try {
        const config = loadConfig({ ZGW_AUTH_DATA_DIR: dataDir, ZGW_AUTH_MASTER_KEY: masterKey });
        const target = await createApp(config, { log: createLogger('warn') });
        try {
          await assert.rejects(importRegistry(target.transfer, smuggled), /private or symmetric key material/);
          // The authentication fields of a client row, held to the registry's own rules.
          const edited = (change: (client: Record<string, unknown>) => void) => {
            const copy = structuredClone(file);
            change(copy.tables.clients!.find((c) => c.client_id === clientId)!);
            return copy;
          };
          const refusals: Array<[(client: Record<string, unknown>) => void, RegExp]> = [
            [(c) => (c.oin = 'not-an-oin'), /oin: 20 digits/],
            [(c) => ((c.tls_subject_field = 'subject_dn'), (c.tls_subject_value = '')), /tlsSubject/],
            [(c) => ((c.tls_subject_field = 'subject_dn'), (c.tls_subject_value = null)), /both or neither/],
            // A jwks_uri into the loopback network, as registration refuses it (no SSRF by import).
            [(c) => (c.jwks_uri = 'https://127.0.0.1/jwks'), /jwks_uri points at an address that is not public/],
            // An OIN its imported key (no x5c) does not prove.
            [(c) => (c.oin = '00000001234567890000'), /key "moved-key": .*has no x5c/],
          ];
          for (const [change, refused] of refusals)
            await assert.rejects(importRegistry(target.transfer, edited(change)), refused);
          assert.equal((await importRegistry(target.transfer, JSON.parse(text))).client_keys, 1);
        } finally {
          await target.close();
        }
        const ts = await startTestServer({ dataDir, masterKey });
        try {
          const t = Math.floor(ts.clock.now() / 1000);
          const assertion = jwt(
            { alg: 'ES256', kid: 'moved-key' },
            { iss: clientId, sub: clientId, aud: `${ts.url}/token`, iat: t, exp: t + 60, jti: crypto.randomUUID() },
            privateKey,
          );
          const res = await postForm(`${ts.url}/token`, {
            grant_type: 'client_credentials',
            client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
            client_assertion: assertion,
          });
          assert.equal(res.status, 200, JSON.stringify(res.json));
        } finally {
          await ts.close();
        }
      } finally {
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    });

    it("applicaties move with their clients, held to the Autorisaties API's checks; a tampered one is refused and nothing imported", async () => {
      const masterKey = crypto.randomBytes(32).toString('base64');
      const source = await startTestServer({ masterKey, dialect });
      const cli: AcActor = { id: 'test', rsin: '000000000', everyOrganisation: true };
      let text: string;
      let zaken: string;
      let kept: string;
      try {
        const a = (await source.createClient()).clientId;
        const b = (await source.createClient()).clientId;
        const other = (await source.createClient({ rsin: '123456782' })).clientId;
        zaken = (
          await source.app.autorisaties.create(
            {
              clientIds: [b, a],
              label: 'Zaaksysteem',
              autorisaties: [
                {
                  component: 'zrc',
                  scopes: ['zaken.lezen'],
                  zaaktype: 'https://catalogi.example.nl/zaaktypen/1',
                  maxVertrouwelijkheidaanduiding: 'vertrouwelijk',
                },
              ],
              alleenIsGereedVoorPublicatie: true,
            },
            cli,
          )
        ).uuid;
        kept = (
          await source.app.autorisaties.create(
            { clientIds: [other], label: 'Buurdorp', heeftAlleAutorisaties: true },
            cli,
          )
        ).uuid;
        // The operator took the first administrator's applicatie away: an import keeps it so.
        const admin = await source.app.autorisaties.consumer(FIRST_ADMIN_CLIENT_ID);
        await source.app.autorisaties.delete(admin.uuid, cli);
        text = JSON.stringify(await exportRegistry(source.app.transfer));
      } finally {
        await source.close();
      }
      const file = JSON.parse(text) as { tables: Record<string, Array<Record<string, unknown>>> };
      assert.equal(file.tables.applicaties!.length, 2);
      assert.equal(file.tables.applicatie_clients!.length, 3);

      const tampered = (change: (t: typeof file.tables) => void) => {
        const copy = structuredClone(file);
        change(copy.tables);
        return copy;
      };
      const zakenRow = (t: typeof file.tables) => t.applicaties!.find((r) => r.uuid === zaken)!;
      const refusals: Array<[typeof file, RegExp]> = [
        // ac-003, by the same rules as the API.
        [
          tampered((t) => {
            zakenRow(t).autorisaties = JSON.stringify([
              { component: 'zrc', scopes: ['zaken.lezen'], maxVertrouwelijkheidaanduiding: 'openbaar' },
            ]);
          }),
          /autorisaties\.0\.zaaktype \[required\]/,
        ],
        // ac-002.
        [
          tampered((t) => {
            zakenRow(t).heeft_alle_autorisaties = 1;
          }),
          /ambiguous-authorizations-specified/,
        ],
        // A field the API does not keep, slipped into a stored autorisatie.
        [
          tampered((t) => {
            const list = JSON.parse(String(zakenRow(t).autorisaties));
            list[0].besluittype = 'https://catalogi.example.nl/besluittypen/1';
            zakenRow(t).autorisaties = JSON.stringify(list);
          }),
          /does not keep/,
        ],
        // Client ids: clients of the export, one applicatie each, of the applicatie's organisation.
        [
          tampered((t) => {
            t.applicatie_clients![0]!.client_id = 'not-in-the-export';
          }),
          /not a client of the export/,
        ],
        [
          tampered((t) => {
            const moved = t.applicatie_clients!.find((r) => r.applicatie_uuid === kept)!;
            moved.applicatie_uuid = zaken;
            moved.position = 2;
          }),
          /clientIds-multiple-organisations/,
        ],
        [
          tampered((t) => {
            zakenRow(t).organisation = '123456782';
          }),
          /not that of its clients/,
        ],
        [
          tampered((t) => {
            t.applicatie_clients!.push({ ...t.applicatie_clients![0]!, applicatie_uuid: kept });
          }),
          /more than one applicatie/,
        ],
      ];

      const pgdb = dialect === 'postgres' ? await freshPostgres() : undefined;
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-auth-transfer-'));
      try {
        const config = loadConfig({
          ZGW_AUTH_DATA_DIR: dataDir,
          ZGW_AUTH_MASTER_KEY: masterKey,
          ...(pgdb ? { DATABASE_URL: pgdb.url } : {}),
        });
        const target = await createApp(config, { log: createLogger('warn') });
        try {
          for (const [bad, why] of refusals) await assert.rejects(importRegistry(target.transfer, bad), why);
          const counts = await importRegistry(target.transfer, JSON.parse(text));
          assert.equal(counts.applicaties, 2, 'nothing of a refused import was kept');
          assert.equal(counts.applicatie_clients, 3);
          assert.deepEqual((await exportRegistry(target.transfer)).tables.applicaties, file.tables.applicaties);
        } finally {
          await target.close();
        }
        const ts = await startTestServer({ dataDir, databaseUrl: pgdb?.url, masterKey });
        try {
          const moved = await ts.app.autorisaties.get(zaken);
          assert.equal(moved.clientIds.length, 2);
          assert.equal(moved.autorisaties[0]!.zaaktype, 'https://catalogi.example.nl/zaaktypen/1');
          assert.equal(moved.alleenIsGereedVoorPublicatie, true);
          assert.equal((await ts.app.autorisaties.consumer(moved.clientIds[1]!)).uuid, zaken);
          // Still one applicatie per client id (ac-001) after the move.
          await assert.rejects(
            ts.app.autorisaties.create(
              { clientIds: [moved.clientIds[0]!], label: 'x', heeftAlleAutorisaties: true },
              cli,
            ),
            (err: InvalidParamsError) => err.invalidParams[0]!.code === 'clientId-exists',
          );
          // Applicaties created now come first in the list, after the imported ones (the order column).
          const created = await ts.app.autorisaties.create(
            { clientIds: [], label: 'Nieuw', autorisaties: [{ component: 'ztc', scopes: ['catalogi.lezen'] }] },
            cli,
          );
          assert.equal((await ts.app.autorisaties.list({}, 1))!.items[0]!.uuid, created.uuid);
          // The first start did not grant the administrator its applicatie again.
          await assert.rejects(ts.app.autorisaties.consumer(FIRST_ADMIN_CLIENT_ID), /Niet gevonden/);
        } finally {
          await ts.close();
        }
      } finally {
        await pgdb?.drop();
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
});
