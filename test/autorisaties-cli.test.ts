import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CLI } from './helpers.js';

const run = promisify(execFile);

const ZAAKTYPE = 'https://catalogi.example.nl/api/v1/zaaktypen/0b1c6e2a-3f43-4d8f-9a55-1b2c3d4e5f60';

/** `zgw-auth autorisaties …` as an operator runs it: real CLI processes on one SQLite registry. */
describe('autorisaties on the command line', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-ac-cli-'));
  const env = {
    ...process.env,
    ZGW_AUTH_DATA_DIR: dataDir,
    ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
  };
  const cli = (...args: string[]) => run(process.execPath, [CLI, ...args], { env });
  const json = async (...args: string[]) => JSON.parse((await cli(...args, '--json')).stdout);
  /** The CLI's refusal: exit 1 and one line on stderr. */
  const refusal = async (...args: string[]): Promise<string> => {
    try {
      await cli(...args);
    } catch (err) {
      const e = err as { code: number; stderr: string; stdout: string };
      assert.equal(e.code, 1, e.stderr);
      assert.equal(e.stderr.trim().split('\n').length, 1, e.stderr);
      assert.equal(e.stdout, '');
      return e.stderr.trim();
    }
    assert.fail(`${args.join(' ')} was not refused`);
  };
  let uuid = '';

  it('creates an applicatie from --autorisatie specs, for registered clients', async () => {
    await cli('--init', 'clients', 'create', '--client-id', 'zaaksysteem', '--rsin', '000000000');
    await cli('clients', 'create', '--client-id', 'zaaksysteem-2', '--rsin', '000000000');
    await cli('clients', 'create', '--client-id', 'elders', '--rsin', '123456782');
    const created = await json(
      'autorisaties',
      'create',
      '--client-id',
      'zaaksysteem',
      '--client-id',
      'zaaksysteem-2',
      '--label',
      'Zaaksysteem',
      '--autorisatie',
      `component=zrc;scopes=zaken.lezen,zaken.bijwerken;zaaktype=${ZAAKTYPE};max=vertrouwelijk`,
      '--autorisatie',
      'component=ztc;scopes=catalogi.lezen',
    );
    assert.match(created.uuid, /^[0-9a-f-]{36}$/);
    uuid = created.uuid;
    assert.deepEqual(created.clientIds, ['zaaksysteem', 'zaaksysteem-2']);
    assert.equal(created.heeftAlleAutorisaties, false);
    assert.equal(created.organisation, '000000000');
    assert.deepEqual(created.autorisaties, [
      {
        component: 'zrc',
        componentWeergave: 'Zaakregistratiecomponent',
        scopes: ['zaken.lezen', 'zaken.bijwerken'],
        zaaktype: ZAAKTYPE,
        maxVertrouwelijkheidaanduiding: 'vertrouwelijk',
      },
      { component: 'ztc', componentWeergave: 'Zaaktypecatalogus', scopes: ['catalogi.lezen'] },
    ]);
    // Shown by its uuid and by any of its client ids (the API's consumer question).
    assert.deepEqual(await json('autorisaties', 'show', uuid), created);
    assert.deepEqual(await json('autorisaties', 'show', 'zaaksysteem-2'), created);
    const text = (await cli('autorisaties', 'show', uuid)).stdout;
    assert.match(text, /autorisatie:\s+zrc\s+zaken\.lezen,zaken\.bijwerken\s+zaaktype=https:\S+\s+max=vertrouwelijk/);
  });

  it("refuses with one line naming the field and the standard's code", async () => {
    // ac-003: zaken scopes need a zaaktype.
    assert.match(
      await refusal(
        'autorisaties',
        'create',
        '--client-id',
        'elders',
        '--label',
        'x',
        '--autorisatie',
        'component=zrc;scopes=zaken.lezen;max=openbaar',
      ),
      /autorisaties\.0\.zaaktype \[required\]/,
    );
    // An unknown scope of the component, an unknown level.
    const bad = await refusal(
      'autorisaties',
      'create',
      '--client-id',
      'elders',
      '--label',
      'x',
      '--autorisatie',
      `component=zrc;scopes=zaken.lezen,documenten.lezen;zaaktype=${ZAAKTYPE};max=topgeheim`,
    );
    assert.match(bad, /autorisaties\.0\.scopes\.1 \[invalid_choice\]/);
    assert.match(bad, /autorisaties\.0\.maxVertrouwelijkheidaanduiding \[invalid_choice\]/);
    // ac-001: a client id in one applicatie only.
    assert.match(
      await refusal(
        'autorisaties',
        'create',
        '--client-id',
        'zaaksysteem',
        '--label',
        'x',
        '--heeft-alle-autorisaties',
      ),
      /clientIds \[clientId-exists\]/,
    );
    // One registry: only clients of the registry, of one organisation.
    assert.match(
      await refusal('autorisaties', 'create', '--client-id', 'nobody', '--label', 'x', '--heeft-alle-autorisaties'),
      /clientIds\.0 \[clientId-unknown\]/,
    );
    assert.match(
      await refusal('autorisaties', 'update', uuid, '--client-id', 'zaaksysteem', '--client-id', 'elders'),
      /clientIds \[clientIds-multiple-organisations\]/,
    );
    // ac-002: never neither.
    assert.match(
      await refusal('autorisaties', 'create', '--client-id', 'elders', '--label', 'x'),
      /nonFieldErrors \[missing-authorizations\]/,
    );
    assert.match(
      await refusal('autorisaties', 'create', '--label', 'x', '--heeft-alle-autorisaties'),
      /clientIds \[required\]/,
    );
    // A spec with a key of no field, a uuid that is none.
    assert.match(
      await refusal('autorisaties', 'create', '--client-id', 'elders', '--label', 'x', '--autorisatie', 'comp=zrc'),
      /autorisaties\.0 \[invalid\]/,
    );
    assert.match(await refusal('autorisaties', 'delete', "1' OR 1=1"), /no applicatie/);
    // Nothing of the above was written.
    assert.equal((await json('autorisaties', 'list')).count, 1);
  });

  it('updates: all rights replace the list, a list replaces all rights, 1.1 field kept', async () => {
    const all = await json(
      'autorisaties',
      'update',
      uuid,
      '--heeft-alle-autorisaties',
      '--alleen-gereed-voor-publicatie',
    );
    assert.equal(all.heeftAlleAutorisaties, true);
    assert.deepEqual(all.autorisaties, []);
    assert.equal(all.alleenIsGereedVoorPublicatie, true);
    assert.equal(all.label, 'Zaaksysteem');
    const back = await json(
      'autorisaties',
      'update',
      uuid,
      '--autorisatie',
      'component=brc;scopes=besluiten.lezen;besluittype=https://catalogi.example.nl/besluittypen/1',
      '--label',
      'Besluiten',
    );
    assert.equal(back.heeftAlleAutorisaties, false);
    assert.equal(back.alleenIsGereedVoorPublicatie, true, 'left out: kept');
    assert.deepEqual(back.autorisaties[0].scopes, ['besluiten.lezen']);
    assert.deepEqual(back.clientIds, ['zaaksysteem', 'zaaksysteem-2']);
  });

  it("creates from a --file in the standard's Applicatie shape, flags overriding it", async () => {
    const file = path.join(dataDir, 'applicatie.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        url: 'https://elsewhere.example/autorisaties/api/v1/applicaties/1',
        clientIds: ['nobody'],
        label: 'Uit een andere AC',
        heeftAlleAutorisaties: false,
        autorisaties: [
          {
            component: 'drc',
            scopes: ['documenten.lezen'],
            informatieobjecttype: 'https://catalogi.example.nl/informatieobjecttypen/9',
            maxVertrouwelijkheidaanduiding: 'openbaar',
          },
        ],
      }),
    );
    const created = await json('autorisaties', 'create', '--file', file, '--client-id', 'elders');
    assert.deepEqual(created.clientIds, ['elders']);
    assert.equal(created.label, 'Uit een andere AC');
    assert.equal(created.organisation, '123456782');
    assert.equal(created.autorisaties[0].maxVertrouwelijkheidaanduiding, 'openbaar');
    fs.writeFileSync(file, '{"clientIds": ["elders"], "label": ');
    assert.match(await refusal('autorisaties', 'create', '--file', file), /--file: not valid JSON/);

    const listed = await json('autorisaties', 'list', '--client-id', 'elders');
    assert.deepEqual(
      listed.results.map((a: { uuid: string }) => a.uuid),
      [created.uuid],
    );
    await cli('autorisaties', 'delete', created.uuid);
    assert.match(await refusal('autorisaties', 'show', 'elders'), /Niet gevonden/);
  });

  it('audits every change with the actor "cli"', async () => {
    const events = (await json('audit', 'list')) as Array<{ action: string; actor: string; target: string }>;
    const ac = events.filter((e) => e.action.startsWith('applicatie.'));
    assert.deepEqual(
      ac.map((e) => e.action),
      ['applicatie.deleted', 'applicatie.created', 'applicatie.updated', 'applicatie.updated', 'applicatie.created'],
    );
    assert.ok(ac.every((e) => e.actor === 'cli'));
  });
});
