import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../errors.js';
import type { ImportEntry, MigrationPlan, PlanEntry } from './migration-plan.js';
import { parseKeycloakRealm } from './parse-keycloak-realm.js';

const FIXTURE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../test/fixtures/keycloak-realm-export.json',
);
const NOW = Date.UTC(2026, 0, 1);
const S = (iso: string) => String(Date.parse(iso) / 1000);
const STRONG = 'Wd0m2xYbT4qzJ6pLk9vRf3sN1cHa8uEe';

function hardcoded(claim: string, value: string, extra: Record<string, string> = {}) {
  return {
    name: claim,
    protocolMapper: 'oidc-hardcoded-claim-mapper',
    config: {
      'claim.name': claim,
      'claim.value': value,
      'jsonType.label': 'String',
      'access.token.claim': 'true',
      ...extra,
    },
  };
}

/** A confidential service-account client as OneGround's setup creates it, with `over` on top. */
function serviceClient(over: Record<string, unknown> = {}) {
  return {
    clientId: 'app-000000000',
    name: 'App',
    enabled: true,
    clientAuthenticatorType: 'client-secret',
    secret: STRONG,
    bearerOnly: false,
    publicClient: false,
    serviceAccountsEnabled: true,
    protocol: 'openid-connect',
    attributes: {},
    protocolMappers: [hardcoded('rsin', '000000000')],
    ...over,
  };
}

const plan = (
  clients: unknown[],
  options: Partial<Parameters<typeof parseKeycloakRealm>[1]> = {},
  realm: Record<string, unknown> = {},
): MigrationPlan =>
  parseKeycloakRealm({ realm: 'OneGround', ...realm, clients }, { selfSigned: true, now: NOW, ...options });
const only = (clients: unknown[], options?: Partial<Parameters<typeof parseKeycloakRealm>[1]>): PlanEntry =>
  plan(clients, options).entries[0]!;
function imported(entry: PlanEntry): ImportEntry {
  assert.equal(entry.action, 'import', JSON.stringify(entry));
  return entry as ImportEntry;
}
const refusesWith = (data: unknown, message: RegExp) =>
  assert.throws(
    () => parseKeycloakRealm(data, { selfSigned: true, now: NOW }),
    (err: unknown) => err instanceof ValidationError && message.test(err.message),
  );

