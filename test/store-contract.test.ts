import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { sql } from '#kysely';
import pg from 'pg';
import type { AuditRows, AuditStore } from '../src/audit/audit-store.js';
import { MemoryAuditStore } from '../src/audit/memory-audit-store.js';
import type { ClientStore, SecretRecord } from '../src/clients/client-store.js';
import { MemoryClientStore } from '../src/clients/memory-client-store.js';
import { type Client, type ClientKey, usesSecrets } from '../src/clients/model.js';
import { FORMER_SECRET_MS } from '../src/clients/secret-lifecycle.js';
import type { KeyStore, StoredKey } from '../src/keys/key-store.js';
import { MemoryKeyStore } from '../src/keys/memory-key-store.js';
import { MemoryOrganisationStore } from '../src/organisations/memory-organisation-store.js';
import type { OrganisationStore } from '../src/organisations/organisation-store.js';
import { StorageUnavailableError, UnstorableValueError } from '../src/errors.js';
import { KyselyActivityStore } from '../src/storage/kysely-activity-store.js';
import { KyselyAuditStore } from '../src/storage/kysely-audit-store.js';
import { KyselyClientStore } from '../src/storage/kysely-client-store.js';
import { KyselyKeyStore } from '../src/storage/kysely-key-store.js';
import { KyselyOrganisationStore } from '../src/storage/kysely-organisation-store.js';
import { KyselyRegistryTransferStore } from '../src/storage/kysely-registry-transfer-store.js';
import { KyselyRevocationStore } from '../src/storage/kysely-revocation-store.js';
import { openStorage, type Storage } from '../src/storage/open-storage.js';
import { MemoryRevocationStore } from '../src/tokens/memory-revocation-store.js';
import type { RevocationStore } from '../src/tokens/revocation-store.js';
import { migrate } from '../src/storage/migrations.js';
import { KyselyConsoleSessionStore, SIGN_IN_IDLE_MS } from '../src/storage/kysely-console-session-store.js';
import {
  type ConsoleSessionStore,
  MemoryConsoleSessionStore,
  type StoredConsoleSession,
} from '../src/sessions/console-session-store.js';
import {
  ConsoleSessions,
  type SessionEnd,
  SESSIONS_PER_CLIENT,
  SWEEP_MARGIN_MS,
} from '../src/sessions/console-sessions.js';
import { sessionIdHash } from '../src/sessions/session-secrets.js';
import { clientRowAt, eventually, migratedPostgres, rawDatabase } from './helpers.js';

/**
 * One set of store behaviours, held against the in-memory stores (which the unit tests use) and
 * the Kysely stores on SQLite and PostgreSQL (which the server uses): the memory stores cannot
 * drift from the real ones unnoticed.
 */

interface Stores {
  clients: ClientStore;
  keys: KeyStore;
  revocations: RevocationStore;
  audit: AuditStore;
  /** Where a client's organisation is enabled or disabled. */
  organisations: OrganisationStore;
  consoleSessions: ConsoleSessionStore;
  close(): Promise<void>;
}

function kyselyStores(storage: Storage, close: () => Promise<void>): Stores {
  return {
    clients: new KyselyClientStore(storage.db),
    keys: new KyselyKeyStore(storage.db),
    revocations: new KyselyRevocationStore(storage.db),
    audit: new KyselyAuditStore(storage.db, storage.dialect),
    organisations: new KyselyOrganisationStore(storage.db),
    consoleSessions: new KyselyConsoleSessionStore(storage.db, storage.dialect),
    close,
  };
}

