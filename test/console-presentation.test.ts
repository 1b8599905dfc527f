import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, seriousViolations } from './browser.js';
import { postForm, startTestServer, type TestServer } from './helpers.js';

/**
 * What a person sees in the console, in a real browser (Debian's Chromium) with realistic, long
 * data: days of activity in Dutch time, every refused field next to the field in the page's
 * language, organisations by name, audit events in words, every page fitting a 320 px wide screen,
 * and a confirmation before an administrator locks itself or its organisation out.
 */

// RSINs passing the 11-test.
const OWN = '123456782';
const OTHER = '111222333';
const OWN_NAME = 'Gemeente Voorbeeldstad';
const OTHER_NAME = 'Samenwerkingsverband Zaakgericht Werken Noord';
/** The longest client id there is (50 characters), without a place to break. */
const LONG_ID = 'zaaksysteem-productie-omgeving-koppeling-0123456789'.slice(0, 50);
const SCOPES = Array.from(
  { length: 30 },
  (_, i) => `zaken.${['lezen', 'schrijven', 'bijwerken', 'verwijderen', 'geforceerd-bijwerken'][i % 5]}.${i}`,
);

/**
 * Sunday 28 March 2027, 15:30 in Amsterdam (13:30 UTC): the day the clocks go forward, 23 hours
 * long. The test clock runs here, ahead of the real one, so that the signing keys are valid.
 */
const NOW = Date.UTC(2027, 2, 28, 13, 30);

