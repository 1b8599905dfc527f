import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { beforeEach, describe, it } from 'node:test';
import { AuditLog } from '../audit/audit-log.js';
import { MemoryAuditStore } from '../audit/memory-audit-store.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { MasterKey } from '../keys/master-key.js';
import { LocalChangeFeed } from '../changes/change-feed.js';
import { CLIENT_CACHE_MS, ClientAuthenticator } from './client-authenticator.js';
import { ClientService } from './client-service.js';
import { USAGE_PRECISION_MS, UsageRecorder } from './usage-recorder.js';
import { MemoryClientStore } from './memory-client-store.js';
import { FORMER_SECRET_MS } from './secret-lifecycle.js';

const actor = { id: 'test' };
const WEAK = 'Password1!Password1!';

describe('ClientService (memory stores)', () => {
  let t: number;
  let store: MemoryClientStore;
  let audit: AuditLog;
  let changes: LocalChangeFeed;
  let clients: ClientService;
  let authenticator: ClientAuthenticator;
  let usage: UsageRecorder;
  const now = () => t;

  beforeEach(() => {
    t = Date.UTC(2030, 0, 1);
    store = new MemoryClientStore();
    audit = new AuditLog(new MemoryAuditStore(), undefined, now);
    changes = new LocalChangeFeed();
    const masterKey = new MasterKey(crypto.randomBytes(32));
    usage = new UsageRecorder(store, now);
    authenticator = new ClientAuthenticator(store, masterKey, changes, usage, now);
    clients = new ClientService(store, masterKey, audit, changes, now, undefined, authenticator);
  });

  describe('create', () => {
    it('stores the client with one generated secret that authenticates, and audits it without the value', async () => {
      const { client, secret } = await clients.create(
        { clientId: 'app', rsin: '123456782', allowedScopes: ['a', 'b'] },
        actor,
      );
      assert.deepEqual(client.defaultScopes, ['a', 'b'], 'defaults to every allowed scope');
      assert.equal(secret.value.length, 43);
      assert.deepEqual(await clients.get('app'), client);
      assert.deepEqual(
        (await clients.listSecrets('app')).map((s) => s.secretId),
        [secret.secret.secretId],
      );
      assert.equal((await authenticator.authenticate('app', secret.value)).ok, true);
      const [event] = await audit.list({ action: 'client.created' });
      assert.equal(event?.target, 'app');
      assert.equal(event?.details.secretId, secret.secret.secretId);
      assert.ok(!JSON.stringify(event).includes(secret.value), 'never the secret value');
    });

    it('refuses a taken client id, also when two creates race, and keeps the first', async () => {
      const first = await clients.create({ clientId: 'taken', rsin: '000000000', name: 'first' }, actor);
      await assert.rejects(
        clients.create({ clientId: 'taken', rsin: '000000000', name: 'second' }, actor),
        ConflictError,
      );
      // Both pass the up-front check before either inserts: the loser is refused after its insert fails.
      const raced = await Promise.allSettled([
        clients.create({ clientId: 'race', rsin: '000000000' }, actor),
        clients.create({ clientId: 'race', rsin: '000000000' }, actor),
      ]);
      assert.deepEqual(raced.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
      assert.ok(raced.some((r) => r.status === 'rejected' && r.reason instanceof ConflictError));
      assert.equal((await clients.get('taken')).name, 'first');
      assert.equal((await authenticator.authenticate('taken', first.secret.value)).ok, true);
    });

    it('validates id, fields and default scopes before storing anything', async () => {
      await assert.rejects(clients.create({ clientId: 'bad id', rsin: '000000000' }, actor), ValidationError);
      await assert.rejects(
        clients.create({ clientId: 'scopes', rsin: '000000000', allowedScopes: ['a'], defaultScopes: ['b'] }, actor),
        ValidationError,
      );
      assert.equal((await clients.list({ limit: 10, offset: 0 })).total, 0);
    });
  });

  describe('authenticate', () => {
    it('tells every failure apart for the audit trail, with the matched secret id', async () => {
      const { secret } = await clients.create({ clientId: 'c', rsin: '000000000' }, actor);
      const other = await clients.addSecret('c', { expiresAt: t + 1000 }, actor);
      assert.deepEqual(await authenticator.authenticate('nobody', secret.value), {
        ok: false,
        reason: 'unknown_client',
      });
      assert.deepEqual(await authenticator.authenticate('c', 'not-the-secret'), {
        ok: false,
        reason: 'wrong_secret',
        rsin: '000000000',
      });
      assert.deepEqual(
        await authenticator.authenticate('c', 'x'.repeat(10_000)),
        { ok: false, reason: 'wrong_secret', rsin: '000000000' },
        'an oversized secret is just wrong',
      );
      await clients.revokeSecret('c', secret.secret.secretId, actor);
      assert.deepEqual(await authenticator.authenticate('c', secret.value), {
        ok: false,
        reason: 'revoked_secret',
        secretId: secret.secret.secretId,
        rsin: '000000000',
      });
      assert.equal((await authenticator.authenticate('c', other.value)).ok, true);
      t += 1000;
      assert.deepEqual(await authenticator.authenticate('c', other.value), {
        ok: false,
        reason: 'expired_secret',
        secretId: other.secret.secretId,
        rsin: '000000000',
      });
      const live = await clients.addSecret('c', {}, actor);
      await clients.update('c', { enabled: false }, actor);
      assert.deepEqual(await authenticator.authenticate('c', live.value), {
        ok: false,
        reason: 'disabled_client',
        secretId: live.secret.secretId,
        rsin: '000000000',
      });
    });

    it('recognises a former secret for FORMER_SECRET_MS, then takes it for a wrong one', async () => {
      const { secret } = await clients.create({ clientId: 'c', rsin: '000000000' }, actor);
      await clients.revokeSecret('c', secret.secret.secretId, actor);
      t += FORMER_SECRET_MS - 1;
      assert.deepEqual(await authenticator.authenticate('c', secret.value), {
        ok: false,
        reason: 'revoked_secret',
        secretId: secret.secret.secretId,
        rsin: '000000000',
      });
      t += CLIENT_CACHE_MS + 1;
      assert.deepEqual(await authenticator.authenticate('c', secret.value), {
        ok: false,
        reason: 'wrong_secret',
        rsin: '000000000',
      });
    });

    it('refuses ids that cannot be registered without asking the store', async () => {
      let lookups = 0;
      const find = store.findWithSecrets.bind(store);
      store.findWithSecrets = (...args) => (lookups++, find(...args));
      assert.deepEqual(await authenticator.authenticate('a\u0000b', 'secret-value'), {
        ok: false,
        reason: 'unknown_client',
      });
      assert.deepEqual(await authenticator.authenticate('x'.repeat(51), 'secret-value'), {
        ok: false,
        reason: 'unknown_client',
      });
      assert.equal(lookups, 0);
      await authenticator.authenticate('registrable', 'secret-value');
      assert.equal(lookups, 1);
    });

    it('serves a client from memory from its second lookup on, for at most CLIENT_CACHE_MS, and forgets it on a change', async () => {
      const { secret } = await clients.create({ clientId: 'c', rsin: '000000000' }, actor);
      let lookups = 0;
      const find = store.findWithSecrets.bind(store);
      store.findWithSecrets = (...args) => (lookups++, find(...args));
      await authenticator.authenticate('c', secret.value);
      await authenticator.authenticate('c', secret.value);
      await authenticator.authenticate('c', secret.value);
      assert.equal(lookups, 2, 'admitted on the second lookup, served from memory on the third');
      // Another process disables the client: this one sees it when the bound has passed.
      await store.update({ ...(await store.get('c', t))!, enabled: false });
      assert.equal((await authenticator.authenticate('c', secret.value)).ok, true, 'within the bound');
      t += CLIENT_CACHE_MS;
      assert.equal((await authenticator.authenticate('c', secret.value)).ok, false, 'after the bound');
      await store.update({ ...(await store.get('c', t))!, enabled: true });
      await changes.publish({ kind: 'client', clientId: 'c' });
      assert.equal(
        (await authenticator.authenticate('c', secret.value)).ok,
        true,
        'a change announced by the feed evicts at once',
      );
      await authenticator.authenticate('c', secret.value);
      await store.update({ ...(await store.get('c', t))!, enabled: false });
      assert.equal((await authenticator.authenticate('c', secret.value)).ok, true, 'cached again');
      await changes.publish({ kind: 'client', clientId: 'c' });
      assert.equal((await authenticator.authenticate('c', secret.value)).ok, false, 'evicted again');
    });

    it('looks a cached client up again when one of its secrets expires', async () => {
      await clients.create({ clientId: 'c', rsin: '000000000', selfSignedAllowed: true }, actor);
      const expiring = await clients.addSecret('c', { expiresAt: t + 500 }, actor);
      await authenticator.selfSigningSecrets('c');
      const cached = await authenticator.selfSigningSecrets('c');
      assert.equal(cached?.secrets.length, 2);
      t += 500;
      const after = await authenticator.selfSigningSecrets('c');
      assert.deepEqual(
        after?.secrets.map((s) => s.toString()),
        cached?.secrets.map((s) => s.toString()).filter((v) => v !== expiring.value),
      );
    });
  });

  describe('update', () => {
    it('narrows default scopes with the allowed ones and audits before and after', async () => {
      await clients.create({ clientId: 'c', rsin: '000000000', allowedScopes: ['a', 'b'] }, actor);
      const { client } = await clients.update('c', { allowedScopes: ['b', 'c'] }, actor);
      assert.deepEqual(client.defaultScopes, ['b']);
      assert.deepEqual((await clients.get('c')).defaultScopes, ['b']);
      await assert.rejects(clients.update('c', { defaultScopes: ['a'] }, actor), ValidationError);
      const [event] = await audit.list({ action: 'client.updated' });
      assert.deepEqual((event?.details.before as { allowedScopes: string[] }).allowedScopes, ['a', 'b']);
      await clients.update('c', { enabled: false }, actor);
      assert.equal((await audit.list({ limit: 1 }))[0]?.action, 'client.disabled');
    });

    it('self-signing: warns when no secret can sign, drops the sealed copies when switched off', async () => {
      await clients.create({ clientId: 'c', rsin: '000000000' }, actor);
      const on = await clients.update('c', { selfSignedAllowed: true }, actor);
      assert.equal(on.warnings.length, 1, 'the hashed secret cannot verify HS256');
      assert.deepEqual(await authenticator.selfSigningSecrets('c'), {
        client: on.client,
        secrets: [],
        organisationEnabled: true,
      });
      const added = await clients.addSecret('c', { value: WEAK, allowWeak: true }, actor);
      assert.deepEqual((await clients.get('c')).risks, ['weak_secret']);
      const signing = await authenticator.selfSigningSecrets('c');
      assert.deepEqual(
        signing?.secrets.map((s) => s.toString()),
        [added.value],
      );
      const off = await clients.update('c', { selfSignedAllowed: false }, actor);
      assert.deepEqual(off.client.risks, []);
      assert.deepEqual((await clients.get('c')).risks, []);
      assert.ok((await clients.listSecrets('c')).every((s) => !s.usableForSelfSigned));
      await clients.update('c', { selfSignedAllowed: true }, actor);
      assert.deepEqual(
        (await authenticator.selfSigningSecrets('c'))?.secrets,
        [],
        'switching back on does not bring them back',
      );
    });

    it('refuses an unknown client', async () => {
      await assert.rejects(clients.update('nobody', { name: 'x' }, actor), NotFoundError);
    });
  });

  describe('a client without a secret method', () => {
    const keysOnly = { rsin: '000000000', authMethods: ['private_key_jwt' as const] };

    it('is created without a secret: none generated, stored, returned or audited', async () => {
      const created = await clients.create({ clientId: 'k', ...keysOnly }, actor);
      assert.equal(created.secret, undefined);
      assert.deepEqual(await clients.listSecrets('k'), []);
      assert.deepEqual((await store.findWithSecrets('k', t))?.secrets, []);
      const [event] = await audit.list({ action: 'client.created', target: 'k' });
      assert.deepEqual(event?.details.secrets, []);
      assert.equal(event?.details.secretId, undefined);
      // Secrets named on creation (an import) are refused, not stored unused.
      await assert.rejects(
        clients.create({ clientId: 'k2', ...keysOnly }, actor, { secrets: [{ label: 'initial' }] }),
        (err: ValidationError) => err.code === 'invalid_input' && err.field === 'authMethods',
      );
      assert.equal(await store.get('k2', t), undefined);
    });

    it('refuses a secret until a secret method is added; adding one warns how to get a secret', async () => {
      await clients.create({ clientId: 'k', ...keysOnly }, actor);
      await assert.rejects(
        clients.addSecret('k', {}, actor),
        (err: ValidationError) =>
          err.code === 'invalid_input' && err.field === 'authMethods' && /add client_secret_basic/.test(err.message),
      );
      assert.deepEqual(await clients.listSecrets('k'), []);
      const { warnings } = await clients.update('k', { authMethods: ['private_key_jwt', 'client_secret_post'] }, actor);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /has none: create one .*POST \/admin\/clients\/k\/secrets.*shown once/);
      const added = await clients.addSecret('k', { label: 'now' }, actor);
      assert.ok((await authenticator.authenticate('k', added.value)).ok);
      // With a live secret, adding another method warns of nothing.
      const again = await clients.update('k', { authMethods: ['client_secret_post', 'client_secret_basic'] }, actor);
      assert.deepEqual(again.warnings, []);
    });

    it('loses its secrets when its last secret method goes: revoked, audited, never revived', async () => {
      const { secret } = await clients.create({ clientId: 'c', rsin: '000000000' }, actor);
      const off = await clients.update('c', { authMethods: ['private_key_jwt'] }, actor);
      assert.match(off.warnings.join(' '), new RegExp(`secrets ${secret.secret.secretId} are revoked`));
      assert.deepEqual(
        (await clients.listSecrets('c')).map((s) => s.revokedAt),
        [t],
      );
      const [event] = await audit.list({ action: 'client.updated', target: 'c' });
      assert.deepEqual(event?.details.revokedSecrets, [secret.secret.secretId]);
      // Adding a secret method back does not bring the old secret back: a new one is needed.
      const on = await clients.update('c', { authMethods: ['client_secret_basic'] }, actor);
      assert.match(on.warnings.join(' '), /has none: create one/);
      const result = await authenticator.authenticate('c', secret.value);
      assert.equal(result.ok, false);
    });

    it('an OIN added later is refused while a registered key proves no OIN, as registering such a key is', async () => {
      await clients.create({ clientId: 'k', ...keysOnly }, actor);
      const { publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
      await clients.addKeys('k', JSON.stringify(publicKey.export({ format: 'jwk' })), actor);
      const oin = '00000001234567890000';
      await assert.rejects(
        clients.update('k', { oin }, actor),
        (err: ValidationError) =>
          err.code === 'invalid_input' &&
          err.field === 'oin' &&
          /does not prove this OIN .*has no x5c/.test(err.message),
      );
      assert.equal((await clients.get('k')).oin, null, 'nothing changed');
      // The same code as registering a bare key for a client that has the OIN.
      await clients.create({ clientId: 'o', ...keysOnly, oin }, actor);
      await assert.rejects(
        clients.addKeys('o', JSON.stringify(publicKey.export({ format: 'jwk' })), actor),
        (err: ValidationError) => err.code === 'invalid_input',
      );
      // Cleared, a bare key registers; a change that leaves the OIN alone checks no keys.
      await clients.update('o', { oin: null }, actor);
      await clients.addKeys('o', JSON.stringify(publicKey.export({ format: 'jwk' })), actor);
      assert.equal((await clients.update('o', { name: 'renamed' }, actor)).client.oin, null);
    });
  });

  describe('organisations', () => {
    /** A service whose clients' organisations are the ones in `enabled` (RSIN → enabled), created on demand. */
    function withOrganisations(enabled: Map<string, boolean>) {
      const ensured: [string, string][] = [];
      const organisationStore = new MemoryClientStore((rsin) => enabled.get(rsin) ?? true);
      const registration = {
        async ensure(rsin: string, by: { id: string }) {
          ensured.push([rsin, by.id]);
          if (!enabled.has(rsin)) enabled.set(rsin, true);
        },
      };
      const masterKey = new MasterKey(crypto.randomBytes(32));
      const checks = new ClientAuthenticator(
        organisationStore,
        masterKey,
        changes,
        new UsageRecorder(organisationStore, now),
        now,
      );
      const service = new ClientService(organisationStore, masterKey, audit, changes, now, registration, checks);
      return { service, checks, ensured };
    }

    it('registers the organisation of a new RSIN before the client, also when a client moves to one, as the same actor', async () => {
      const { service, ensured } = withOrganisations(new Map([['000000000', true]]));
      await service.create({ clientId: 'a', rsin: '123456782' }, actor);
      await service.create({ clientId: 'b', rsin: '000000000' }, { id: 'cli' }, { secrets: [] });
      await service.update('a', { name: 'renamed' }, actor);
      await service.update('b', { rsin: '111222333' }, { id: 'admin' });
      assert.deepEqual(ensured, [
        ['123456782', 'test'],
        ['000000000', 'cli'],
        ['111222333', 'admin'],
      ]);
      await assert.rejects(service.create({ clientId: 'bad', rsin: '123456789' }, actor), ValidationError);
      await assert.rejects(service.create({ clientId: 'a', rsin: '002220647' }, actor), ConflictError);
      assert.equal(ensured.length, 3, 'nothing registered for a client that is refused');
    });

    it('a client of a disabled organisation fails to authenticate, after its secret matched; enabling restores it at the next change', async () => {
      const enabled = new Map([['123456782', true]]);
      const { service, checks } = withOrganisations(enabled);
      const { secret } = await service.create({ clientId: 'c', rsin: '123456782', selfSignedAllowed: true }, actor);
      const signing = await service.addSecret('c', {}, actor);
      assert.equal((await checks.authenticate('c', secret.value)).ok, true);
      enabled.set('123456782', false);
      await changes.publish({ kind: 'organisation', rsin: '123456782' });
      assert.deepEqual(await checks.authenticate('c', secret.value), {
        ok: false,
        reason: 'disabled_organisation',
        secretId: secret.secret.secretId,
        rsin: '123456782',
      });
      assert.deepEqual(
        await checks.authenticate('c', 'wrong'),
        { ok: false, reason: 'wrong_secret', rsin: '123456782' },
        'a wrong secret stays a wrong secret',
      );
      const refused = await checks.selfSigningSecrets('c');
      assert.equal(refused?.organisationEnabled, false);
      assert.deepEqual(
        refused?.secrets.map((s) => s.toString()).sort(),
        [secret.value, signing.value].sort(),
        'the verifier still checks the signature first',
      );
      enabled.set('123456782', true);
      await changes.publish({ kind: 'organisation', rsin: '123456782' });
      assert.equal((await checks.authenticate('c', secret.value)).ok, true);
      assert.equal((await checks.selfSigningSecrets('c'))?.organisationEnabled, true);
    });

    it("files every client event under the client's organisation; a move under both; names zgw-auth scopes granted", async () => {
      const { service } = withOrganisations(new Map());
      const { secret } = await service.create(
        { clientId: 'c', rsin: '123456782', allowedScopes: ['zaken.lezen', 'zgw-auth:org-admin'] },
        actor,
      );
      await service.addSecret('c', {}, actor);
      await service.revokeSecret('c', secret.secret.secretId, actor);
      await service.update('c', { allowedScopes: ['zaken.lezen', 'zgw-auth:org-admin', 'zgw-auth:introspect'] }, actor);
      await service.update('c', { rsin: '111222333' }, actor);
      await service.delete('c', actor);
      const events = (await audit.list()).reverse();
      assert.deepEqual(
        events.map((e) => [e.action, e.organisation]),
        [
          ['client.created', '123456782'],
          ['secret.created', '123456782'],
          ['secret.revoked', '123456782'],
          ['client.updated', '123456782'],
          ['client.updated', '111222333'],
          ['client.moved', '123456782'],
          ['client.deleted', '111222333'],
        ],
      );
      assert.deepEqual(events[0]!.details.ownScopesGranted, ['zgw-auth:org-admin']);
      assert.deepEqual(events[3]!.details.ownScopesGranted, ['zgw-auth:introspect']);
      assert.equal(events[4]!.details.ownScopesGranted, undefined);
      assert.deepEqual(events[5]!.details, { from: '123456782', to: '111222333' });
    });
  });

  describe('secrets', () => {
    it('refuses a weak import for a self-signing client unless allowed, and checks label and expiry', async () => {
      await clients.create({ clientId: 'hs', rsin: '000000000', selfSignedAllowed: true }, actor);
      await assert.rejects(clients.addSecret('hs', { value: WEAK }, actor), ValidationError);
      await assert.rejects(clients.addSecret('hs', { value: 'short' }, actor), ValidationError);
      await assert.rejects(clients.addSecret('hs', { label: 'a\u0007' }, actor), ValidationError);
      await assert.rejects(clients.addSecret('hs', { label: 'x'.repeat(201) }, actor), ValidationError);
      await assert.rejects(clients.addSecret('hs', { expiresAt: t }, actor), ValidationError);
      await assert.rejects(clients.addSecret('hs', { expiresAt: 253_402_300_800_000 }, actor), ValidationError);
      assert.equal((await clients.listSecrets('hs')).length, 1, 'nothing stored');
      const allowed = await clients.addSecret('hs', { value: WEAK, allowWeak: true, label: 'legacy' }, actor);
      assert.equal(allowed.secret.weak, true);
      assert.ok(allowed.warnings.length > 0);
      const [event] = await audit.list({ action: 'secret.imported' });
      assert.equal(event?.details.allowedWeak, true);
      // A client that does not self-sign may keep a weak import, with a warning.
      await clients.create({ clientId: 'plain', rsin: '000000000' }, actor);
      const plain = await clients.addSecret('plain', { value: WEAK }, actor);
      assert.ok(plain.warnings.length > 0);
      assert.equal((await authenticator.authenticate('plain', WEAK)).ok, true);
    });

    it('revokes once, keeps the first revocation time, and refuses an unknown secret', async () => {
      const { secret } = await clients.create({ clientId: 'c', rsin: '000000000' }, actor);
      const revoked = await clients.revokeSecret('c', secret.secret.secretId, actor);
      assert.equal(revoked.revokedAt, t);
      t += 1000;
      assert.equal((await clients.revokeSecret('c', secret.secret.secretId, actor)).revokedAt, t - 1000);
      await assert.rejects(clients.revokeSecret('c', 'sec_unknown', actor), NotFoundError);
      await clients.create({ clientId: 'other', rsin: '000000000' }, actor);
      await assert.rejects(
        clients.revokeSecret('other', secret.secret.secretId, actor),
        NotFoundError,
        "another client's secret is unknown here",
      );
    });
  });

  it('writes "last used" once per USAGE_PRECISION_MS, at flush time', async () => {
    const { secret } = await clients.create({ clientId: 'c', rsin: '000000000' }, actor);
    let writes = 0;
    const record = store.recordUsage.bind(store);
    store.recordUsage = (...args) => (writes++, record(...args));
    await authenticator.authenticate('c', secret.value);
    await authenticator.authenticate('c', secret.value);
    await usage.flush();
    assert.equal(writes, 1);
    const used = t;
    assert.equal((await clients.listSecrets('c'))[0]?.lastUsedAt, used);
    assert.equal((await clients.get('c')).lastTokenAt, used);
    t += USAGE_PRECISION_MS - 1;
    await authenticator.authenticate('c', secret.value);
    await usage.flush();
    assert.equal(writes, 1, 'within the precision: nothing to write');
    t += 1;
    await authenticator.authenticate('c', secret.value);
    await usage.flush();
    assert.equal((await clients.listSecrets('c'))[0]?.lastUsedAt, used + USAGE_PRECISION_MS);
  });

  it('lists with filters and deletes with the secrets', async () => {
    await clients.create({ clientId: 'b-app', rsin: '123456782', name: 'Zaken' }, actor);
    await clients.create({ clientId: 'a-app', rsin: '000000000', name: 'Documenten' }, actor);
    assert.deepEqual(
      (await clients.list({ limit: 10, offset: 0 })).items.map((c) => c.clientId),
      ['a-app', 'b-app'],
    );
    assert.deepEqual(
      (await clients.list({ q: 'zAK', limit: 10, offset: 0 })).items.map((c) => c.clientId),
      ['b-app'],
    );
    assert.deepEqual(
      (await clients.list({ rsin: '000000000', limit: 10, offset: 0 })).items.map((c) => c.clientId),
      ['a-app'],
    );
    await clients.delete('b-app', actor);
    await assert.rejects(clients.get('b-app'), NotFoundError);
    await assert.rejects(clients.delete('b-app', actor), NotFoundError);
    assert.deepEqual(await store.listSecrets('b-app'), []);
    assert.equal((await audit.list({ action: 'client.deleted' }))[0]?.target, 'b-app');
  });
});