function memoryStores(): Stores {
  const organisations = new MemoryOrganisationStore();
  const clients = new MemoryClientStore(async (rsin) => (await organisations.get(rsin))?.enabled ?? true);
  return {
    clients,
    keys: new MemoryKeyStore(),
    revocations: new MemoryRevocationStore(),
    audit: new MemoryAuditStore(),
    organisations,
    consoleSessions: new MemoryConsoleSessionStore(),
    close: async () => {},
  };
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-store-contract-'));

const BACKENDS: [string, () => Promise<Stores>][] = [
  ['memory', async () => memoryStores()],
  [
    'SQLite',
    async () => {
      const storage = await openStorage(undefined, tmp());
      return kyselyStores(storage, () => storage.close());
    },
  ],
  [
    'PostgreSQL',
    async () => {
      // Migrated already, from a template: each test gets an empty registry of its own; the
      // migrations are not what this contract is about.
      const pg = await migratedPostgres();
      const storage = await openStorage(pg.url, tmp());
      return kyselyStores(storage, async () => {
        await storage.close();
        await pg.drop();
      });
    },
  ],
];

const T0 = Date.UTC(2030, 0, 1);
const DAY = 86_400_000;

function client(clientId: string, fields: Partial<Client> = {}): Client {
  return {
    clientId,
    name: `Name of ${clientId}`,
    description: '',
    rsin: '000000000',
    enabled: true,
    grantTypes: ['client_credentials'],
    allowedScopes: ['zaken.lezen', 'zaken.schrijven'],
    defaultScopes: ['zaken.lezen'],
    tokenLifetime: null,
    staticClaims: {},
    selfSignedAllowed: false,
    createdAt: T0,
    updatedAt: T0,
    lastTokenAt: null,
    risks: [],
    authMethods: ['client_secret_basic', 'client_secret_post'],
    jwksUri: null,
    tlsSubject: null,
    oin: null,
    dpopBoundAccessTokens: false,
    tlsClientCertificateBoundAccessTokens: false,
    ...fields,
  };
}

let secretCounter = 0;
function secret(clientId: string, fields: Partial<SecretRecord> = {}): SecretRecord {
  return {
    secretId: `sec_${++secretCounter}_${crypto.randomBytes(4).toString('hex')}`,
    clientId,
    label: '',
    hash: crypto.randomBytes(32),
    sealed: null,
    createdAt: T0,
    expiresAt: null,
    lastUsedAt: null,
    revokedAt: null,
    weak: false,
    ...fields,
  };
}

function clientKey(clientId: string, kid: string, fields: Partial<ClientKey> = {}): ClientKey {
  return {
    clientId,
    kid,
    thumbprint: crypto.createHash('sha256').update(kid).digest('base64url'),
    kty: 'EC',
    alg: 'ES256',
    publicJwk: { kty: 'EC', crv: 'P-256', x: 'x-' + kid, y: 'y-' + kid, kid },
    expiresAt: null,
    createdAt: T0,
    lastUsedAt: null,
    ...fields,
  };
}

function key(kid: string, fields: Partial<StoredKey> = {}): StoredKey {
  return {
    kid,
    alg: 'ES256',
    publicJwk: { kty: 'EC', crv: 'P-256', x: 'x-' + kid, y: 'y-' + kid, kid, alg: 'ES256', use: 'sig' },
    privateKeySealed: `v1.sealed.${kid}`,
    createdAt: T0,
    activatesAt: T0,
    supersededAt: null,
    ...fields,
  };
}

/** Audit rows for events `at`, actor, action, target, address, reason, details, organisation (none when left out). */
function rows(
  ...events: [number, string, string, string, string | null, string | null, Record<string, unknown>, (string | null)?][]
): AuditRows {
  return events.flatMap(([at, actor, action, target, address, reason, details, organisation]) => [
    at,
    actor,
    action,
    target,
    address,
    reason,
    JSON.stringify(details),
    organisation ?? null,
  ]);
}

const ids = (items: { clientId: string }[]) => items.map((c) => c.clientId);

for (const [backend, open] of BACKENDS) {
  describe(`store contract: ${backend}`, () => {
    let s: Stores;
    beforeEach(async () => {
      s = await open();
    });
    afterEach(() => s.close());

    describe('ClientStore', () => {
      it('stores a client as given and reads it back; an unknown id is undefined', async () => {
        const c = client('full', {
          description: 'Zaken & documenten',
          rsin: '123456782',
          enabled: false,
          tokenLifetime: 300,
          staticClaims: { user_id: 'u-1', 'urn:example:team': { nested: [1, 'two', null] } },
          selfSignedAllowed: true,
          lastTokenAt: T0 + 5,
        });
        await s.clients.insert(c, []);
        assert.deepEqual(await s.clients.get('full', T0), c);
        assert.equal(await s.clients.get('other', T0), undefined);
        assert.equal(await s.clients.get('FULL', T0), undefined, 'ids are case-sensitive');
      });

      it('hands out copies: changing what it returned changes nothing stored', async () => {
        const sec = secret('copy');
        await s.clients.insert(client('copy'), [sec]);
        const got = (await s.clients.get('copy', T0))!;
        got.allowedScopes.push('extra');
        got.name = 'changed';
        const found = (await s.clients.findWithSecrets('copy', T0))!;
        found.client.lastTokenAt = T0;
        found.secrets[0]!.lastUsedAt = T0;
        found.secrets[0]!.hash.fill(0);
        const again = (await s.clients.findWithSecrets('copy', T0))!;
        assert.deepEqual(again.client, client('copy'));
        assert.deepEqual(again.secrets[0], {
          secretId: sec.secretId,
          hash: sec.hash,
          sealed: null,
          expiresAt: null,
          lastUsedAt: null,
          revokedAt: null,
        });
      });

      it('refuses a taken client id or secret id, storing nothing of the refused insert', async () => {
        const taken = secret('first');
        await s.clients.insert(client('first', { name: 'First' }), [taken]);
        await assert.rejects(s.clients.insert(client('first', { name: 'Second' }), []));
        assert.equal((await s.clients.get('first', T0))?.name, 'First');
        await assert.rejects(s.clients.insert(client('second'), [secret('second'), { ...taken, clientId: 'second' }]));
        assert.equal(await s.clients.get('second', T0), undefined, 'all or nothing');
        assert.equal((await s.clients.list({ limit: 10, offset: 0 }, T0)).total, 1);
      });

      it('lists in client id order with filters, a page and the total', async () => {
        await s.clients.insert(client('c3', { rsin: '123456782', name: 'Zaken API' }), []);
        await s.clients.insert(client('a1', { name: 'Documenten' }), []);
        await s.clients.insert(client('b2', { enabled: false, name: 'Besluiten 100%' }), []);
        await s.clients.insert(client('d4', { name: 'under_score' }), []);
        const all = await s.clients.list({ limit: 10, offset: 0 }, T0);
        assert.deepEqual(ids(all.items), ['a1', 'b2', 'c3', 'd4']);
        assert.equal(all.total, 4);
        const page = await s.clients.list({ limit: 2, offset: 1 }, T0);
        assert.deepEqual([ids(page.items), page.total], [['b2', 'c3'], 4]);
        assert.deepEqual(ids((await s.clients.list({ limit: 10, offset: 4 }, T0)).items), []);
        assert.deepEqual(ids((await s.clients.list({ rsin: '123456782', limit: 10, offset: 0 }, T0)).items), ['c3']);
        const disabled = await s.clients.list({ enabled: false, limit: 10, offset: 0 }, T0);
        assert.deepEqual([ids(disabled.items), disabled.total], [['b2'], 1]);
        assert.deepEqual(ids((await s.clients.list({ enabled: true, limit: 1, offset: 0 }, T0)).items), ['a1']);
        assert.equal((await s.clients.list({ enabled: true, limit: 1, offset: 0 }, T0)).total, 3);
        assert.deepEqual(
          ids((await s.clients.list({ q: 'zAKEN', limit: 10, offset: 0 }, T0)).items),
          ['c3'],
          'case-insensitive, in the name',
        );
        assert.deepEqual(ids((await s.clients.list({ q: 'B2', limit: 10, offset: 0 }, T0)).items), ['b2'], 'in the id');
        assert.deepEqual(
          ids((await s.clients.list({ q: '%', limit: 10, offset: 0 }, T0)).items),
          ['b2'],
          '% is a character',
        );
        assert.deepEqual(
          ids((await s.clients.list({ q: '_', limit: 10, offset: 0 }, T0)).items),
          ['d4'],
          '_ is a character',
        );
        assert.deepEqual(
          ids((await s.clients.list({ q: 'e', rsin: '000000000', enabled: true, limit: 10, offset: 0 }, T0)).items),
          ['a1', 'd4'],
          'filters combine',
        );
        assert.deepEqual(
          ids((await s.clients.list({ q: '', limit: 10, offset: 0 }, T0)).items),
          ['a1', 'b2', 'c3', 'd4'],
          'an empty search matches all',
        );
      });

      it('sorts by expiry: the soonest expiry of a live secret or a key first, none last, ties by id; a page of it', async () => {
        await s.clients.insert(client('never'), [secret('never')]);
        // A revoked secret and an expired one do not count: its key's certificate does.
        await s.clients.insert(client('key-later'), [
          secret('key-later', { expiresAt: T0 + DAY, revokedAt: T0 - 1 }),
          secret('key-later', { expiresAt: T0 - 1 }),
        ]);
        await s.clients.insertKeys([clientKey('key-later', 'k', { expiresAt: T0 + 9 * DAY })]);
        await s.clients.insert(client('secret-soon'), [
          secret('secret-soon', { expiresAt: T0 + 5 * DAY }),
          secret('secret-soon', { expiresAt: T0 + 2 * DAY }),
        ]);
        await s.clients.insert(client('a-tie'), [secret('a-tie', { expiresAt: T0 + 5 * DAY })]);
        await s.clients.insert(client('b-tie'), []);
        await s.clients.insertKeys([clientKey('b-tie', 'k', { expiresAt: T0 + 5 * DAY })]);
        const sorted = await s.clients.list({ sort: 'expiry', limit: 10, offset: 0 }, T0);
        assert.deepEqual(ids(sorted.items), ['secret-soon', 'a-tie', 'b-tie', 'key-later', 'never']);
        assert.deepEqual(ids((await s.clients.list({ sort: 'expiry', limit: 2, offset: 2 }, T0)).items), [
          'b-tie',
          'key-later',
        ]);
        // Later, what expired meanwhile no longer counts.
        assert.deepEqual(ids((await s.clients.list({ sort: 'expiry', limit: 10, offset: 0 }, T0 + 3 * DAY)).items), [
          'a-tie',
          'b-tie',
          'secret-soon',
          'key-later',
          'never',
        ]);
      });

      it('updates every field but id and creation time; an unknown id changes nothing', async () => {
        await s.clients.insert(client('u'), []);
        const changed = client('u', {
          name: 'Renamed',
          description: 'd',
          rsin: '123456782',
          enabled: false,
          allowedScopes: ['x'],
          defaultScopes: [],
          tokenLifetime: 60,
          staticClaims: { user_id: 'u' },
          selfSignedAllowed: true,
          createdAt: T0 + 999,
          updatedAt: T0 + 10,
          lastTokenAt: T0 + 5,
          risks: ['weak_secret'],
        });
        await s.clients.update(changed);
        assert.deepEqual(await s.clients.get('u', T0), { ...changed, createdAt: T0, risks: [] });
        await s.clients.update(client('ghost'));
        assert.equal(await s.clients.get('ghost', T0), undefined);
      });

      it('update revokes the live secrets with the last secret method; insertSecret checks the methods as stored', async () => {
        const live = secret('keys');
        const expired = secret('keys', { expiresAt: T0 - 1 });
        const revoked = secret('keys', { revokedAt: T0 - 5 });
        await s.clients.insert(client('keys'), [live, expired, revoked]);
        const keyOnly = client('keys', { authMethods: ['private_key_jwt'] });
        assert.deepEqual(await s.clients.update(keyOnly, T0), [live.secretId]);
        const after = new Map((await s.clients.listSecrets('keys')).map((x) => [x.secretId, x.revokedAt]));
        assert.deepEqual(
          [after.get(live.secretId), after.get(expired.secretId), after.get(revoked.secretId)],
          [T0, null, T0 - 5],
        );
        // The stored methods decide, not the ones the caller read before.
        const late = secret('keys');
        assert.equal(await s.clients.insertSecret(late, usesSecrets), false);
        assert.equal((await s.clients.listSecrets('keys')).length, 3, 'nothing stored');
        // Both at once, on a client that still has a secret method: whichever commits first, no secret stays live.
        for (let round = 0; round < 5; round++) {
          const id = `race${round}`;
          await s.clients.insert(client(id), []);
          const racing = secret(id);
          const [revokedIds, stored] = await Promise.all([
            s.clients.update(client(id, { authMethods: ['tls_client_auth'] }), T0),
            s.clients.insertSecret(racing, usesSecrets),
          ]);
          const rows = await s.clients.listSecrets(id);
          if (stored) assert.deepEqual([revokedIds, rows[0]?.revokedAt], [[racing.secretId], T0]);
          else assert.deepEqual(rows, []);
        }
      });

      it('deletes a client with its secrets, once', async () => {
        await s.clients.insert(client('gone'), [secret('gone')]);
        await s.clients.insertSecret(secret('gone'));
        await s.clients.insert(client('stays'), [secret('stays')]);
        assert.equal(await s.clients.delete('gone'), true);
        assert.equal(await s.clients.delete('gone'), false);
        assert.equal(await s.clients.get('gone', T0), undefined);
        assert.equal(await s.clients.findWithSecrets('gone', T0), undefined);
        assert.deepEqual(await s.clients.listSecrets('gone'), []);
        assert.equal((await s.clients.listSecrets('stays')).length, 1);
        // The id is free again, with no secret of the deleted client coming back.
        await s.clients.insert(client('gone'), []);
        assert.deepEqual(await s.clients.listSecrets('gone'), []);
      });

      it('adds secrets to existing clients only, lists them oldest first, never with hash or sealed copy', async () => {
        await s.clients.insert(client('owner'), []);
        await assert.rejects(s.clients.insertSecret(secret('nobody')), 'no secret without its client');
        const late = secret('owner', {
          createdAt: T0 + 20,
          label: 'late',
          sealed: 'v1.a.b.c',
          weak: true,
          expiresAt: T0 + DAY,
        });
        const early = secret('owner', { createdAt: T0 + 10, label: 'early' });
        await s.clients.insertSecret(late);
        await s.clients.insertSecret(early);
        await assert.rejects(s.clients.insertSecret({ ...early, label: 'again' }), 'a taken secret id');
        assert.deepEqual(await s.clients.listSecrets('owner'), [
          {
            secretId: early.secretId,
            clientId: 'owner',
            label: 'early',
            usableForSelfSigned: false,
            createdAt: T0 + 10,
            expiresAt: null,
            lastUsedAt: null,
            revokedAt: null,
            weak: false,
          },
          {
            secretId: late.secretId,
            clientId: 'owner',
            label: 'late',
            usableForSelfSigned: true,
            createdAt: T0 + 20,
            expiresAt: T0 + DAY,
            lastUsedAt: null,
            revokedAt: null,
            weak: true,
          },
        ]);
        assert.deepEqual(await s.clients.listSecrets('nobody'), []);
      });

      it('revokes a secret once, only through its own client', async () => {
        const sec = secret('r');
        await s.clients.insert(client('r'), [sec]);
        await s.clients.insert(client('other'), []);
        assert.equal(await s.clients.revokeSecret('other', sec.secretId, T0 + 1), undefined);
        assert.equal(await s.clients.revokeSecret('r', 'sec_unknown', T0 + 1), undefined);
        assert.equal((await s.clients.listSecrets('r'))[0]?.revokedAt, null, 'untouched by the refused calls');
        assert.equal((await s.clients.revokeSecret('r', sec.secretId, T0 + 2))?.revokedAt, T0 + 2);
        const again = await s.clients.revokeSecret('r', sec.secretId, T0 + 3);
        assert.deepEqual(again, { ...(await s.clients.listSecrets('r'))[0], revokedAt: T0 + 2 });
      });

      it('finds a client with its live and former secrets, and no older ones', async () => {
        const now = T0 + 100 * DAY;
        const live = secret('f', { sealed: 'v1.s.e.al', expiresAt: now + 1, lastUsedAt: T0 });
        const revokedRecently = secret('f', { revokedAt: now - FORMER_SECRET_MS + 1 });
        const revokedLongAgo = secret('f', { revokedAt: now - FORMER_SECRET_MS });
        const expiredRecently = secret('f', { expiresAt: now - FORMER_SECRET_MS + 1 });
        const expiredLongAgo = secret('f', { expiresAt: now - FORMER_SECRET_MS });
        await s.clients.insert(client('f'), [live, revokedRecently, revokedLongAgo, expiredRecently, expiredLongAgo]);
        const found = (await s.clients.findWithSecrets('f', now))!;
        assert.deepEqual(found.client, client('f'));
        const view = ({ secretId, hash, sealed, expiresAt, lastUsedAt, revokedAt }: SecretRecord) => ({
          secretId,
          hash,
          sealed,
          expiresAt,
          lastUsedAt,
          revokedAt,
        });
        const byId = (a: { secretId: string }, b: { secretId: string }) => (a.secretId < b.secretId ? -1 : 1);
        assert.deepEqual(found.secrets.sort(byId), [live, revokedRecently, expiredRecently].map(view).sort(byId));
        await s.clients.insert(client('none'), []);
        assert.deepEqual(await s.clients.findWithSecrets('none', now), {
          client: client('none'),
          secrets: [],
          keys: [],
          organisationEnabled: true,
        });
        assert.equal(await s.clients.findWithSecrets('unknown', now), undefined);
      });

      it('finds a client with whether its organisation is enabled; without an organisation it is', async () => {
        const org = (rsin: string, enabled: boolean) => ({
          rsin,
          name: `Org ${rsin}`,
          enabled,
          createdAt: T0,
          updatedAt: T0,
        });
        await s.organisations.insert(org('123456782', true));
        await s.organisations.insert(org('111222333', false));
        await s.clients.insert(client('on', { rsin: '123456782' }), [secret('on')]);
        await s.clients.insert(client('off', { rsin: '111222333' }), [secret('off')]);
        await s.clients.insert(client('none', { rsin: '002220647' }), []);
        const enabled = async (clientId: string) =>
          (await s.clients.findWithSecrets(clientId, T0))?.organisationEnabled;
        assert.deepEqual([await enabled('on'), await enabled('off'), await enabled('none')], [true, false, true]);
        assert.equal(
          (await s.clients.findWithSecrets('off', T0))!.secrets.length,
          1,
          'its secrets are still read: the signature is checked first',
        );
        assert.equal(
          (await s.clients.findWithSecrets('off', T0))!.client.enabled,
          true,
          "the client's own flag is its own",
        );
        await s.organisations.update('111222333', { enabled: true, updatedAt: T0 + 1 });
        await s.organisations.update('123456782', { enabled: false, updatedAt: T0 + 1 });
        assert.deepEqual([await enabled('on'), await enabled('off')], [false, true]);
        // A client moved to another organisation reads that one's flag.
        await s.clients.update({ ...client('on', { rsin: '111222333' }) });
        assert.equal(await enabled('on'), true);
      });

      it('derives the weak-secret risk from a live, sealed, weak secret, wherever a client is read', async () => {
        const weak = secret('w', { weak: true, sealed: 'v1.s.e.al', expiresAt: T0 + 1000 });
        await s.clients.insert(client('w', { selfSignedAllowed: true }), [weak, secret('w', { weak: true })]);
        await s.clients.insert(client('unsealed'), [secret('unsealed', { weak: true })]);
        const risks = async (clientId: string, now: number) => [
          (await s.clients.get(clientId, now))?.risks,
          (await s.clients.list({ q: clientId, limit: 10, offset: 0 }, now)).items.find((c) => c.clientId === clientId)
            ?.risks,
          (await s.clients.findWithSecrets(clientId, now))?.client.risks,
        ];
        assert.deepEqual(await risks('w', T0), [['weak_secret'], ['weak_secret'], ['weak_secret']]);
        assert.deepEqual(await risks('unsealed', T0), [[], [], []], 'a weak secret that cannot sign is no risk');
        assert.deepEqual(await risks('w', T0 + 1000), [[], [], []], 'expired');
        await s.clients.revokeSecret('w', weak.secretId, T0 + 1);
        assert.deepEqual(await risks('w', T0), [[], [], []], 'revoked');
        await s.clients.insertSecret(secret('w', { weak: true, sealed: 'v1.s.e.al' }));
        assert.deepEqual(await risks('w', T0), [['weak_secret'], ['weak_secret'], ['weak_secret']]);
        await s.clients.dropSealed('w');
        assert.deepEqual(await risks('w', T0), [[], [], []], 'no longer sealed');
        assert.ok((await s.clients.listSecrets('w')).every((x) => !x.usableForSelfSigned));
      });

      it('drops only the sealed copies of the one client', async () => {
        await s.clients.insert(client('a'), [secret('a', { sealed: 'v1.a.a.a' })]);
        await s.clients.insert(client('b'), [secret('b', { sealed: 'v1.b.b.b' })]);
        await s.clients.dropSealed('a');
        assert.deepEqual(
          (await s.clients.findWithSecrets('a', T0))!.secrets.map((x) => x.sealed),
          [null],
        );
        assert.deepEqual(
          (await s.clients.findWithSecrets('b', T0))!.secrets.map((x) => x.sealed),
          ['v1.b.b.b'],
        );
      });

      it('stores the authentication methods, jwks_uri, certificate subject and OIN, and filters by method', async () => {
        const keyed = client('keyed', {
          authMethods: ['private_key_jwt', 'tls_client_auth', 'client_secret_basic'],
          jwksUri: 'https://keys.example/jwks.json',
          tlsSubject: { field: 'subject_dn', value: 'CN=app,O=Gemeente,C=NL' },
          oin: '00000001234567890000',
          dpopBoundAccessTokens: true,
          tlsClientCertificateBoundAccessTokens: true,
        });
        await s.clients.insert(keyed, []);
        await s.clients.insert(client('secret'), []);
        assert.deepEqual(await s.clients.get('keyed', T0), keyed);
        const byMethod = async (authMethod: Client['authMethods'][number]) =>
          ids((await s.clients.list({ authMethod, limit: 10, offset: 0 }, T0)).items);
        assert.deepEqual(await byMethod('private_key_jwt'), ['keyed']);
        assert.deepEqual(await byMethod('client_secret_post'), ['secret']);
        assert.deepEqual(await byMethod('client_secret_basic'), ['keyed', 'secret']);
        await s.clients.update({ ...keyed, authMethods: ['private_key_jwt'], tlsSubject: null, jwksUri: null });
        assert.deepEqual(await byMethod('client_secret_basic'), ['secret']);
        assert.deepEqual((await s.clients.get('keyed', T0))?.tlsSubject, null);
      });

      it('adds, lists, removes and marks keys per client; a client without key methods is found without them', async () => {
        await s.clients.insert(client('k', { authMethods: ['private_key_jwt'] }), []);
        await s.clients.insert(client('other', { authMethods: ['client_secret_basic'] }), []);
        const k1 = clientKey('k', 'one', { createdAt: T0 + 2, expiresAt: T0 + DAY });
        const k2 = clientKey('k', 'two', { createdAt: T0 + 1 });
        await s.clients.insertKeys([k1, k2]);
        assert.deepEqual(await s.clients.listKeys('k'), [k2, k1], 'oldest first');
        await assert.rejects(s.clients.insertKeys([clientKey('k', 'three'), clientKey('k', 'one')]), 'a taken kid');
        assert.equal((await s.clients.listKeys('k')).length, 2, 'all or nothing');
        await assert.rejects(s.clients.insertKeys([clientKey('missing', 'one')]), 'no such client');
        await s.clients.insertKeys([clientKey('other', 'one')]);
        assert.deepEqual((await s.clients.findWithSecrets('k', T0))!.keys, [k2, k1]);
        assert.deepEqual((await s.clients.findWithSecrets('other', T0))!.keys, [], 'no key method: keys not read');
        const found = (await s.clients.findWithSecrets('k', T0))!;
        found.keys[0]!.publicJwk.kty = 'changed';
        assert.deepEqual((await s.clients.listKeys('k'))[0], k2, 'copies');
        await s.clients.recordKeyUsage(
          [
            { clientId: 'k', kid: 'one' },
            { clientId: 'k', kid: 'unknown' },
          ],
          T0 + 9,
        );
        assert.deepEqual(
          (await s.clients.listKeys('k')).map((x) => x.lastUsedAt),
          [null, T0 + 9],
        );
        assert.equal((await s.clients.get('k', T0))?.lastTokenAt, T0 + 9);
        assert.deepEqual(await s.clients.removeKey('k', 'two'), k2);
        assert.equal(await s.clients.removeKey('k', 'two'), undefined, 'once');
        assert.equal((await s.clients.removeKey('other', 'one')) !== undefined, true);
        assert.equal(await s.clients.removeKey('k', 'missing'), undefined);
        assert.deepEqual(
          (await s.clients.listKeys('k')).map((x) => x.kid),
          ['one'],
        );
        assert.equal(await s.clients.delete('k'), true);
        assert.deepEqual(await s.clients.listKeys('k'), [], 'deleted with its client');
      });

      it('records usage for any number of secrets and clients, ignoring unknown ids', async () => {
        const many = Array.from({ length: 600 }, () => secret('busy'));
        await s.clients.insert(client('busy'), many);
        const idle = secret('idle');
        await s.clients.insert(client('idle'), [idle]);
        await s.clients.recordUsage([...many.map((x) => x.secretId), 'sec_unknown'], ['busy', 'unknown'], T0 + 7);
        assert.ok((await s.clients.listSecrets('busy')).every((x) => x.lastUsedAt === T0 + 7));
        assert.equal((await s.clients.get('busy', T0))?.lastTokenAt, T0 + 7);
        assert.equal((await s.clients.listSecrets('idle'))[0]?.lastUsedAt, null);
        assert.equal((await s.clients.get('idle', T0))?.lastTokenAt, null);
        assert.equal(await s.clients.get('unknown', T0), undefined);
        await s.clients.recordUsage([], [], T0 + 8);
      });
    });

    describe('KeyStore', () => {
      it('stores keys as given and lists them by activation; a taken kid is refused', async () => {
        const later = key('later', { alg: 'RS256', activatesAt: T0 + 60_000, createdAt: T0 + 1 });
        const first = key('first', { supersededAt: T0 - DAY });
        await s.keys.insert(later);
        await s.keys.insert(first);
        await assert.rejects(s.keys.insert(key('first', { activatesAt: T0 + 1 })));
        assert.deepEqual(await s.keys.list(), [first, later]);
      });

      it('rotation supersedes the keys still pending that would not start before the new one, and adds it', async () => {
        const at = T0 + 500;
        await s.keys.insert(key('signed'));
        await s.keys.insert(key('just-started', { activatesAt: at }));
        await s.keys.insert(key('pending', { activatesAt: T0 + 1000 }));
        await s.keys.insert(key('pending-later', { activatesAt: T0 + 5000 }));
        await s.keys.insert(key('superseded-before', { activatesAt: T0 + 6000, supersededAt: T0 + 10 }));
        // An emergency rotation: the new key signs at once, like the one that started this millisecond.
        assert.deepEqual((await s.keys.rotate(key('next', { activatesAt: at, createdAt: at }), at)).sort(), [
          'pending',
          'pending-later',
        ]);
        assert.deepEqual(
          (await s.keys.list()).map((k) => [k.kid, k.supersededAt]).sort(),
          [
            ['just-started', null],
            ['next', null],
            ['pending', at],
            ['pending-later', at],
            ['signed', null],
            ['superseded-before', T0 + 10],
          ],
          'a key whose start has come may have signed: never superseded; an earlier supersession stays',
        );
        assert.deepEqual(
          await s.keys.rotate(key('after', { activatesAt: T0 + 2000, createdAt: at + 1 }), at + 1),
          [],
          'a later start supersedes nothing',
        );
      });

      it('a rotation whose key cannot be stored changes nothing', async () => {
        await s.keys.insert(key('one'));
        await s.keys.insert(key('pending', { activatesAt: T0 + 9000 }));
        await assert.rejects(s.keys.rotate(key('one', { activatesAt: T0 + 1 }), T0));
        assert.deepEqual(await s.keys.list(), [key('one'), key('pending', { activatesAt: T0 + 9000 })]);
      });
    });

    describe('RevocationStore', () => {
      it('records a jti once and forgets revocations that expired before a moment', async () => {
        assert.equal(await s.revocations.has('j1'), false);
        await s.revocations.add('j1', 'c', T0 + 1000);
        await s.revocations.add('j1', 'c', T0 + 9000);
        await s.revocations.add('j2', 'c', T0 + 2000);
        assert.equal(await s.revocations.has('j1'), true);
        assert.equal(await s.revocations.has('J1'), false);
        assert.equal(await s.revocations.removeExpiredBefore(T0 + 1000), 0, 'not at its expiry');
        assert.equal(await s.revocations.removeExpiredBefore(T0 + 1001), 1, 'the first record counts');
        assert.deepEqual([await s.revocations.has('j1'), await s.revocations.has('j2')], [false, true]);
        await s.revocations.add('j1', 'c', T0 + 9000);
        assert.equal(await s.revocations.has('j1'), true, 'recorded again after it was forgotten');
      });
    });

    describe('ConsoleSessionStore', () => {
      const session = (idHash: string, fields: Partial<StoredConsoleSession> = {}): StoredConsoleSession => ({
        idHash,
        clientId: 'admin',
        rsin: '000000000',
        scope: 'zgw-auth:admin',
        jti: `jti-${idHash}`,
        secretId: 'sec_1',
        tokenExpiresAt: T0 / 1000 + 3600,
        tokenSealed: `sealed-${idHash}`,
        flashSealed: null,
        createdAt: T0,
        lastSeenAt: T0,
        endsAt: T0 + 3_600_000,
        ...fields,
      });

      it('keeps a session by its hash; touch moves lastSeenAt only forward; update writes the organisation and notice', async () => {
        const store = s.consoleSessions;
        await store.insert(session('h1'));
        assert.deepEqual(await store.get('h1'), session('h1'));
        assert.equal(await store.get('H1'), undefined);
        await assert.rejects(store.insert(session('h1')), 'a hash is one session');
        assert.equal(await store.touch('h1', T0 + 5000), true);
        assert.equal(await store.touch('h1', T0 + 1000), true);
        assert.equal((await store.get('h1'))?.lastSeenAt, T0 + 5000, 'never back');
        assert.equal(await store.touch('gone', T0), false);
        await store.update('h1', { rsin: '123456782', flashSealed: 'n1' });
        assert.deepEqual(
          await store.get('h1'),
          session('h1', { lastSeenAt: T0 + 5000, rsin: '123456782', flashSealed: 'n1' }),
        );
        await store.update('h1', { flashSealed: null });
        assert.equal((await store.get('h1'))?.flashSealed, null);
        await store.update('gone', { rsin: '123456782' });
        assert.equal(await store.count(), 1);
      });

      it('take ends a session once: the second take gets nothing', async () => {
        const store = s.consoleSessions;
        await store.insert(session('h1'));
        const [a, b] = await Promise.all([store.take('h1'), store.take('h1')]);
        assert.deepEqual([a, b].filter(Boolean), [session('h1')]);
        assert.equal(await store.get('h1'), undefined);
      });

      it('takeExpired takes, at most `limit` at a time, the sessions past their end or idle; no live one', async () => {
        const store = s.consoleSessions;
        const t = T0 + 100_000;
        const idle = 60_000;
        await store.insert(session('live', { lastSeenAt: t - idle + 1 }));
        await store.insert(session('idle', { lastSeenAt: t - idle }));
        await store.insert(session('ended', { lastSeenAt: t, endsAt: t }));
        await store.insert(session('both', { lastSeenAt: T0, endsAt: T0 + 1 }));
        const first = await store.takeExpired(t, idle, 2);
        assert.equal(first.length, 2);
        const rest = await store.takeExpired(t, idle, 2);
        assert.deepEqual([...first, ...rest].map((r) => r.idHash).sort(), ['both', 'ended', 'idle']);
        assert.deepEqual(await store.takeExpired(t, idle, 2), []);
        assert.ok(await store.get('live'));
      });

      it("takeBeyond keeps a client's newest sessions and no other client's; busiestClient names the client holding most", async () => {
        const store = s.consoleSessions;
        for (let k = 0; k < 5; k++) await store.insert(session(`a${k}`, { clientId: 'a', createdAt: T0 + k }));
        for (let k = 0; k < 3; k++) await store.insert(session(`b${k}`, { clientId: 'b', createdAt: T0 + k }));
        assert.deepEqual(await store.busiestClient(), { clientId: 'a', sessions: 5 });
        const taken = await store.takeBeyond('a', 2);
        assert.deepEqual(taken.map((r) => r.idHash).sort(), ['a0', 'a1', 'a2']);
        assert.deepEqual(await store.takeBeyond('a', 2), []);
        assert.equal(await store.count(), 5);
        assert.deepEqual(await store.busiestClient(), { clientId: 'b', sessions: 3 });
        assert.equal((await store.takeBeyond('b', 0)).length, 3);
        assert.equal((await store.takeBeyond('a', 0)).length, 2);
        assert.equal(await store.busiestClient(), undefined);
        assert.equal(await store.count(), 0);
      });

      it('sign-ins at once stay within the caps: no client above SESSIONS_PER_CLIENT, the store not above its max', async () => {
        const ended: SessionEnd[] = [];
        const max = SESSIONS_PER_CLIENT + 5;
        const service = new ConsoleSessions(
          s.consoleSessions,
          { idleMs: 60_000, lifetimeMs: 3_600_000, max },
          () => T0,
          (_session, why) => void ended.push(why),
        );
        const signIn = (clientId: string) =>
          service.create({
            clientId,
            rsin: '000000000',
            scope: 'zgw-auth:admin',
            accessToken: 't',
            jti: crypto.randomUUID(),
            secretId: 'sec_1',
            tokenExpiresAt: T0 / 1000 + 3600,
          });
        // All started before any finishes: each would count the room before the others' inserts.
        await Promise.all(Array.from({ length: SESSIONS_PER_CLIENT * 3 }, () => signIn('flooder')));
        assert.equal(await s.consoleSessions.count(), SESSIONS_PER_CLIENT);
        assert.equal(ended.length, SESSIONS_PER_CLIENT * 2, 'each sign-in beyond the cap ended one session');
        await Promise.all(Array.from({ length: 20 }, (_, k) => signIn(`other-${k}`)));
        assert.equal(await s.consoleSessions.count(), max);
        assert.ok(ended.every((why) => why === 'evicted'));
      });

      it('a sweep by a process whose clock runs ahead ends no session the others serve; one behind shortens none', async () => {
        const idleMs = 30_000;
        const ended: string[] = [];
        // Processes on one store, each with its own clock; the database's is the real time.
        const process = (skewMs: number) =>
          new ConsoleSessions(
            s.consoleSessions,
            { idleMs, lifetimeMs: 3_600_000 },
            () => Date.now() + skewMs,
            (session) => void ended.push(session.clientId),
          );
        const signIn = async (service: ConsoleSessions, clientId: string) =>
          (
            await service.create({
              clientId,
              rsin: '000000000',
              scope: 'zgw-auth:admin',
              accessToken: 't',
              jti: crypto.randomUUID(),
              secretId: 'sec_1',
              tokenExpiresAt: Math.floor(Date.now() / 1000) + 7200,
            })
          ).id;
        const right = process(0);
        const ahead = process(3_600_000);
        // Behind by less than the margin, more than the idle time: its sessions look idle to the others.
        const behind = process(-(SWEEP_MARGIN_MS - 10_000));
        const live = await signIn(right, 'live');
        const seenBehind = await signIn(behind, 'seen-behind');
        // Run out long ago, by every clock: swept by any process.
        const old = Date.now() - SWEEP_MARGIN_MS - 60_000;
        await s.consoleSessions.insert({
          ...(await s.consoleSessions.get(sessionIdHash(live)))!,
          idHash: 'run-out',
          clientId: 'run-out',
          createdAt: old,
          lastSeenAt: old,
        });
        await ahead.sweep();
        await right.sweep();
        assert.deepEqual(ended, ['run-out']);
        assert.ok(await right.get(live), "the right clock's session still serves");
        assert.ok(await behind.get(seenBehind), 'the session of the process behind still serves there');
        assert.equal(await s.consoleSessions.count(), 2);
      });
    });

    describe('AuditStore', () => {
      it('appends batches of any size in order and reads them newest first', async () => {
        const batch = (n: number, from: number) =>
          rows(
            ...Array.from({ length: n }, (_, i): Parameters<typeof rows>[0] => [
              T0 + from + i,
              'actor',
              'token.issued',
              `t${from + i}`,
              null,
              null,
              { i: from + i },
            ]),
          );
        await s.audit.append(batch(1, 0));
        await s.audit.append(batch(123, 1));
        await s.audit.append([]);
        const events = await s.audit.list({ limit: 1000 });
        assert.deepEqual(
          events.map((e) => e.target),
          Array.from({ length: 124 }, (_, i) => `t${123 - i}`),
        );
        assert.ok(events.every((e, i) => i === 0 || e.id < events[i - 1]!.id));
        assert.deepEqual(events[0], {
          id: events[0]!.id,
          at: T0 + 123,
          actor: 'actor',
          action: 'token.issued',
          target: 't123',
          address: null,
          reason: null,
          details: { i: 123 },
          organisation: null,
        });
        assert.equal((await s.audit.list({ limit: 5 })).length, 5);
      });

      it('filters by action, target, actor, reason, organisation, time and id', async () => {
        await s.audit.append(
          rows(
            [T0, 'admin', 'client.created', 'a', '192.0.2.1', null, { after: { name: 'A' } }, '123456782'],
            [T0 + 1, 'a', 'client_auth.failed', 'a', '192.0.2.2', 'wrong_secret', { count: 3 }, '123456782'],
            [T0 + 2, 'b', 'client_auth.failed', 'b', null, 'revoked_secret', {}, '111222333'],
            [T0 + 3, 'admin', 'client.deleted', 'a', null, null, {}, '123456782'],
            [T0 + 4, 'admin', 'key.rotated', 'k1', null, null, {}],
          ),
        );
        const organisations = async (q: Parameters<AuditStore['list']>[0]) =>
          (await s.audit.list(q)).map((e) => `${e.action}:${e.organisation}`);
        assert.deepEqual(await organisations({ organisation: '123456782', limit: 10 }), [
          'client.deleted:123456782',
          'client_auth.failed:123456782',
          'client.created:123456782',
        ]);
        assert.deepEqual(await organisations({ organisation: '111222333', limit: 10 }), [
          'client_auth.failed:111222333',
        ]);
        assert.deepEqual(await organisations({ organisation: '002220647', limit: 10 }), []);
        assert.deepEqual(await organisations({ organisation: '123456782', action: 'client_auth.failed', limit: 10 }), [
          'client_auth.failed:123456782',
        ]);
        assert.deepEqual(await organisations({ limit: 1 }), ['key.rotated:null'], 'an event of no organisation');
        assert.equal(await s.audit.deleteBefore(T0 + 5), 5);
        await s.audit.append(
          rows(
            [T0, 'admin', 'client.created', 'a', '192.0.2.1', null, { after: { name: 'A' } }],
            [T0 + 1, 'a', 'client_auth.failed', 'a', '192.0.2.2', 'wrong_secret', { count: 3 }],
            [T0 + 2, 'b', 'client_auth.failed', 'b', null, 'revoked_secret', {}],
            [T0 + 3, 'admin', 'client.deleted', 'a', null, null, {}],
          ),
        );
        const targets = async (q: Parameters<AuditStore['list']>[0]) =>
          (await s.audit.list(q)).map((e) => `${e.action}:${e.target}`);
        assert.deepEqual(await targets({ action: 'client_auth.failed', limit: 10 }), [
          'client_auth.failed:b',
          'client_auth.failed:a',
        ]);
        assert.deepEqual(await targets({ target: 'a', actor: 'admin', limit: 10 }), [
          'client.deleted:a',
          'client.created:a',
        ]);
        assert.deepEqual(await targets({ reason: 'wrong_secret', limit: 10 }), ['client_auth.failed:a']);
        assert.deepEqual(await targets({ since: T0 + 2, limit: 10 }), ['client.deleted:a', 'client_auth.failed:b']);
        const all = await s.audit.list({ limit: 10 });
        assert.deepEqual(await targets({ before: all[1]!.id, limit: 1 }), ['client_auth.failed:a']);
        assert.deepEqual(all[3]?.details, { after: { name: 'A' } });
        assert.equal(all[2]?.address, '192.0.2.2');
      });

      it('returns the ids of appended events in their order and updates the details of one by id', async () => {
        const batch = (n: number, from: number) =>
          rows(
            ...Array.from({ length: n }, (_, i): Parameters<typeof rows>[0] => [
              T0 + from + i,
              'c',
              'client_auth.failed',
              `t${from + i}`,
              null,
              null,
              { count: 1 },
            ]),
          );
        const written = (await s.audit.appendReturningIds(batch(1, 0))).concat(
          await s.audit.appendReturningIds(batch(112, 1)),
        );
        assert.equal(written.length, 113);
        const stored = new Map((await s.audit.list({ limit: 1000 })).map((e) => [e.id, e.target]));
        assert.deepEqual(
          written.map((id) => stored.get(id)),
          Array.from({ length: 113 }, (_, i) => `t${i}`),
        );
        await s.audit.updateDetails([
          [written[5]!, JSON.stringify({ count: 7, lastAt: T0 + 99 })],
          [written[112]!, JSON.stringify({ count: 2 })],
        ]);
        await s.audit.updateDetails([]);
        const [newest] = await s.audit.list({ limit: 1 });
        assert.deepEqual(newest?.details, { count: 2 });
        assert.deepEqual((await s.audit.list({ target: 't5', limit: 1 }))[0]?.details, { count: 7, lastAt: T0 + 99 });
        assert.deepEqual(
          (await s.audit.list({ target: 't6', limit: 1 }))[0]?.details,
          { count: 1 },
          'other events unchanged',
        );
      });

      it('deletes what happened before a moment, and says how many', async () => {
        await s.audit.append(rows([T0, 'x', 'old', 't', null, null, {}], [T0 + 1, 'x', 'new', 't', null, null, {}]));
        assert.equal(await s.audit.deleteBefore(T0), 0);
        assert.equal(await s.audit.deleteBefore(T0 + 1), 1);
        assert.deepEqual(
          (await s.audit.list({ limit: 10 })).map((e) => e.action),
          ['new'],
        );
        await s.audit.append(rows([T0 + 2, 'x', 'newer', 't', null, null, {}]));
        const [newest, older] = await s.audit.list({ limit: 10 });
        assert.ok(newest!.id > older!.id, 'ids keep growing after a delete');
      });
    });
  });
}

describe('console sign-ins on PostgreSQL: a process that stops while holding the sign-in lock', () => {
  it('loses it once idle SIGN_IN_IDLE_MS in its transaction: the other processes sign in again, its own step fails with 503', async () => {
    const db = await migratedPostgres();
    const frozen = await openStorage(db.url, tmp());
    const other = await openStorage(db.url, tmp());
    try {
      let inside!: () => void;
      let resume!: () => void;
      const entered = new Promise<void>((r) => (inside = r));
      const resumed = new Promise<void>((r) => (resume = r));
      // Holds the lock and sends nothing more until resumed: a process stopped, paused or cut off.
      const stuck = new KyselyConsoleSessionStore(frozen.db, 'postgres').serialized(async (store) => {
        await store.count();
        inside();
        await resumed;
        return store.count();
      });
      stuck.catch(() => {});
      await entered;
      const otherStore = new KyselyConsoleSessionStore(other.db, 'postgres');
      const signedIn = await eventually(async () => {
        try {
          await otherStore.serialized((store) => store.count());
          return true;
        } catch (err) {
          // The lock not given within lock_timeout: 503, and tried again.
          if (err instanceof StorageUnavailableError) return false;
          throw err;
        }
      }, SIGN_IN_IDLE_MS * 4);
      resume();
      assert.ok(signedIn, 'another process took the sign-in lock while the holder was still stopped');
      await assert.rejects(stuck, StorageUnavailableError);
    } finally {
      await frozen.close();
      await other.close();
      await db.drop();
    }
  });
});

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`migration 0008_client_auth_methods_and_keys: ${dialect}`, () => {
    it('clients of before authenticate with secrets, with no jwks_uri, certificate subject, OIN or keys', async () => {
      const earlier = await rawDatabase(dialect);
      let storage: Storage | undefined;
      try {
        await migrate(earlier.db, dialect, '0007_registry_state');
        await earlier.db
          .insertInto('clients')
          .values(clientRowAt('before', '000000000', true, T0))
          .execute();
        await earlier.db.destroy();
        storage = await openStorage(earlier.url, tmp(), { create: false });
        const store = new KyselyClientStore(storage.db);
        const found = (await store.findWithSecrets('before', T0))!;
        assert.deepEqual(
          [found.client.authMethods, found.client.jwksUri, found.client.tlsSubject, found.client.oin, found.keys],
          [['client_secret_basic', 'client_secret_post'], null, null, null, []],
        );
      } finally {
        await storage?.close();
        await earlier.drop();
      }
    });
  });
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`migration 0012_no_secrets_without_secret_methods: ${dialect}`, () => {
    it('revokes the unusable secrets of clients without a secret method, audited; other secrets stay live', async () => {
      const earlier = await rawDatabase(dialect);
      let storage: Storage | undefined;
      try {
        await migrate(earlier.db, dialect, '0010_client_certificate_bound_access_tokens');
        const secretRow = (secretId: string, clientId: string, revokedAt: number | null = null) => ({
          secret_id: secretId,
          client_id: clientId,
          label: 'initial',
          hash: 'x'.repeat(64),
          sealed: null,
          created_at: T0,
          expires_at: null,
          last_used_at: null,
          revoked_at: revokedAt,
          weak: 0,
        });
        await earlier.db
          .insertInto('clients')
          .values([
            { ...clientRowAt('keys', '000000000', true, T0), auth_methods: '["private_key_jwt","tls_client_auth"]' },
            { ...clientRowAt('both', '000000000', true, T0), auth_methods: '["private_key_jwt","client_secret_post"]' },
            // As 0008 left a client of before (one row list: SQLite has no DEFAULT in a multi-row insert).
            {
              ...clientRowAt('secrets', '000000000', true, T0),
              auth_methods: '["client_secret_basic","client_secret_post"]',
            },
          ])
          .execute();
        await earlier.db
          .insertInto('client_secrets')
          .values([
            secretRow('sec_keys', 'keys'),
            secretRow('sec_keys_old', 'keys', T0 - 1),
            secretRow('sec_both', 'both'),
            secretRow('sec_secrets', 'secrets'),
          ])
          .execute();
        await earlier.db.destroy();
        storage = await openStorage(earlier.url, tmp(), { create: false });
        const store = new KyselyClientStore(storage.db);
        // In id order: both were created at T0, and the order of equal times is the database's.
        const revokedAt = async (clientId: string) =>
          (await store.listSecrets(clientId))
            .map((s) => [s.secretId, s.revokedAt !== null] as const)
            .sort(([a], [b]) => (a < b ? -1 : 1));
        assert.deepEqual(await revokedAt('keys'), [
          ['sec_keys', true],
          ['sec_keys_old', true],
        ]);
        const keys = await store.listSecrets('keys');
        assert.equal(keys.find((s) => s.secretId === 'sec_keys_old')?.revokedAt, T0 - 1, 'an earlier revocation stays');
        assert.deepEqual(await revokedAt('both'), [['sec_both', false]]);
        assert.deepEqual(await revokedAt('secrets'), [['sec_secrets', false]]);
        const events = await new KyselyAuditStore(storage.db, storage.dialect).list({
          action: 'secret.revoked',
          limit: 10,
        });
        assert.deepEqual(
          events.map((e) => [e.actor, e.target, e.organisation, e.details.secretId]),
          [['system', 'keys', '000000000', 'sec_keys']],
        );
      } finally {
        await storage?.close();
        await earlier.drop();
      }
    });
  });
}