describe('console presentation in the browser', () => {
  let ts: TestServer;
  let browser: Browser;
  let wide: BrowserContext;
  let page: Page;
  let orgAdmin: { clientId: string; secret: string };
  const cspErrors: string[] = [];

  const signIn = async (p: Page, clientId: string, secret: string) => {
    await p.goto(`${ts.url}/console/sign-in`);
    await p.fill('#client_id', clientId);
    await p.fill('#client_secret', secret);
    await p.click('main button[type=submit]');
    await p.waitForURL(/\/console\/clients$/);
  };
  const axe = async (p: Page) => assert.deepEqual(await seriousViolations(p), [], `axe-core on ${p.url()}`);
  const text = async (p: Page, selector: string) => ((await p.textContent(selector)) ?? '').replace(/\s+/g, ' ').trim();
  /** The rows of a table, each as its cells' texts joined by " | ". */
  const tableRows = (p: Page, selector: string) =>
    p
      .locator(`${selector} tbody tr`)
      .evaluateAll((rows) =>
        rows.map((r) =>
          [...(r as HTMLTableRowElement).cells]
            .map((c) => (c.textContent ?? '').replace(/\s+/g, ' ').trim())
            .join(' | '),
        ),
      );
  const watchCsp = (p: Page) =>
    p.on('console', (msg) => {
      if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) cspErrors.push(msg.text());
    });

  before(async () => {
    ts = await startTestServer();
    for (const [rsin, name] of [
      [OWN, OWN_NAME],
      [OTHER, OTHER_NAME],
    ] as const)
      await ts.app.organisations.create({ rsin, name }, { id: 'test' });
    const busy = await ts.app.clients.create(
      {
        clientId: LONG_ID,
        name: 'Zaaksysteem productie',
        rsin: OWN,
        allowedScopes: SCOPES,
        defaultScopes: SCOPES.slice(0, 3),
      },
      { id: 'test' },
    );
    await ts.app.clients.create(
      { clientId: 'archiefkoppeling', name: 'Archief', rsin: OTHER, allowedScopes: ['zaken.lezen'] },
      { id: 'test' },
    );
    const created = await ts.app.clients.create(
      { clientId: 'org-admin-voorbeeld', rsin: OWN, allowedScopes: ['zgw-auth:org-admin'] },
      { id: 'test' },
    );
    orgAdmin = { clientId: created.client.clientId, secret: created.secret.value };
    await ts.app.clients.create(
      { clientId: 'org-admin-noord', rsin: OTHER, allowedScopes: ['zgw-auth:org-admin'] },
      { id: 'test' },
    );
    for (let i = 0; i < 3; i++)
      await ts.app.clients.addSecret(
        LONG_ID,
        { label: `productie ${2026 + i} met een lang label om te laten zien` },
        { id: 'test' },
      );
    for (let i = 0; i < 3; i++) await ts.app.keys.rotate(ts.config.signingAlg, 0);
    // Tokens at known Dutch times: two on Saturday 27 March; today one just after midnight in
    // Amsterdam (still Saturday in UTC) and three this afternoon; one six days ago.
    const at = async (utc: number, n: number) => {
      ts.clock.t = utc;
      for (let i = 0; i < n; i++) await ts.token(LONG_ID, busy.secret.value);
    };
    await at(Date.UTC(2027, 2, 22, 14, 0), 1);
    await at(Date.UTC(2027, 2, 27, 11, 0), 2);
    await at(Date.UTC(2027, 2, 27, 23, 30), 1);
    await at(Date.UTC(2027, 2, 28, 12, 40), 3);
    await postForm(`${ts.url}/token`, {
      grant_type: 'client_credentials',
      client_id: 'archiefkoppeling',
      client_secret: 'not-the-secret-0000000000000000000000',
    });
    ts.clock.t = NOW;
    await ts.app.clients.update(LONG_ID, { name: 'Zaaksysteem (productie)' }, { id: ts.admin.clientId });

    browser = await launchChromium();
    wide = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await wide.newPage();
    page.setDefaultTimeout(10_000);
    watchCsp(page);
    await signIn(page, ts.admin.clientId, ts.admin.secret);
  });
  after(async () => {
    await browser?.close();
    await ts?.close();
  });

  it('sums activity per calendar day in Dutch time, today included, and says so', async () => {
    await page.goto(`${ts.url}/console/activity?client=${LONG_ID}`);
    await axe(page);
    const rows = await tableRows(page, 'div:has(> h2:text-is("Per dag")) table');
    // The report covers the last 168 hours, from 15:00 last Sunday; the day the clocks change has
    // 23 hours; 00:30 in Amsterdam counts today although it is 23:30 UTC yesterday.
    assert.deepEqual(rows, [
      'zo 21 mrt (vanaf 15:00) | 0 | 0',
      'ma 22 mrt | 1 | 0',
      'di 23 mrt | 0 | 0',
      'wo 24 mrt | 0 | 0',
      'do 25 mrt | 0 | 0',
      'vr 26 mrt | 0 | 0',
      'za 27 mrt | 2 | 0',
      'zo 28 mrt (tot nu) | 4 | 0',
    ]);
    assert.match(await text(page, 'main'), /kalenderdagen in Nederlandse tijd \(Europe\/Amsterdam\)/);
    // The chart's day lines: one at each Dutch midnight.
    assert.deepEqual(await page.locator('svg.console-chart text.day-long').allTextContents(), [
      'ma 22 mrt',
      'di 23 mrt',
      'wo 24 mrt',
      'do 25 mrt',
      'vr 26 mrt',
      'za 27 mrt',
      'zo 28 mrt',
    ]);
  });

  it('shows every refused field next to its field, in Dutch, and in English after the switch', async () => {
    await page.goto(`${ts.url}/console/clients/new`);
    await page.fill('#clientId', '-geen geldig id');
    await page.fill('#rsin', '123');
    await page.fill('#allowedScopes', 'zaken.lezen zaken"fout');
    await page.fill('#tokenLifetime', '0');
    await page.fill('#staticClaims', '{"afdeling": "burgerzaken"}');
    await page.click('main button:has-text("Aanmaken")');
    await page.waitForSelector('#clientId-error');
    await axe(page);
    const nl: Record<string, string> = {};
    for (const f of ['clientId', 'rsin', 'allowedScopes', 'tokenLifetime', 'staticClaims'])
      nl[f] = await text(page, `#${f}-error`);
    assert.match(nl.clientId!, /^Geen geldig client-id/);
    assert.match(nl.rsin!, /^Geen geldig RSIN/);
    assert.match(nl.allowedScopes!, /zaken"fout/);
    assert.match(nl.tokenLifetime!, /seconden/);
    assert.match(nl.staticClaims!, /\u201cafdeling\u201d is niet toegestaan/);
    for (const f of Object.keys(nl)) assert.equal(await page.getAttribute(`#${f}`, 'aria-invalid'), 'true', f);
    assert.equal(
      await page.locator('.utrecht-alert--error li a').count(),
      5,
      'the summary links to each of the five fields',
    );
    assert.doesNotMatch(
      await text(page, 'main'),
      /is not a valid|must|characters|Melding van de server/,
      'no English refusal of the API inside a Dutch page',
    );

    await page.goto(`${ts.url}/console/clients/new?lang=en`);
    await page.fill('#clientId', 'archiefkoppeling');
    await page.fill('#rsin', OWN);
    await page.fill('#defaultScopes', 'zaken.schrijven');
    await page.fill('#allowedScopes', 'zaken.lezen');
    await page.click('main button:has-text("Create")');
    await page.waitForSelector('#defaultScopes-error');
    assert.match(
      await text(page, '#defaultScopes-error'),
      /^Default scopes must also be allowed scopes; not allowed: zaken.schrijven/,
    );
    // What only the registry knows (the id is taken) comes back next to its field too.
    await page.fill('#defaultScopes', '');
    await page.click('main button:has-text("Create")');
    await page.waitForSelector('#clientId-error');
    assert.equal(await text(page, '#clientId-error'), 'A client with this id already exists. Choose another id.');
    await axe(page);
    await page.goto(`${ts.url}/console/clients?lang=nl`);
  });

  it('names organisations in the client list, the client page, the activity and the header', async () => {
    await page.goto(`${ts.url}/console/clients`);
    const row = await text(page, `tr:has(a:text-is("${LONG_ID}"))`);
    assert.match(row, new RegExp(`${OWN_NAME} \\(${OWN}\\)`));
    await page.goto(`${ts.url}/console/clients/archiefkoppeling`);
    assert.match(await text(page, 'dl'), new RegExp(`Organisatie ${OTHER_NAME} \\(${OTHER}\\)`));
    await page.goto(`${ts.url}/console/activity`);
    assert.ok((await tableRows(page, '[aria-label="Per organisatie"] table')).includes(`${OWN_NAME} (${OWN}) | 7 | 0`));

    const p = await (await browser.newContext()).newPage();
    p.setDefaultTimeout(10_000);
    try {
      await signIn(p, orgAdmin.clientId, orgAdmin.secret);
      assert.match(await text(p, '.console-header__who'), new RegExp(`beheerder van ${OWN_NAME} \\(RSIN ${OWN}\\)`));
      await axe(p);
    } finally {
      await p.context().close();
    }
  });

  it('tells audit events in words, with the raw event one click away', async () => {
    await page.goto(`${ts.url}/console/audit?client=${LONG_ID}&action=client.updated`);
    await axe(page);
    const cell = page.locator('tbody tr').first().locator('td').last();
    assert.match(await text(page, 'tbody tr'), new RegExp(`${ts.admin.clientId} wijzigde client ${LONG_ID}\\.`));
    assert.equal(
      await text(page, 'tbody tr .console-changes'),
      'Naam: Zaaksysteem productie → Zaaksysteem (productie)',
    );
    const raw = cell.locator('details pre');
    assert.equal(await raw.isVisible(), false, 'the raw event starts folded');
    await cell.locator('summary').click();
    assert.equal(await raw.isVisible(), true);
    assert.equal(JSON.parse((await raw.textContent()) ?? '').action, 'client.updated');

    await page.goto(`${ts.url}/console/audit?client=archiefkoppeling&action=client_auth.failed`);
    assert.match(await text(page, 'tbody tr'), /Aanmelding als archiefkoppeling mislukt: onjuist geheim\./);
  });

  it('fits every page in 320 px without sideways scrolling: tables, long ids, many scopes, rotated keys, the chart', async () => {
    const phone = await browser.newContext({ viewport: { width: 320, height: 640 } });
    const p = await phone.newPage();
    p.setDefaultTimeout(10_000);
    watchCsp(p);
    try {
      await signIn(p, ts.admin.clientId, ts.admin.secret);
      const pages = [
        '/console/clients',
        '/console/clients?lang=en',
        '/console/clients/new?lang=nl',
        `/console/clients/${LONG_ID}`,
        `/console/clients/${LONG_ID}/secrets/${(await ts.app.clients.listSecrets(LONG_ID))[0]!.secretId}/revoke`,
        '/console/organisations',
        `/console/organisations/${OTHER}`,
        '/console/activity',
        `/console/activity?client=${LONG_ID}`,
        '/console/audit',
        '/console/inspect',
        '/console/keys',
        '/console/nothing-here',
      ];
      for (const path of pages) {
        await p.goto(`${ts.url}${path}`);
        const widths = await p.evaluate(() => ({
          page: document.documentElement.scrollWidth,
          // Scrolling sideways inside a table hides columns too.
          tables: [...document.querySelectorAll('.console-table-wrap')].map((w) => w.scrollWidth - w.clientWidth),
        }));
        assert.ok(widths.page <= 320, `${path}: the page is ${widths.page} px wide`);
        assert.deepEqual(
          widths.tables.filter((d) => d > 0),
          [],
          `${path}: a table scrolls sideways`,
        );
        await axe(p);
      }
      // After a rotation the keys page shows the notice with the new key id and times.
      await p.goto(`${ts.url}/console/keys`);
      await p.click('main button:has-text("Nieuwe sleutel maken")');
      await p.waitForSelector('.utrecht-alert--ok');
      const rotated = await p.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(rotated <= 320, `the keys page after a rotation is ${rotated} px wide`);
      // A status is on screen without scrolling sideways: the client list's status sits inside the screen.
      await p.goto(`${ts.url}/console/clients`);
      const status = await p.locator(`tr:has(a:text-is("${LONG_ID}")) td[data-label="Status"]`).boundingBox();
      assert.ok(status && status.x >= 0 && status.x + status.width <= 320, JSON.stringify(status));
      // A stacked cell keeps its header on the left and all of its value (a name and its RSIN) on the right.
      const organisation = p.locator(`tr:has(a:text-is("${LONG_ID}")) td[data-label="Organisatie"]`);
      const [cell, rsin] = [
        await organisation.boundingBox(),
        await organisation.locator('.console-rsin').boundingBox(),
      ];
      assert.ok(
        cell && rsin && rsin.x > cell.x + cell.width / 3,
        `the RSIN at ${rsin?.x} px is on the value side of ${JSON.stringify(cell)}`,
      );
      // The chart's day labels stay readable: at least 12 px high on screen, and apart.
      await p.goto(`${ts.url}/console/activity`);
      const labels = await p
        .locator('svg.console-chart text.day-short')
        .evaluateAll((els) => els.map((e) => e.getBoundingClientRect().toJSON() as DOMRect));
      assert.ok(labels.length >= 6, `${labels.length} day labels`);
      for (const l of labels) assert.ok(l.height >= 12, `label height ${l.height}`);
      for (let i = 1; i < labels.length; i++)
        assert.ok(labels[i]!.left >= labels[i - 1]!.right, 'labels do not overlap');
    } finally {
      await phone.close();
    }
  });

  it('asks before an organisation administrator disables or deletes its own client, saying what will happen', async () => {
    const p = await (await browser.newContext()).newPage();
    p.setDefaultTimeout(10_000);
    watchCsp(p);
    try {
      await signIn(p, orgAdmin.clientId, orgAdmin.secret);
      await p.goto(`${ts.url}/console/clients/${orgAdmin.clientId}`);
      await p.click('main button:has-text("Uitschakelen")');
      assert.equal(
        (await ts.app.clients.get(orgAdmin.clientId)).enabled,
        true,
        'one click does not disable the own client',
      );
      await p.waitForSelector('text=Weet u het zeker?');
      await axe(p);
      const warning = await text(p, 'main .utrecht-alert');
      assert.match(warning, /waarmee u nu bent aangemeld \(org-admin-voorbeeld\)\. Uw sessie eindigt direct/);
      assert.match(warning, new RegExp(`laatste actieve beheerdersclient van ${OWN_NAME} \\(RSIN ${OWN}\\)`));
      // Typing the id to delete is no confirmation of the lock-out either.
      await p.goto(`${ts.url}/console/clients/${orgAdmin.clientId}`);
      await p.fill('#delete-confirm', orgAdmin.clientId);
      await p.click('main button:has-text("Definitief verwijderen")');
      await ts.app.clients.get(orgAdmin.clientId);
      await p.waitForSelector('text=Weet u het zeker?');
      assert.match(await text(p, 'main .utrecht-alert'), /client te verwijderen waarmee u nu bent aangemeld/);
      await p.click('main a:has-text("Annuleren")');
      await p.waitForURL(/\/console\/clients\/org-admin-voorbeeld$/);

      // Confirmed, it happens: the client is disabled and the session is over.
      await p.click('main button:has-text("Uitschakelen")');
      await p.click('main button:has-text("Ja, uitschakelen")');
      await p.waitForURL(/\/console\//);
      assert.equal((await ts.app.clients.get(orgAdmin.clientId)).enabled, false);
      assert.match(await text(p, 'main'), /Uw sessie is beëindigd/);
    } finally {
      await p.context().close();
    }
  });

  it('asks before a platform administrator disables the last administrator of an organisation, and not for another client', async () => {
    await page.goto(`${ts.url}/console/clients/org-admin-noord`);
    await page.click('main button:has-text("Uitschakelen")');
    assert.equal(
      (await ts.app.clients.get('org-admin-noord')).enabled,
      true,
      'one click does not disable the last administrator',
    );
    await page.waitForSelector('text=Weet u het zeker?');
    assert.match(
      await text(page, 'main .utrecht-alert'),
      new RegExp(`org-admin-noord is de laatste actieve beheerdersclient van ${OTHER_NAME}`),
    );
    await page.click('main button:has-text("Ja, uitschakelen")');
    await page.waitForURL(/\/console\/clients\/org-admin-noord$/);
    assert.equal((await ts.app.clients.get('org-admin-noord')).enabled, false);

    // An ordinary client is disabled in one click, as before.
    await page.goto(`${ts.url}/console/clients/archiefkoppeling`);
    await page.click('main button:has-text("Uitschakelen")');
    await page.waitForURL(/\/console\/clients\/archiefkoppeling$/);
    assert.equal((await ts.app.clients.get('archiefkoppeling')).enabled, false);
  });

  it('loaded no inline script or style the CSP refused', () => {
    assert.deepEqual(cspErrors, []);
  });
});
