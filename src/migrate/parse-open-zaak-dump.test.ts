import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../errors.js';
import type { ImportEntry, PlanEntry } from './migration-plan.js';
import { parseOpenZaakDump } from './parse-open-zaak-dump.js';

const FIXTURE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../test/fixtures/open-zaak-dumpdata.json',
);
const secret = (pk: number, identifier: string, value: unknown) => ({
  model: 'vng_api_common.jwtsecret',
  pk,
  fields: { identifier, secret: value },
});
const applicatie = (pk: number, label: string, clientIds: unknown) => ({
  model: 'authorizations.applicatie',
  pk,
  fields: { uuid: `u${pk}`, client_ids: clientIds, label },
});
const parse = (data: unknown) => parseOpenZaakDump(data, { rsin: '123456782' });
const byId = (entries: PlanEntry[]) => new Map(entries.map((e) => [e.clientId, e]));
const refusesWith = (data: unknown, message: RegExp) =>
  assert.throws(
    () => parse(data),
    (err: unknown) => err instanceof ValidationError && message.test(err.message),
  );

describe('Open Zaak dumpdata → migration plan', () => {
  it('the sample dump: secrets become self-signing clients named after their Applicatie; empty secrets and ids without one are reported', () => {
    const p = parse(JSON.parse(fs.readFileSync(FIXTURE, 'utf8')));
    const entries = byId(p.entries);
    const forms = entries.get('open-formulieren') as ImportEntry;
    assert.equal(forms.action, 'import');
    assert.deepEqual(forms.client, {
      name: 'Open Formulieren',
      description: '',
      rsin: '123456782',
      enabled: true,
      tokenLifetime: null,
      staticClaims: {},
      selfSignedAllowed: true,
    });
    assert.deepEqual(forms.secrets, [
      { value: 'dit-is-een-lang-geheim-voor-formulieren', label: 'open zaak', expiresAt: null },
    ]);
    assert.equal((entries.get('zac-gemeente') as ImportEntry).client.name, 'Zaakafhandelcomponent');
    assert.equal(entries.get('leeg-geheim')?.action, 'refuse');
    assert.equal(entries.get('zac-gemeente-test')?.action, 'skip');
    assert.match((entries.get('zac-gemeente-test') as { reason: string }).reason, /no secret in Open Zaak/);
    assert.deepEqual(p.notes, []);
    // The Applicaties with their Autorisaties, in the Autorisaties API's shape, for its own checks.
    assert.deepEqual(p.applicaties, [
      {
        source: 'authorizations.applicatie pk 1',
        uuid: '78f9ddcd-2ff0-4d7e-bfd8-46c63e5aa0bf',
        body: {
          clientIds: ['open-formulieren'],
          label: 'Open Formulieren',
          heeftAlleAutorisaties: false,
          autorisaties: [
            {
              component: 'zrc',
              scopes: ['zaken.lezen', 'zaken.aanmaken'],
              zaaktype: 'https://openzaak.example.nl/catalogi/api/v1/zaaktypen/0119dd4e-7be9-477e-bccf-75023b1453c1',
              // Open Zaak's empty URLs are "not set".
              informatieobjecttype: undefined,
              besluittype: undefined,
              maxVertrouwelijkheidaanduiding: 'openbaar',
            },
          ],
          alleenIsGereedVoorPublicatie: false,
        },
        autorisatieSources: ['authorizations.autorisatie pk 1'],
        notes: [],
      },
      {
        source: 'authorizations.applicatie pk 2',
        uuid: '2b50e6cc-8242-4090-8936-d2ecf438be84',
        body: {
          clientIds: ['zac-gemeente', 'zac-gemeente-test'],
          label: 'Zaakafhandelcomponent',
          heeftAlleAutorisaties: true,
          autorisaties: [],
          alleenIsGereedVoorPublicatie: false,
        },
        autorisatieSources: [],
        notes: [],
      },
    ]);
  });

  it('Autorisaties go with the Applicatie whose pk they name; others are noted; a dump without any is refused per Applicatie', () => {
    const autorisatie = (pk: number, applicatie: unknown, fields: Record<string, unknown> = {}) => ({
      model: 'authorizations.autorisatie',
      pk,
      fields: {
        applicatie,
        component: 'ztc',
        scopes: ['catalogi.lezen'],
        max_vertrouwelijkheidaanduiding: '',
        ...fields,
      },
    });
    const p = parse([
      applicatie(7, 'Zeven', ['a']),
      applicatie(8, 'Acht', ['b']),
      autorisatie(1, 8),
      autorisatie(2, 7, {
        component: 'drc',
        informatieobjecttype: 'https://x.nl/iot/1',
        max_vertrouwelijkheidaanduiding: 'geheim',
      }),
      autorisatie(3, '8'),
      autorisatie(4, 99),
    ]);
    const [seven, eight] = p.applicaties!;
    assert.deepEqual(seven!.autorisatieSources, ['authorizations.autorisatie pk 2']);
    assert.deepEqual((seven!.body.autorisaties as Record<string, unknown>[])[0], {
      component: 'drc',
      scopes: ['catalogi.lezen'],
      zaaktype: undefined,
      informatieobjecttype: 'https://x.nl/iot/1',
      besluittype: undefined,
      maxVertrouwelijkheidaanduiding: 'geheim',
    });
    assert.deepEqual(eight!.autorisatieSources, ['authorizations.autorisatie pk 1', 'authorizations.autorisatie pk 3']);
    // The test helper's uuids ("u7") are none: a new one is made.
    assert.equal(seven!.uuid, undefined);
    assert.match(seven!.notes.join(), /new one/);
    assert.deepEqual(p.notes, [
      'ignored: 1 authorizations.autorisatie record whose applicatie is not in the file (pk 4)',
    ]);
    assert.equal(seven!.refused, undefined);

    // Without any autorisatie record, an Applicatie without all rights cannot be told from one without rights.
    const bare = parse([
      applicatie(1, 'Een', ['a']),
      { ...applicatie(2, 'Twee', ['b']), fields: { client_ids: ['b'], label: 'Twee', heeft_alle_autorisaties: true } },
    ]);
    assert.match(bare.applicaties![0]!.refused!, /dumpdata .*authorizations\.autorisatie/);
    assert.equal(bare.applicaties![1]!.refused, undefined);
  });

  it('a secret without an Applicatie is named after its id; one listed twice after the first label; a repeated id is refused', () => {
    const p = parse([
      secret(1, 'loose', 'a-long-enough-secret-for-the-test-0001'),
      secret(2, 'shared', 'a-long-enough-secret-for-the-test-0002'),
      secret(3, 'loose', 'another'),
      applicatie(1, 'First', ['shared']),
      applicatie(2, 'Second', ['shared']),
      { model: 'auth.user', pk: 1, fields: {} },
    ]);
    const entries = p.entries;
    assert.deepEqual(
      entries.map((e) => [e.clientId, e.action]),
      [
        ['loose', 'import'],
        ['shared', 'import'],
        ['loose', 'refuse'],
      ],
    );
    assert.equal((entries[0] as ImportEntry).client.name, 'loose');
    assert.match((entries[0] as ImportEntry).notes.join(), /no Applicatie/);
    assert.equal((entries[1] as ImportEntry).client.name, 'First');
    assert.match((entries[1] as ImportEntry).notes.join(), /2 Applicaties/);
    assert.deepEqual(p.notes, ['ignored: 1 auth.user record']);
  });

  it('an id listed 50,000 times is counted per Applicatie in linear time, named after the first non-empty label', () => {
    const p = parse([
      secret(1, 'busy', 'a-long-enough-secret-for-the-test-0003'),
      applicatie(1, ' ', Array(10_000).fill('busy')),
      applicatie(2, 'Second', [...Array(9_999).fill('busy'), 'idle']),
      ...[3, 4, 5].map((pk) => applicatie(pk, `Other ${pk}`, Array(10_000).fill('busy'))),
      applicatie(6, 'Third', ['busy', 'idle']),
    ]);
    assert.deepEqual(
      p.entries.map((e) => [e.clientId, e.action]),
      [
        ['busy', 'import'],
        ['idle', 'skip'],
      ],
    );
    const busy = p.entries[0] as ImportEntry;
    assert.equal(busy.client.name, 'Second');
    assert.deepEqual(busy.notes, ['listed by 6 Applicaties: named after the first']);
    assert.match((p.entries[1] as { reason: string }).reason, /Applicatie "Second"/);
  });

  it('refuses a file of another shape, naming the place', () => {
    refusesWith({}, /^\$: expected an array, got an object/);
    refusesWith([42], /^\$\[0\]: expected an object, got number/);
    refusesWith([{ fields: {} }], /^\$\[0\]\.model: expected a string/);
    refusesWith([secret(1, 'a', 12345678)], /^\$\[0\]\.fields\.secret: expected a string, got number/);
    refusesWith([{ model: 'vng_api_common.jwtsecret', pk: 1 }], /^\$\[0\]\.fields: expected an object, got undefined/);
    refusesWith([applicatie(1, 'A', 'a,b')], /^\$\[0\]\.fields\.client_ids: expected an array, got string/);
    refusesWith([applicatie(1, 'A', [null])], /^\$\[0\]\.fields\.client_ids\[0\]: expected a string, got null/);
    refusesWith(
      [{ model: 'auth.user', pk: 1, fields: {} }],
      /no vng_api_common\.jwtsecret or authorizations\.applicatie records/,
    );
  });
});
