import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, seriousViolations } from './browser.js';
import { hs256, postForm, startTestServer, type TestServer } from './helpers.js';

/**
 * The console in a real browser (Debian's Chromium through playwright-core), with its CSP enforced:
 * the flows an administrator goes through, keyboard only where it matters, and axe-core on every
 * page visited.
 */
describe('console in the browser', () => {
  let ts: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Every page checked with axe-core, and what it found. */
  const checked = new Map<string, string[]>();
  const cspErrors: string[] = [];

  const axe = async () => {
    const path = new URL(page.url()).pathname;
    const found = await seriousViolations(page);
    checked.set(
      path,
      found.map((v) => `${v.id} (${v.impact}): ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`),
    );
    assert.deepEqual(checked.get(path), [], `axe-core on ${path}`);
  };
  const go = async (path: string) => {
    await page.goto(`${ts.url}${path}`);
    await axe();
  };
  const signIn = async (p: Page, clientId: string, secret: string) => {
    await p.goto(`${ts.url}/console/sign-in`);
    await p.fill('#client_id', clientId);
    await p.fill('#client_secret', secret);
    await p.click('button[type=submit]');
    await p.waitForURL(/\/console\/clients$/);
  };

  before(async () => {
    ts = await startTestServer();
    browser = await launchChromium();
    context = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('console', (msg) => {
      if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) cspErrors.push(msg.text());
    });
  });
  after(async () => {
    await browser?.close();
    await ts?.close();
  });

  it('signs in by keyboard alone, every focused control showing a visible focus ring', async () => {
    await page.goto(`${ts.url}/console/sign-in`);
    await axe();
    const focusVisible = () =>
      page.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        if (!el || el === document.body) return { tag: 'body', visible: false };
        const s = getComputedStyle(el);
        return {
          tag: `${el.tagName.toLowerCase()}#${el.id}`,
          visible: (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none',
        };
      });
    const tabTo = async (id: string) => {
      for (let i = 0; i < 15; i++) {
        await page.keyboard.press('Tab');
        const f = await focusVisible();
        assert.ok(f.visible, `focus on ${f.tag} is visible`);
        if (f.tag.endsWith(`#${id}`)) return;
      }
      assert.fail(`Tab never reached #${id}`);
    };
    await page.keyboard.press('Tab');
    assert.equal(
      await page.evaluate(() => document.activeElement?.className),
      'utrecht-skip-link utrecht-skip-link--visible-on-focus',
      'the skip link comes first',
    );
    assert.ok((await focusVisible()).visible);
    await tabTo('client_id');
    await page.keyboard.type(ts.admin.clientId);
    await tabTo('client_secret');
    await page.keyboard.type(ts.admin.secret);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/console\/clients$/);
    await axe();
  });

  it('keeps the session cookie away from page scripts', async () => {
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'zgw-auth-console');
    assert.ok(session, 'the browser holds the session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    const readable = await page.evaluate(() => document.cookie);
    assert.ok(!readable.includes('zgw-auth-console'), `document.cookie: ${readable}`);
    assert.ok(!readable.includes(session.value));
    const stored = await page.evaluate(
      () => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }),
    );
    assert.equal(stored, '{}{}', 'nothing in web storage');
  });

  it('creates a client by keyboard and shows its secret once, with a copy button; never again', async () => {
    await go('/console/clients/new');
    await page.focus('#clientId');
    await page.keyboard.type('browser-app');
    await page.keyboard.press('Tab');
    await page.keyboard.type('123456782');
    await page.keyboard.press('Tab');
    await page.keyboard.type('Browser app');
    await page.focus('#allowedScopes');
    await page.keyboard.type('zaken.lezen');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#secret-value');
    await axe();
    const secret = await page.inputValue('#secret-value');
    assert.equal(secret.length, 43);
    assert.match((await page.textContent('main')) ?? '', /u ziet het niet meer terug/);
    const copy = page.locator('button[data-copy]');
    assert.equal(await copy.isVisible(), true, 'the script shows the copy button');
    await copy.focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('copy-status')?.textContent !== '');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret, 'copied');
    const token = await postForm(`${ts.url}/token`, {
      grant_type: 'client_credentials',
      client_id: 'browser-app',
      client_secret: secret,
    });
    assert.equal(token.status, 200, 'the shown secret works');

    await page.click('text=Naar de client');
    await page.waitForURL(/\/console\/clients\/browser-app$/);
    await axe();
    assert.ok(!(await page.content()).includes(secret), 'the client page does not show it');
    assert.equal(
      (await page.request.get(`${ts.url}/console/clients/browser-app`)).headers()['cache-control'],
      'no-store',
      'nothing of it is cached',
    );
  });

  it('creates a client of keys only, without a secret, and edits its authentication on its page', async () => {
    await go('/console/clients/new');
    await page.fill('#clientId', 'chromium-keys');
    await page.fill('#rsin', '123456782');
    const box = (method: string) => page.locator(`[id="authMethods.${method}"]`);
    assert.equal(await box('client_secret_basic').isChecked(), true, 'a new client starts with the secret methods');
    await box('client_secret_basic').uncheck();
    await box('client_secret_post').uncheck();
    await box('private_key_jwt').check();
    await page.selectOption('#tlsSubjectField', 'san_dns');
    await page.fill('#tlsSubjectValue', 'chromium-keys.gemeente.example');
    await page.click('button:has-text("Aanmaken")');
    await page.waitForURL(/\/console\/clients\/chromium-keys$/);
    await axe();
    assert.match((await page.textContent('main')) ?? '', /zonder geheim/);
    assert.equal(await page.locator('#secret-value').count(), 0, 'no secret shown');
    // A refusal shows next to its field, reachable from the summary.
    await page.fill('#oin', '123');
    await page.click('button:has-text("Aanmelding opslaan")');
    await page.waitForSelector('#oin-error');
    await axe();
    assert.match((await page.textContent('#oin-error')) ?? '', /Vul 20 cijfers in/);
    await page.fill('#oin', '');
    await page.check('#dpopBoundAccessTokens');
    await page.click('button:has-text("Aanmelding opslaan")');
    await page.waitForURL(/\/console\/clients\/chromium-keys$/);
    assert.match((await page.textContent('main')) ?? '', /De aanmelding is opgeslagen/);
    const client = await ts.app.clients.get('chromium-keys');
    assert.deepEqual([client.authMethods, client.dpopBoundAccessTokens], [['private_key_jwt'], true]);
    assert.deepEqual(await ts.app.clients.listSecrets('chromium-keys'), []);
  });

  it('adds a secret and revokes it after confirming', async () => {
    await go('/console/clients/browser-app');
    await page.fill('#label', 'rotatie');
    await page.click('button:has-text("Geheim toevoegen")');
    await page.waitForSelector('#secret-value');
    const added = await page.inputValue('#secret-value');
    await page.click('text=Naar de client');
    await page.waitForURL(/\/console\/clients\/browser-app$/);
    const row = page.locator('tr', { hasText: 'rotatie' });
    await row.locator('a', { hasText: 'Intrekken' }).click();
    await page.waitForURL(/\/revoke$/);
    await axe();
    await page.click('button:has-text("Ja, intrekken")');
    await page.waitForURL(/\/console\/clients\/browser-app$/);
    assert.match((await row.textContent()) ?? '', /Ingetrokken/);
    assert.match((await page.locator('[role=status]').first().textContent()) ?? '', /ingetrokken/);
    const refused = await postForm(`${ts.url}/token`, {
      grant_type: 'client_credentials',
      client_id: 'browser-app',
      client_secret: added,
    });
    assert.equal(refused.status, 401);
  });

  it('disables and enables the client', async () => {
    await page.click('button:has-text("Uitschakelen")');
    await page.waitForURL(/\/console\/clients\/browser-app$/);
    assert.match((await page.locator('dl').textContent()) ?? '', /Uitgeschakeld/);
    assert.equal((await ts.app.clients.get('browser-app')).enabled, false);
    await page.click('button:has-text("Inschakelen")');
    await page.waitForURL(/\/console\/clients\/browser-app$/);
    assert.equal((await ts.app.clients.get('browser-app')).enabled, true);
    await axe();
  });

  it('adds a right in the ZGW APIs with the form, shown in words; the page fits 320 px with a long zaaktype URL', async () => {
    const zaaktype = `https://catalogi.example.nl/api/v1/zaaktypen/${'0b1c6e2a-3f43-4d8f-9a55-1b2c3d4e5f60'}`;
    await go('/console/clients/browser-app?component=zrc');
    await page.check('input[name="scope:zaken.lezen"]');
    await page.check('input[name="scope:zaken.bijwerken"]');
    await page.fill('#ac-type', zaaktype);
    await page.selectOption('#ac-max', 'vertrouwelijk');
    await page.click('button:has-text("Toevoegen")');
    await page.waitForURL(/\/console\/clients\/browser-app(#autorisaties)?$/);
    assert.match(
      ((await page.locator('#autorisaties ~ ul').first().textContent()) ?? '').replace(/\s+/g, ' '),
      /mag zaken lezen en bijwerken van zaaktype 0b1c6e2a-3f43-4d8f-9a55-1b2c3d4e5f60 tot en met vertrouwelijk/,
    );
    assert.equal((await ts.app.autorisaties.ofClient('browser-app'))?.autorisaties[0]?.zaaktype, zaaktype);
    await axe();
    await page.setViewportSize({ width: 320, height: 640 });
    try {
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 320, `the client page with its rights is ${width} px wide`);
    } finally {
      await page.setViewportSize({ width: 1280, height: 720 });
    }
  });

  it('lists and filters the clients, in English by the switch', async () => {
    await go('/console/clients?q=browser');
    assert.equal(await page.locator('tbody tr').count(), 1);
    await page.click('a[hreflang=en]');
    await page.waitForURL(/lang=en/);
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.match((await page.textContent('h1')) ?? '', /Clients/);
    await axe();
    await page.click('a[hreflang=nl]');
    await page.waitForURL(/lang=nl/);
  });

  it('shows the changes in the audit trail', async () => {
    await go('/console/audit?client=browser-app');
    const actions = await page.locator('tbody tr td:nth-child(3)').allTextContents();
    for (const a of [
      'Client aangemaakt',
      'Geheim aangemaakt',
      'Geheim ingetrokken',
      'Client uitgeschakeld',
      'Client ingeschakeld',
    ])
      assert.ok(actions.map((t) => t.trim()).includes(a), `${a} in ${actions.join(', ')}`);
    await page.selectOption('#action', 'secret.revoked');
    await page.click('button:has-text("Toepassen")');
    await page.waitForURL(/action=secret.revoked/);
    assert.equal(await page.locator('tbody tr').count(), 1);
  });

  it('explains a refused token in plain words', async () => {
    await go('/console/inspect');
    const now = Math.floor(ts.clock.now() / 1000);
    await page.fill(
      '#token',
      hs256(
        { client_id: 'browser-app', iss: 'browser-app', iat: now - 600, exp: now - 240 },
        'not-the-secret-of-browser-app-0000000000',
      ),
    );
    await page.click('button:has-text("Inspecteren")');
    await page.waitForSelector('#verdict');
    await axe();
    assert.match((await page.textContent('#verdict')) ?? '', /^Geweigerd: /);
    assert.match((await page.textContent('main')) ?? '', /"client_id": "browser-app"/);
  });

  it('shows activity, signing keys and organisations', async () => {
    await go('/console/activity');
    assert.equal((await page.locator('svg.console-chart rect.issued').count()) > 0, true);
    await go('/console/keys');
    assert.match((await page.textContent('tbody')) ?? '', /Ondertekent/);
    await go('/console/organisations');
    await page.fill('#new-rsin', '002220647');
    await page.fill('#new-name', 'Gemeente Voorbeeld');
    await page.click('button:has-text("Aanmaken")');
    await page.waitForURL(/\/console\/organisations\/002220647$/);
    await axe();
    assert.match((await page.textContent('h1')) ?? '', /002220647/);
  });

  it('signs out: the session ends and its pages are gone', async () => {
    await go('/console/clients');
    await page.click('button:has-text("Afmelden")');
    await page.waitForURL(/\/console\/sign-in\?signedOut$/);
    await axe();
    assert.equal(
      (await context.cookies()).find((c) => c.name === 'zgw-auth-console'),
      undefined,
    );
    await page.goto(`${ts.url}/console/clients`);
    assert.match(page.url(), /\/console\/sign-in$/);
  });

  it('loaded no inline script or style the CSP refused, and checked every page with axe-core', () => {
    assert.deepEqual(cspErrors, []);
    assert.ok(checked.size >= 10, [...checked.keys()].join(', '));
  });

  it('shows an organisation administrator only its own organisation', async () => {
    await ts.app.clients.create({ clientId: 'other-org-app', rsin: '111222333' }, { id: 'test' });
    await ts.app.clients.create({ clientId: 'own-org-app', rsin: '123456782' }, { id: 'test' });
    const orgAdmin = await ts.app.clients.create(
      { clientId: 'org-admin-123456782', rsin: '123456782', allowedScopes: ['zgw-auth:org-admin'] },
      { id: 'test' },
    );
    const p = await (await browser.newContext()).newPage();
    p.setDefaultTimeout(5000);
    await signIn(p, 'org-admin-123456782', orgAdmin.secret.value);
    const listed = await p.locator('tbody tr a').allTextContents();
    assert.ok(listed.includes('own-org-app'), listed.join(', '));
    assert.ok(!listed.includes('other-org-app'), 'another organisation is not listed');
    assert.ok(listed.every((id) => id !== 'zgw-auth-admin'));
    await p.goto(`${ts.url}/console/clients/other-org-app`);
    assert.match((await p.textContent('h1')) ?? '', /Niet gevonden/);
    assert.equal(await p.locator('a[href="/console/organisations"]').count(), 0, 'no organisations menu');
    await p.goto(`${ts.url}/console/audit?client=other-org-app`);
    assert.equal(await p.locator('tbody tr').count(), 0);
    await p.context().close();
  });
});
