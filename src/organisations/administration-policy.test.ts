import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ForbiddenError } from '../errors.js';
import {
  type Administrator,
  administersPlatform,
  administratorOf,
  auditQueryFor,
  checkClientChange,
  checkNewClient,
  clientFilterFor,
  isPlatformScope,
  maySee,
} from './administration-policy.js';

const OWN = '123456782';
const OTHER = '111222333';
const globalAdmin: Administrator = { kind: 'global', clientId: 'platform' };
const orgAdmin: Administrator = { kind: 'organisation', clientId: 'org-admin', rsin: OWN };
const apiClient = { clientId: 'app', allowedScopes: ['zaken.lezen', 'zgw-auth:org-admin'] };

const forbidden = (fn: () => void) => assert.throws(fn, ForbiddenError);

describe('administration policy', () => {
  it("an administrator is what the registry's scopes say, of the registry's RSIN; both scopes: global", () => {
    assert.deepEqual(administratorOf({ clientId: 'a', rsin: OWN, scopes: ['zgw-auth:admin'] }), {
      kind: 'global',
      clientId: 'a',
    });
    assert.deepEqual(administratorOf({ clientId: 'b', rsin: OWN, scopes: ['zaken.lezen', 'zgw-auth:org-admin'] }), {
      kind: 'organisation',
      clientId: 'b',
      rsin: OWN,
    });
    assert.deepEqual(administratorOf({ clientId: 'c', rsin: OWN, scopes: ['zgw-auth:org-admin', 'zgw-auth:admin'] }), {
      kind: 'global',
      clientId: 'c',
    });
    assert.equal(
      administratorOf({
        clientId: 'd',
        rsin: OWN,
        scopes: ['zaken.lezen', 'zgw-auth:introspect', 'zgw-auth:admin2', 'zgw-auth:ORG-ADMIN'],
      }),
      undefined,
    );
    assert.equal(
      administratorOf({ clientId: 'e', rsin: undefined, scopes: ['zgw-auth:org-admin'] }),
      undefined,
      'no organisation, nothing to administer',
    );
  });

  it('the platform (keys, organisations) is for global administrators; clients of other organisations do not exist for an organisation administrator', () => {
    assert.equal(administersPlatform(globalAdmin), true);
    assert.equal(administersPlatform(orgAdmin), false);
    assert.equal(maySee(globalAdmin, { rsin: OTHER }), true);
    assert.equal(maySee(orgAdmin, { rsin: OWN }), true);
    assert.equal(maySee(orgAdmin, { rsin: OTHER }), false);
  });

  it("zgw-auth's own scopes but org-admin are the platform's to grant", () => {
    for (const s of ['zgw-auth:admin', 'zgw-auth:introspect', 'zgw-auth:anything-later'])
      assert.equal(isPlatformScope(s), true, s);
    for (const s of ['zgw-auth:org-admin', 'zaken.lezen', 'audittrails.lezen', 'zgw-auth', 'x-zgw-auth:admin'])
      assert.equal(isPlatformScope(s), false, s);
  });

  it('an organisation administrator registers clients for its own RSIN with API scopes and org-admin only', () => {
    checkNewClient(orgAdmin, {
      rsin: OWN,
      allowedScopes: ['zaken.lezen', 'zgw-auth:org-admin'],
      defaultScopes: ['zaken.lezen'],
    });
    forbidden(() => checkNewClient(orgAdmin, { rsin: OTHER }));
    forbidden(() => checkNewClient(orgAdmin, { rsin: OWN, allowedScopes: ['zaken.lezen', 'zgw-auth:admin'] }));
    forbidden(() => checkNewClient(orgAdmin, { rsin: OWN, allowedScopes: ['zgw-auth:introspect'] }));
    forbidden(() => checkNewClient(orgAdmin, { rsin: OWN, defaultScopes: ['zgw-auth:admin'] }));
    checkNewClient(globalAdmin, { rsin: OTHER, allowedScopes: ['zgw-auth:admin', 'zgw-auth:introspect'] });
  });

  it("an organisation administrator changes its organisation's clients, but does not move them, grant platform scopes or touch a platform client", () => {
    checkClientChange(orgAdmin, apiClient);
    checkClientChange(orgAdmin, apiClient, {
      rsin: OWN,
      name: 'x',
      allowedScopes: ['zgw-auth:org-admin', 'besluiten.lezen'],
    });
    forbidden(() => checkClientChange(orgAdmin, apiClient, { rsin: OTHER }));
    forbidden(() => checkClientChange(orgAdmin, apiClient, { allowedScopes: ['zgw-auth:introspect'] }));
    forbidden(() => checkClientChange(orgAdmin, apiClient, { defaultScopes: ['zgw-auth:admin'] }));
    const platformClient = { clientId: 'ops', allowedScopes: ['zaken.lezen', 'zgw-auth:introspect'] };
    forbidden(() => checkClientChange(orgAdmin, platformClient));
    forbidden(() => checkClientChange(orgAdmin, platformClient, { allowedScopes: ['zaken.lezen'] }));
    checkClientChange(globalAdmin, platformClient, { rsin: OTHER, allowedScopes: ['zgw-auth:admin'] });
  });

  it("lists and the audit trail are narrowed to the organisation administrator's own; another organisation's are empty", () => {
    const filter = { limit: 10, offset: 0 };
    assert.deepEqual(clientFilterFor(globalAdmin, filter), filter);
    assert.deepEqual(clientFilterFor(globalAdmin, { ...filter, rsin: OTHER }), { ...filter, rsin: OTHER });
    assert.deepEqual(clientFilterFor(orgAdmin, filter), { ...filter, rsin: OWN });
    assert.deepEqual(clientFilterFor(orgAdmin, { ...filter, rsin: OWN, q: 'x' }), { ...filter, rsin: OWN, q: 'x' });
    assert.equal(clientFilterFor(orgAdmin, { ...filter, rsin: OTHER }), undefined);
    assert.deepEqual(auditQueryFor(globalAdmin, { action: 'x' }), { action: 'x' });
    assert.deepEqual(auditQueryFor(orgAdmin, { action: 'x' }), { action: 'x', organisation: OWN });
    assert.equal(auditQueryFor(orgAdmin, { organisation: OTHER }), undefined);
  });
});
