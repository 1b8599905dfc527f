/**
 * `npm run screenshots`: the console's main pages as docs/console-*.png, shown in the README. A real
 * server with a registry made up here (organisations, clients, a week of token traffic), driven by
 * Debian's Chromium like the browser tests.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './browser.js';
import { hs256, postForm, startTestServer } from './helpers.js';

const DOCS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs');

const ts = await startTestServer();
const browser = await launchChromium();
try {
  const orgs = [
    ['123456782', 'Gemeente Voorbeeld'],
    ['111222333', 'Zaakleverancier B.V.'],
  ] as const;
  for (const [rsin, name] of orgs) await ts.app.organisations.create({ rsin, name }, { id: 'screenshots' });
  const apps = [
    ['zaaksysteem-prod', 'Zaaksysteem productie', '123456782', 40],
    ['burgerportaal', 'Burgerportaal', '123456782', 25],
    ['archief-koppeling', 'Archiefkoppeling', '111222333', 8],
    ['dms-test', 'DMS testomgeving', '111222333', 3],
  ] as const;
  const secrets = new Map<string, string>();
  for (const [clientId, name, rsin] of apps) {
    const { secret } = await ts.app.clients.create(
      { clientId, name, rsin, allowedScopes: ['zaken.lezen', 'zaken.schrijven'] },
      { id: 'screenshots' },
    );
    secrets.set(clientId, secret.value);
  }
  // A week of traffic: the clock goes back 7 days and forward an hour at a time.
  const end = ts.clock.t;
  ts.clock.t = end - 7 * 24 * 3_600_000 + 1_800_000;
  // The first key signs from the server's start: a key that signed all week.
  await ts.app.keys.rotate(ts.config.signingAlg, 0);
  for (let hour = 0; ts.clock.t < end; hour++, ts.clock.advance(3600)) {
    const daytime = hour % 24 >= 7 && hour % 24 <= 18;
    for (const [clientId, , , perHour] of apps) {
      const n = daytime ? Math.round((perHour * (0.6 + 0.4 * Math.sin(hour / 5))) / 10) : 0;
      for (let i = 0; i < n; i++) await ts.token(clientId, secrets.get(clientId)!);
    }
    if (hour % 17 === 3)
      for (let i = 0; i < 4; i++)
        await postForm(`${ts.url}/token`, {
          grant_type: 'client_credentials',
          client_id: 'dms-test',
          client_secret: `old-secret-${i}`,
        });
    await ts.app.usage.flush();
  }
  ts.clock.t = end;

  const page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
  const shot = (name: string) => page.screenshot({ path: path.join(DOCS, `console-${name}.png`) });
  await page.goto(`${ts.url}/console/sign-in`);
  await shot('sign-in');
  await page.fill('#client_id', ts.admin.clientId);
  await page.fill('#client_secret', ts.admin.secret);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/console\/clients$/);
  await shot('clients');
  await page.goto(`${ts.url}/console/clients/new`);
  await page.fill('#clientId', 'zaakapp-nieuw');
  await page.fill('#rsin', '123456782');
  await page.fill('#name', 'Nieuwe zaakapp');
  await page.fill('#allowedScopes', 'zaken.lezen');
  await page.click('button:has-text("Aanmaken")');
  await page.waitForSelector('#secret-value');
  await shot('secret-once');
  await page.goto(`${ts.url}/console/clients/zaaksysteem-prod`);
  await shot('client');
  await page.goto(`${ts.url}/console/activity`);
  await shot('activity');
  await page.goto(`${ts.url}/console/audit`);
  await shot('audit');
  await page.goto(`${ts.url}/console/inspect`);
  const now = Math.floor(ts.clock.now() / 1000);
  await page.fill(
    '#token',
    hs256(
      { client_id: 'burgerportaal', iss: 'burgerportaal', iat: now - 900, exp: now - 240 },
      'an-old-secret-of-the-burgerportaal-0000',
    ),
  );
  await page.click('button:has-text("Inspecteren")');
  await page.waitForSelector('#verdict');
  await shot('inspector');
  await page.goto(`${ts.url}/console/keys?lang=en`);
  await shot('keys-en');
  // A phone (390 px): the tables become blocks of "header: value" lines, nothing scrolls sideways.
  const phone = await (
    await browser.newContext({
      viewport: { width: 390, height: 860 },
      storageState: await page.context().storageState(),
    })
  ).newPage();
  const scrollTo = (selector: string) =>
    phone.evaluate((sel) => window.scrollTo(0, (document.querySelector(sel) as HTMLElement).offsetTop - 16), selector);
  await phone.goto(`${ts.url}/console/clients?lang=nl`);
  await scrollTo('.console-table-wrap');
  await phone.screenshot({ path: path.join(DOCS, 'console-phone-clients.png') });
  await phone.goto(`${ts.url}/console/activity`);
  await scrollTo('figure');
  await phone.screenshot({ path: path.join(DOCS, 'console-phone-activity.png') });
  console.log(`screenshots written to ${DOCS}/console-*.png`);
} finally {
  await browser.close();
  await ts.close();
}
