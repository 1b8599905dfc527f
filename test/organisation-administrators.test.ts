import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodePart, forEachDialect, request, startTestServer, type TestServer } from './helpers.js';

// RSINs passing the 11-test; UNKNOWN has no organisation.
const OWN = '123456782';
const OTHER = '111222333';
const UNKNOWN = '999999990';

/** What an organisation administrator may do beyond seeing its own clients (the matrix test covers that). */
forEachDialect((dialect) => {
  describe(`organisation administrators (${dialect})`, () => {
    let ts: TestServer;
    let orgAdmin: { clientId: string; secret: string };
    let token: string;
    let globalToken: string;
    const api = async (method: string, url: string, body?: unknown, as = token) =>
      request(`${ts.url}/admin${url}`, {
        method,
        headers: {
          authorization: `Bearer ${as}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    /** The registry's rows, to show that a refusal changed nothing. */
    const rows = async () => {
      await ts.app.audit.flush(true);
      // Last-used marks of earlier tokens, written in batches: in the snapshot, not after it.
      await ts.app.usage.flush();
      const db = ts.app.storage.db;
      return [
        await db.selectFrom('clients').selectAll().orderBy('client_id').execute(),
        await db.selectFrom('client_secrets').selectAll().orderBy('secret_id').execute(),
        await db.selectFrom('organisations').selectAll().orderBy('rsin').execute(),
        await db.selectFrom('audit_events').selectAll().orderBy('id').execute(),
      ];
    };
    const forbidden = async (method: string, url: string, body?: unknown) => {
      const before = await rows();
      const res = await api(method, url, body);
      assert.equal(res.status, 403, `${method} ${url}: ${res.text}`);
      assert.equal(res.json.code, 'forbidden');
      assert.deepEqual(await rows(), before, `${method} ${url} changed nothing`);
      return res;
    };

    before(async () => {
      ts = await startTestServer({ dialect });
      await ts.app.organisations.create({ rsin: OWN, name: 'Gemeente Eigen' }, { id: 'test' });
      await ts.app.organisations.create({ rsin: OTHER, name: 'Gemeente Ander' }, { id: 'test' });
      orgAdmin = await ts.createClient({ clientId: 'org-admin', rsin: OWN, allowedScopes: ['zgw-auth:org-admin'] });
      token = await ts.token(orgAdmin.clientId, orgAdmin.secret);
      globalToken = await ts.token(ts.admin.clientId, ts.admin.secret);
    });
    after(() => ts.close());

    it('grants API scopes and zgw-auth:org-admin (audited), never zgw-auth:admin or zgw-auth:introspect', async () => {
      for (const scopes of [
        ['zgw-auth:admin'],
        ['ZGW-AUTH:ADMIN'],
        ['Zgw-Auth:Introspect'],
        ['zaken.lezen', 'zgw-auth:introspect'],
        ['zgw-auth:admin', 'zgw-auth:org-admin'],
      ]) {
        const res = await forbidden('POST', '/clients', { clientId: 'escalated', rsin: OWN, allowedScopes: scopes });
        assert.match(res.json.detail, /grants API scopes and zgw-auth:org-admin, not zgw-auth:/i);
      }
      const created = await api('POST', '/clients', {
        clientId: 'deputy',
        rsin: OWN,
        allowedScopes: ['zaken.lezen', 'zgw-auth:org-admin'],
        defaultScopes: ['zaken.lezen'],
      });
      assert.equal(created.status, 201, created.text);
      const [event] = await ts.app.audit.list({ action: 'client.created', target: 'deputy' });
      assert.deepEqual(
        [event?.actor, event?.organisation, event?.details.ownScopesGranted],
        [orgAdmin.clientId, OWN, ['zgw-auth:org-admin']],
      );
      await forbidden('PATCH', '/clients/deputy', {
        allowedScopes: ['zaken.lezen', 'zgw-auth:org-admin', 'zgw-auth:introspect'],
      });
      await forbidden('PATCH', '/clients/deputy', { defaultScopes: ['zgw-auth:admin'] });

      // The deputy administers the same organisation, and only that.
      const deputy = await ts.token('deputy', created.json.secret.value, 'zgw-auth:org-admin');
      const listed = await api('GET', '/clients', undefined, deputy);
      assert.equal(listed.status, 200);
      assert.ok(listed.json.items.length >= 2 && listed.json.items.every((c: { rsin: string }) => c.rsin === OWN));
      assert.equal((await api('GET', '/keys', undefined, deputy)).status, 403);
      const removed = await api('PATCH', '/clients/deputy', { allowedScopes: ['zaken.lezen'], defaultScopes: [] });
      assert.equal(removed.status, 200);
      assert.equal(
        (await api('GET', '/clients', undefined, deputy)).status,
        403,
        'a scope taken away is gone from its tokens at once',
      );
    });

    it('cannot register a client for another RSIN or move one there: 403 whether that organisation exists or not', async () => {
      const own = await ts.createClient({ clientId: 'own-app', rsin: OWN, allowedScopes: ['zaken.lezen'] });
      for (const rsin of [OTHER, UNKNOWN]) {
        const created = await forbidden('POST', '/clients', { clientId: 'elsewhere', rsin });
        const moved = await forbidden('PATCH', `/clients/${own.clientId}`, { rsin });
        assert.match(moved.json.detail, /cannot move a client to another organisation/);
        // The answer is the same for a registered and an unregistered RSIN: it tells nothing about others.
        assert.ok(!created.text.includes(rsin) && !moved.text.includes(rsin));
      }
      await assert.rejects(
        ts.app.organisations.get(UNKNOWN),
        /does not exist/,
        'no organisation registered on the way',
      );
      const same = await api('PATCH', `/clients/${own.clientId}`, { rsin: OWN, name: 'Zaaksysteem' });
      assert.equal(same.status, 200, 'naming its own RSIN is no move');
    });

    it("leaves its organisation's clients that hold zgw-auth's own scopes to global administrators; it sees them", async () => {
      const platform = await ts.createClient({
        clientId: 'own-introspector',
        rsin: OWN,
        allowedScopes: ['zgw-auth:introspect'],
      });
      const [secret] = await ts.app.clients.listSecrets(platform.clientId);
      assert.equal((await api('GET', `/clients/${platform.clientId}`)).status, 200);
      assert.equal((await api('GET', `/clients/${platform.clientId}/secrets`)).status, 200);
      assert.ok(
        (await api('GET', '/clients?limit=1000')).json.items.some(
          (c: { clientId: string }) => c.clientId === platform.clientId,
        ),
      );
      await forbidden('PATCH', `/clients/${platform.clientId}`, { allowedScopes: [] });
      await forbidden('POST', `/clients/${platform.clientId}/disable`);
      await forbidden('POST', `/clients/${platform.clientId}/enable`);
      await forbidden('DELETE', `/clients/${platform.clientId}`);
      const added = await forbidden('POST', `/clients/${platform.clientId}/secrets`, {});
      assert.equal(added.json.value, undefined);
      await forbidden('DELETE', `/clients/${platform.clientId}/secrets/${secret!.secretId}`);
      assert.equal(
        (await api('POST', `/clients/${platform.clientId}/disable`, undefined, globalToken)).status,
        200,
        'a global administrator may',
      );
    });

    it('administers the organisation the registry has for its client, whatever its token says; a moved administrator moves along', async () => {
      const mover = await ts.createClient({ clientId: 'mover', rsin: OWN, allowedScopes: ['zgw-auth:org-admin'] });
      const moverToken = await ts.token(mover.clientId, mover.secret);
      assert.equal(decodePart(moverToken, 1).rsin, OWN, 'the token names the organisation it was issued in');
      const otherApp = await ts.createClient({ clientId: 'other-app', rsin: OTHER, allowedScopes: ['zaken.lezen'] });
      assert.equal((await api('GET', `/clients/${otherApp.clientId}`, undefined, moverToken)).status, 404);
      assert.equal((await api('PATCH', `/clients/${mover.clientId}`, { rsin: OTHER }, globalToken)).status, 200);
      assert.equal(
        (await api('GET', `/clients/${otherApp.clientId}`, undefined, moverToken)).status,
        200,
        'the same token now administers the other organisation',
      );
      assert.equal((await api('GET', '/clients/own-app', undefined, moverToken)).status, 404);
      const audit = await api('GET', '/audit?limit=1000', undefined, moverToken);
      assert.ok(
        audit.json.items.length > 0 &&
          audit.json.items.every((e: { organisation: string }) => e.organisation === OTHER),
      );
    });

    it("another organisation's client is absent from the audit trail whatever the filter; an id taken there answers 409 on create", async () => {
      const theirs = await ts.createClient({ clientId: 'their-app', rsin: OTHER, allowedScopes: ['zaken.lezen'] });
      await ts.token(theirs.clientId, theirs.secret);
      for (const query of [
        `target=${theirs.clientId}`,
        `actor=${theirs.clientId}`,
        'action=token.issued',
        `organisation=${OTHER}`,
      ]) {
        const res = await api('GET', `/audit?${query}`);
        assert.equal(res.status, 200);
        assert.ok(
          res.json.items.every(
            (e: { organisation: string; target: string }) => e.organisation === OWN && e.target !== theirs.clientId,
          ),
          query,
        );
      }
      assert.ok((await api('GET', `/audit?target=${theirs.clientId}`, undefined, globalToken)).json.items.length > 0);
      // Client ids are one namespace: creating a taken one cannot succeed, and says so.
      const before = await rows();
      const taken = await api('POST', '/clients', { clientId: theirs.clientId, rsin: OWN });
      assert.equal(taken.status, 409);
      assert.ok(!taken.text.includes(OTHER));
      assert.deepEqual(await rows(), before);
    });
  });
});