describe('Keycloak realm export → migration plan', () => {
  it('the sample realm: service-account clients imported, the rest skipped with the reason', () => {
    const p = parseKeycloakRealm(JSON.parse(fs.readFileSync(FIXTURE, 'utf8')), { selfSigned: true, now: NOW });
    const byId = new Map(p.entries.map((e) => [e.clientId, e]));
    for (const id of [
      'account',
      'account-console',
      'admin-cli',
      'broker',
      'realm-management',
      'security-admin-console',
    ])
      assert.equal(byId.get(id)?.action, 'skip', id);
    assert.match((byId.get('portaal-frontend') as { reason: string }).reason, /public client/);
    const zaak = imported(byId.get('zaaksysteem-123456782')!);
    assert.deepEqual(zaak.client.staticClaims, { user_id: 'zaaksysteem', user_representation: 'Zaaksysteem' });
    assert.equal(zaak.client.rsin, '123456782');
    assert.deepEqual(
      zaak.secrets.map((s) => [s.label, s.value, s.expiresAt]),
      [
        ['keycloak', 'kP3vX9mQ2wL7zR4tY8nB1cF6hJ0dS5gA', 1924992000_000],
        ['keycloak rotated', 'oldSecret-Z9x8c7v6b5n4m3', 1893456000_000],
      ],
    );
    assert.equal(imported(byId.get('oneground-000000000')!).client.tokenLifetime, 3600);
    const old = imported(byId.get('oud-systeem-000000000')!);
    assert.equal(old.client.enabled, false, 'the enabled flag is kept');
    assert.equal(old.secrets[0]!.value, 'Tr7!pQ+2z%Lm9#Xc');
    const masked = imported(byId.get('dms-koppeling-123456782')!);
    assert.equal(masked.client.enabled, false);
    assert.deepEqual(masked.secrets, []);
    assert.match(masked.attention.join(), /masked/);
    assert.equal(p.realmTokenLifespan, 300);
  });

  it("skips Keycloak's own, SAML, bearer-only, public and non-service-account clients, each with its reason", () => {
    const p = plan([
      serviceClient({ clientId: 'admin-cli' }),
      serviceClient({ clientId: 'x', protocol: 'saml' }),
      serviceClient({ clientId: 'y', bearerOnly: true }),
      serviceClient({ clientId: 'z', publicClient: true }),
      serviceClient({ clientId: 'w', serviceAccountsEnabled: false }),
    ]);
    assert.deepEqual(
      p.entries.map((e) => [e.action, (e as { reason: string }).reason.split(':')[0]]),
      [
        ['skip', "Keycloak's own client"],
        ['skip', 'saml client'],
        ['skip', 'bearer-only'],
        ['skip', 'public client'],
        ['skip', 'service accounts off'],
      ],
    );
    // The master realm has a `<realm>-realm` client per realm; elsewhere such a name is an ordinary client.
    assert.equal(
      parseKeycloakRealm(
        { realm: 'master', clients: [serviceClient({ clientId: 'OneGround-realm' })] },
        { selfSigned: true, now: NOW },
      ).entries[0]!.action,
      'skip',
    );
    assert.equal(only([serviceClient({ clientId: 'OneGround-realm' })]).action, 'import');
  });

  it('refuses clients that authenticate otherwise than with a secret', () => {
    const e = only([serviceClient({ clientAuthenticatorType: 'client-jwt' })]);
    assert.equal(e.action, 'refuse');
    assert.match((e as { reason: string }).reason, /client-jwt/);
  });

  it('rsin from the hardcoded mapper, else --rsin; none, or two different ones, is refused', () => {
    assert.equal(
      imported(only([serviceClient()], { rsin: '123456782' })).client.rsin,
      '000000000',
      'the mapper wins over the default',
    );
    assert.equal(
      imported(only([serviceClient({ protocolMappers: [] })], { rsin: '123456782' })).client.rsin,
      '123456782',
    );
    assert.match((only([serviceClient({ protocolMappers: [] })]) as { reason: string }).reason, /no rsin.*--rsin/);
    const two = only([
      serviceClient({ protocolMappers: [hardcoded('rsin', '000000000'), hardcoded('rsin', '123456782')] }),
    ]);
    assert.equal(two.action, 'refuse');
  });

  it('hardcoded claims: user claims and collision-resistant names as static claims, others reported', () => {
    const e = imported(
      only([
        serviceClient({
          protocolMappers: [
            hardcoded('rsin', '000000000'),
            hardcoded('user_id', '42'),
            hardcoded('urn:gemeente:afdeling', '7', { 'jsonType.label': 'long' }),
            hardcoded('https://gemeente.example/flag', 'true', { 'jsonType.label': 'boolean' }),
            hardcoded('organisatie', 'x'),
            hardcoded('user_representation', 'hidden', { 'access.token.claim': 'false' }),
            {
              name: 'Client Host',
              protocolMapper: 'oidc-usersessionmodel-note-mapper',
              config: { 'user.session.note': 'clientHost' },
            },
          ],
        }),
      ]),
    );
    assert.deepEqual(e.client.staticClaims, {
      user_id: '42',
      'urn:gemeente:afdeling': 7,
      'https://gemeente.example/flag': true,
    });
    assert.match(e.attention.join('\n'), /"organisatie" not carried over/);
    assert.match(e.notes.join('\n'), /"user_representation" was not in Keycloak's access tokens/);
    assert.match(e.notes.join('\n'), /"Client Host" \(oidc-usersessionmodel-note-mapper\)/);
  });

  it('JSON-typed claims holding __proto__, constructor or prototype keys at any depth are left out and need attention', () => {
    const json = { 'jsonType.label': 'JSON' };
    const e = imported(
      only([
        serviceClient({
          protocolMappers: [
            hardcoded('rsin', '000000000'),
            hardcoded('urn:x:proto', '{"__proto__":{"polluted":1}}', json),
            hardcoded('urn:x:deep', '[1,{"a":[{"constructor":{"prototype":{"p":1}}}]}]', json),
            hardcoded('https://x.example/prototype', '{"prototype":null}', json),
            hardcoded('urn:x:fine', '{"proto":[{"__proto":1}],"constructors":2}', json),
          ],
        }),
      ]),
    );
    assert.deepEqual(e.client.staticClaims, { 'urn:x:fine': { proto: [{ __proto: 1 }], constructors: 2 } });
    assert.deepEqual(
      e.attention.map((a) => a.split(' not carried over')[0]),
      [
        'hardcoded claim "urn:x:proto"',
        'hardcoded claim "urn:x:deep"',
        'hardcoded claim "https://x.example/prototype"',
      ],
    );
    assert.match(e.attention[0]!, /holds a __proto__, constructor or prototype key/);
  });

  it('access.token.lifespan as the token lifetime; empty or -1 is the default; beyond a year needs attention', () => {
    const lifetime = (v: string) => imported(only([serviceClient({ attributes: { 'access.token.lifespan': v } })]));
    assert.equal(lifetime('900').client.tokenLifetime, 900);
    assert.equal(lifetime('').client.tokenLifetime, null);
    assert.equal(lifetime('-1').client.tokenLifetime, null);
    const long = lifetime('99999999');
    assert.equal(long.client.tokenLifetime, null);
    assert.match(long.attention.join(), /more than a year/);
    refusesWith(
      { clients: [serviceClient({ attributes: { 'access.token.lifespan': '1h' } })] },
      /^\$\.clients\[0\]\.attributes\["access\.token\.lifespan"\]: expected whole seconds/,
    );
  });

  it('secrets: expiry kept, an expired or missing one leaves the client disabled without a secret', () => {
    const e = imported(
      only([serviceClient({ attributes: { 'client.secret.expiration.time': S('2027-01-01T00:00:00Z') } })]),
    );
    assert.equal(e.secrets[0]!.expiresAt, Date.parse('2027-01-01T00:00:00Z'));
    assert.equal(e.client.enabled, true);
    for (const over of [
      { attributes: { 'client.secret.expiration.time': S('2025-06-01T00:00:00Z') } },
      { secret: '' },
      { secret: undefined },
      { secret: '**********' },
    ]) {
      const off = imported(only([serviceClient(over)]));
      assert.deepEqual([off.client.enabled, off.secrets.length], [false, 0], JSON.stringify(over));
      assert.equal(off.attention.length, 1);
    }
  });

  it("Keycloak's rotated secondary secret: imported with its expiry while it lasts, not once expired, masked, or equal", () => {
    const rotated = (attributes: Record<string, string>) => imported(only([serviceClient({ attributes })]));
    const live = rotated({
      'client.secret.rotated': 'previous-secret-value-0123456789abc',
      'client.secret.rotated.expiration.time': S('2026-02-01T00:00:00Z'),
    });
    assert.deepEqual(live.secrets[1], {
      value: 'previous-secret-value-0123456789abc',
      label: 'keycloak rotated',
      expiresAt: Date.parse('2026-02-01T00:00:00Z'),
    });
    const expired = rotated({
      'client.secret.rotated': 'previous-secret-value-0123456789abc',
      'client.secret.rotated.expiration.time': S('2025-12-01T00:00:00Z'),
    });
    assert.equal(expired.secrets.length, 1);
    assert.match(expired.notes.join(), /expired/);
    const masked = rotated({ 'client.secret.rotated': '**********' });
    assert.equal(masked.secrets.length, 1);
    assert.match(masked.attention.join(), /masked/);
    assert.equal(rotated({ 'client.secret.rotated': STRONG }).secrets.length, 1);
  });

  it('names: placeholders and empty names become the client id; control characters are removed; self-signing as asked', () => {
    assert.equal(imported(only([serviceClient({ name: '${client_app}' })])).client.name, 'app-000000000');
    assert.equal(imported(only([serviceClient({ name: '' })])).client.name, 'app-000000000');
    assert.equal(imported(only([serviceClient({ name: 'a\nb' })])).client.name, 'a b');
    assert.equal(imported(only([serviceClient({ name: 'x'.repeat(500) })])).client.name.length, 200);
    assert.equal(imported(only([serviceClient()], { selfSigned: false })).client.selfSignedAllowed, false);
  });

  it('a client id twice: the second is refused', () => {
    assert.deepEqual(
      plan([serviceClient(), serviceClient()]).entries.map((e) => e.action),
      ['import', 'refuse'],
    );
  });

  it('refuses a file of another shape, naming the place', () => {
    refusesWith('realm', /^\$: expected an object, got string/);
    refusesWith([{ clients: [] }, { clients: [] }], /holds 2 realms/);
    refusesWith({ realm: 'x' }, /^\$\.clients: missing/);
    refusesWith({ clients: {} }, /^\$\.clients: expected an array, got an object/);
    refusesWith(
      { clients: [serviceClient(), { clientId: 5 }] },
      /^\$\.clients\[1\]\.clientId: expected a string, got number/,
    );
    refusesWith({ clients: [serviceClient({ enabled: 'yes' })] }, /^\$\.clients\[0\]\.enabled: expected true or false/);
    refusesWith(
      { clients: [serviceClient({ attributes: { 'access.token.lifespan': 60 } })] },
      /^\$\.clients\[0\]\.attributes\["access\.token\.lifespan"\]: expected a string, got number/,
    );
    refusesWith(
      { clients: [serviceClient({ protocolMappers: [{ protocolMapper: 'x', config: [] }] })] },
      /^\$\.clients\[0\]\.protocolMappers\[0\]\.config: expected an object, got an array/,
    );
    refusesWith(
      { clients: [serviceClient({ secret: 'x'.repeat(5000) })] },
      /^\$\.clients\[0\]\.secret: longer than 4096/,
    );
    refusesWith(
      { clients: [serviceClient({ attributes: { 'client.secret.expiration.time': 'soon' } })] },
      /expected epoch seconds/,
    );
    refusesWith({ clients: new Array(10_001).fill({}) }, /more than 10000 entries/);
    refusesWith({ accessTokenLifespan: '300', clients: [] }, /accessTokenLifespan: expected whole seconds/);
    // One realm in an array, as some exports write it, is fine.
    assert.equal(
      parseKeycloakRealm([{ clients: [serviceClient()] }], { selfSigned: true, now: NOW }).entries.length,
      1,
    );
  });
});