describe('driver errors leave the Kysely stores as refusals', () => {
  const unavailable = (what: string) => (err: unknown) => {
    assert.ok(err instanceof StorageUnavailableError, `${what}: ${String(err)}`);
    assert.equal(err.status, 503);
    assert.deepEqual(err.headers, { 'retry-after': '1' });
    return true;
  };
  /** The PostgreSQL error code behind a refusal. */
  const causeCode = (err: unknown) => ((err as Error).cause as { code?: string } | undefined)?.code;

  it("SQLite written by another process: every store's writes, transactions included, are storage_unavailable", async () => {
    const dir = tmp();
    const storage = await openStorage(undefined, dir);
    const other = new SQLite(path.join(dir, 'zgw-auth.db'));
    try {
      // Refused at once rather than after the serving busy timeout.
      await sql`PRAGMA busy_timeout = 0`.execute(storage.db);
      other.exec('BEGIN EXCLUSIVE');
      const c = client('locked-client');
      const writes: Record<string, () => Promise<unknown>> = {
        'clients (a transaction)': () => new KyselyClientStore(storage.db).insert(c, [secret(c.clientId)]),
        keys: () => new KyselyKeyStore(storage.db).insert(key('locked-key')),
        revocations: () => new KyselyRevocationStore(storage.db).add('locked-jti', c.clientId, T0),
        'audit (prepared statements)': () =>
          new KyselyAuditStore(storage.db, storage.dialect).append(rows([T0, 'x', 'y', 'z', null, null, {}])),
        organisations: () =>
          new KyselyOrganisationStore(storage.db).insert({
            rsin: '123456782',
            name: 'x',
            enabled: true,
            createdAt: T0,
            updatedAt: T0,
          }),
        'registry import (a transaction)': () =>
          new KyselyRegistryTransferStore(storage.db, storage.dialect).transaction((registry) =>
            registry.insert('revoked_tokens', [{ jti: 'locked-jti', client_id: c.clientId, expires_at: T0 }]),
          ),
      };
      for (const [what, write] of Object.entries(writes)) {
        await assert.rejects(write(), (err: unknown) => {
          unavailable(what)(err);
          assert.match(String((err as Error).cause), /SQLITE_BUSY|locked/i, 'the driver error kept as the cause');
          return true;
        });
      }
      other.exec('ROLLBACK');
      await new KyselyRevocationStore(storage.db).add('locked-jti', c.clientId, T0);
      assert.equal(
        await new KyselyRevocationStore(storage.db).has('locked-jti'),
        true,
        'written once the lock is gone',
      );
    } finally {
      other.close();
      await storage.close();
    }
  });

  it('PostgreSQL: a value it cannot store is unstorable_value; a read waiting on a locked table, and a server that does not answer, are storage_unavailable', async () => {
    const database = await migratedPostgres();
    const storage = await openStorage(database.url, tmp());
    const other = new pg.Client({ connectionString: database.url });
    await other.connect();
    try {
      await assert.rejects(
        new KyselyClientStore(storage.db).insert(client('nul-name', { name: 'a\u0000b' }), []),
        (err: unknown) => {
          assert.ok(err instanceof UnstorableValueError, String(err));
          assert.equal(err.status, 400);
          return true;
        },
      );
      await other.query('BEGIN');
      // The activity report's table, which every report reads.
      await other.query('LOCK TABLE audit_hourly_counts IN ACCESS EXCLUSIVE MODE');
      // A read: refused when the lock timeout of the serving connections passes (lock_not_available),
      // before the statement timeout would end the wait.
      await assert.rejects(new KyselyActivityStore(storage.db).perHour({ since: T0 }), (err: unknown) => {
        unavailable('activity')(err);
        assert.equal(causeCode(err), '55P03', `ended by the lock timeout: ${String(err)}`);
        return true;
      });
      await other.query('ROLLBACK');
      assert.deepEqual(await new KyselyActivityStore(storage.db).perHour({ since: T0 }), []);
      const away = new URL(database.url);
      away.port = '1';
      await assert.rejects(openStorage(away.toString(), tmp()), unavailable('opening'));
    } finally {
      await other.end();
      await storage.close();
      await database.drop();
    }
  });

  it('PostgreSQL: a statement running past the statement timeout is cancelled by the server (query_canceled), not left running when the client gives up', async () => {
    const database = await migratedPostgres();
    const storage = await openStorage(database.url, tmp());
    try {
      await assert.rejects(sql`select pg_sleep(60)`.execute(storage.db), (err: unknown) => {
        unavailable('slow statement')(err);
        assert.equal(causeCode(err), '57014', `cancelled by the server: ${String(err)}`);
        return true;
      });
    } finally {
      await storage.close();
      await database.drop();
    }
  });

  it('PostgreSQL: a server that stops answering on an open connection is given up on (storage_unavailable), not waited for', async () => {
    const database = await migratedPostgres();
    const server = await silencingRelay(new URL(database.url));
    const through = new URL(database.url);
    through.port = String(server.port);
    const storage = await openStorage(through.toString(), tmp());
    let guard: NodeJS.Timeout | undefined;
    try {
      // A connection in the pool, then the server's answers stop arriving on it.
      await sql`select 1`.execute(storage.db);
      server.silence();
      const NO_ANSWER_MS = 30_000;
      const answered = sql`select 1`.execute(storage.db).then(
        () => 'answered',
        (err: unknown) => err,
      );
      const outcome = await Promise.race([
        answered,
        new Promise((resolve) => (guard = setTimeout(() => resolve('still waiting'), NO_ANSWER_MS))),
      ]);
      assert.notEqual(outcome, 'still waiting', `the query was given up on within ${NO_ANSWER_MS} ms`);
      unavailable('no answer')(outcome);
    } finally {
      clearTimeout(guard);
      // Ends the silent connection first, so that closing the pool does not wait for it.
      await server.close();
      await storage.close();
      await database.drop();
    }
  });
});

/**
 * A TCP relay to a PostgreSQL server that passes everything on until silenced; from then on the
 * server's answers are dropped: a server that stopped (paused, cut off) on open connections.
 */
async function silencingRelay(target: URL): Promise<{ port: number; silence: () => void; close: () => Promise<void> }> {
  let silent = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => (sockets.delete(socket), client.destroy(), upstream.destroy()));
    }
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => silent || client.write(d));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    silence: () => void (silent = true),
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
