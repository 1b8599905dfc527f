import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { autorisatieWords } from '../src/console/autorisatie-words.js';
import { consoleSignIn } from './console-helpers.js';
import { request, startTestServer, type TestServer } from './helpers.js';

const OWN = '123456782';
const OTHER = '111222333';
const ZAAKTYPE = 'https://catalogi.example.nl/api/v1/zaaktypen/omgevingsvergunning';

/** The page's text without tags, whitespace folded: what a reader (and a screen reader) gets. */
const textOf = (page: string) =>
  page
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/\s+/g, ' ');

describe("console: a client's rights in the ZGW APIs", () => {
  let ts: TestServer;
  let orgAdmin: { clientId: string; secret: string };
  before(async () => {
    ts = await startTestServer();
    for (const [clientId, rsin] of [
      ['zaaksysteem', OWN],
      ['buurdorp-zaken', OTHER],
    ] as const)
      await ts.app.clients.create({ clientId, rsin, allowedScopes: ['zaken.lezen'] }, { id: 'test' });
    const created = await ts.app.clients.create(
      { clientId: 'org-admin-eigen', rsin: OWN, allowedScopes: ['zgw-auth:org-admin'] },
      { id: 'test' },
    );
    orgAdmin = { clientId: created.client.clientId, secret: created.secret!.value };
  });
  after(() => ts.close());

  it('puts an autorisatie in words, in Dutch and English', () => {
    const a = {
      component: 'zrc' as const,
      scopes: ['zaken.lezen', 'zaken.bijwerken'],
      zaaktype: ZAAKTYPE,
      maxVertrouwelijkheidaanduiding: 'vertrouwelijk' as const,
    };
    const nl = autorisatieWords('nl', a);
    assert.equal(nl.text, 'mag zaken lezen en bijwerken van zaaktype {type} tot en met vertrouwelijk');
    assert.equal(nl.typeName, 'omgevingsvergunning');
    assert.equal(autorisatieWords('en', a).text, 'may read and update cases of zaaktype {type} up to confidential');
    assert.equal(
      autorisatieWords('en', { component: 'zrc', scopes: ['zaken.lezen', 'audittrails.lezen'] }).text,
      'may read cases and read audit trails',
    );
  });

  it('an organisation administrator adds, reads and removes rights of its own client; the API decides the rules', async () => {
    const c = await consoleSignIn(ts, orgAdmin.clientId, orgAdmin.secret);
    const empty = await c.get('/console/clients/zaaksysteem');
    assert.equal(empty.status, 200);
    assert.match(textOf(empty.text), /Deze client mag nog niets in de ZGW API/);
    // No all-rights switch for an organisation administrator.
    assert.doesNotMatch(empty.text, /name="heeftAlleAutorisaties"/);
    // The scopes of the chosen component are its checkboxes.
    const chosen = await c.get('/console/clients/zaaksysteem?component=drc');
    assert.match(chosen.text, /name="scope:documenten\.lock"/);
    assert.doesNotMatch(chosen.text, /name="scope:zaken\.lezen"/);

    // ac-003 through the admin API: the zaaktype is missing, said next to that field.
    const missing = await c.post('/console/clients/zaaksysteem/autorisaties', {
      component: 'zrc',
      'scope:zaken.lezen': 'true',
      type: '',
      max: 'vertrouwelijk',
    });
    assert.equal(missing.status, 400);
    assert.match(
      missing.text,
      /<div[^>]*id="ac-type-error"[^>]*>[^<]*Vul de URL van het zaaktype in/,
      'the refusal stands with the type field',
    );
    assert.match(missing.text, /name="scope:zaken\.lezen"[^>]*checked/, 'what was chosen stays chosen');
    assert.equal(await ts.app.autorisaties.ofClient('zaaksysteem'), undefined, 'nothing saved');

    const added = await c.post('/console/clients/zaaksysteem/autorisaties', {
      component: 'zrc',
      'scope:zaken.lezen': 'true',
      'scope:zaken.bijwerken': 'true',
      type: ZAAKTYPE,
      max: 'vertrouwelijk',
    });
    assert.equal(added.status, 303, added.text);
    const saved = await ts.app.autorisaties.ofClient('zaaksysteem');
    assert.deepEqual(saved?.autorisaties, [
      {
        component: 'zrc',
        scopes: ['zaken.lezen', 'zaken.bijwerken'],
        zaaktype: ZAAKTYPE,
        maxVertrouwelijkheidaanduiding: 'vertrouwelijk',
      },
    ]);
    assert.equal(saved?.organisation, OWN);
    const shown = await c.get('/console/clients/zaaksysteem');
    assert.match(
      textOf(shown.text),
      /mag zaken lezen en bijwerken van zaaktype omgevingsvergunning tot en met vertrouwelijk/,
    );
    assert.match(shown.text, new RegExp(`href="${ZAAKTYPE}"`));
    const english = await c.get('/console/clients/zaaksysteem?lang=en');
    assert.match(textOf(english.text), /may read and update cases of zaaktype omgevingsvergunning up to confidential/);

    // Audited as the administrator's change.
    const [event] = await ts.app.audit.list({ action: 'applicatie.created', limit: 1 });
    assert.equal(event?.actor, orgAdmin.clientId);

    // All rights are not for an organisation administrator, also when the form is forged.
    const forged = await c.post('/console/clients/zaaksysteem/autorisaties/all', { heeftAlleAutorisaties: 'true' });
    assert.equal(forged.status, 400);
    assert.match(forged.text, /Alle rechten geeft alleen een beheerder van het hele register/);
    assert.equal((await ts.app.autorisaties.ofClient('zaaksysteem'))?.heeftAlleAutorisaties, false);

    // Removing the last right is refused by the standard's rule (never neither).
    const last = await c.post('/console/clients/zaaksysteem/autorisaties/remove', { index: '0' });
    assert.equal(last.status, 400);
    assert.equal((await ts.app.autorisaties.ofClient('zaaksysteem'))?.autorisaties.length, 1);
  });

  it("another organisation's client does not exist for it (404), for reading and for writing", async () => {
    const c = await consoleSignIn(ts, orgAdmin.clientId, orgAdmin.secret);
    assert.equal((await c.get('/console/clients/buurdorp-zaken')).status, 404);
    const res = await c.post('/console/clients/buurdorp-zaken/autorisaties', {
      component: 'ztc',
      'scope:catalogi.lezen': 'true',
    });
    assert.equal(res.status, 404);
    assert.equal(await ts.app.autorisaties.ofClient('buurdorp-zaken'), undefined);
  });

  it('a global administrator grants all rights, which replace the list; forms without the form token are refused', async () => {
    const c = await consoleSignIn(ts);
    const page = await c.get('/console/clients/buurdorp-zaken');
    assert.match(page.text, /name="heeftAlleAutorisaties"/);
    const refused = await c.post(
      '/console/clients/buurdorp-zaken/autorisaties/all',
      { heeftAlleAutorisaties: 'true' },
      { csrf: false },
    );
    assert.equal(refused.status, 403);
    assert.equal(await ts.app.autorisaties.ofClient('buurdorp-zaken'), undefined);
    const all = await c.post('/console/clients/buurdorp-zaken/autorisaties/all', { heeftAlleAutorisaties: 'true' });
    assert.equal(all.status, 303, all.text);
    const saved = await ts.app.autorisaties.ofClient('buurdorp-zaken');
    assert.equal(saved?.heeftAlleAutorisaties, true);
    assert.equal(saved?.organisation, OTHER);
    assert.match(textOf((await c.get('/console/clients/buurdorp-zaken')).text), /Mag alles, in alle ZGW API/);
    // Adding a right to a client with all rights: the standard's either-or, said on the form.
    const both = await c.post('/console/clients/buurdorp-zaken/autorisaties', {
      component: 'ztc',
      'scope:catalogi.lezen': 'true',
    });
    assert.equal(both.status, 400);
    assert.match(both.text, /alle rechten of een lijst met rechten/);

    // The admin API behind the page: another organisation's client and its rights do not exist for
    // an organisation administrator (404), for reading and for writing.
    const orgToken = await ts.token(orgAdmin.clientId, orgAdmin.secret, 'zgw-auth:org-admin');
    const adminToken = await ts.token(ts.admin.clientId, ts.admin.secret, 'zgw-auth:admin');
    const path = `${ts.url}/admin/clients/buurdorp-zaken/applicatie`;
    assert.equal((await request(path, { headers: { authorization: `Bearer ${orgToken}` } })).status, 404);
    const put = await request(path, {
      method: 'PUT',
      headers: { authorization: `Bearer ${orgToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        heeftAlleAutorisaties: false,
        autorisaties: [{ component: 'ztc', scopes: ['catalogi.lezen'] }],
      }),
    });
    assert.equal(put.status, 404);
    const read = await request(path, { headers: { authorization: `Bearer ${adminToken}` } });
    assert.equal(read.status, 200);
    assert.equal(read.json.heeftAlleAutorisaties, true, 'unchanged');
    // A refusal names every field with the standard's code.
    const bad = await request(path, {
      method: 'PUT',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        heeftAlleAutorisaties: false,
        autorisaties: [{ component: 'zrc', scopes: ['zaken.lezen'] }],
      }),
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      bad.json.invalidParams.map((p: { name: string; code: string }) => `${p.name} ${p.code}`),
      ['autorisaties.0.zaaktype required', 'autorisaties.0.maxVertrouwelijkheidaanduiding required'],
    );
  });
});
