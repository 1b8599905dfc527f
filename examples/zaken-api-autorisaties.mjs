// zaken.mjs: a Zaken API that decides who may read which zaak from zgw-auth's Autorisaties API.
// Run: ZGW_AUTH_ISSUER=http://127.0.0.1:8080 ZAKEN_API_CLIENT_ID=zaken-api ZAKEN_API_SECRET=... \
//      NOTIFICATIES_AUTH='Bearer <the auth of your abonnement>' node zaken.mjs
import http from 'node:http';
import {
  autorisatieRefusal,
  createAutorisaties,
  createVerifier,
  remoteApplicaties,
  requireToken,
} from '@zgw-auth/verifier';

const issuer = process.env.ZGW_AUTH_ISSUER ?? 'http://127.0.0.1:8080';
const verifier = createVerifier({ issuer, audience: 'ZGW_APIs' });
const applicaties = remoteApplicaties({
  url: `${issuer}/autorisaties/api/v1`, // zgw-auth's Autorisaties API (or any ZGW AC)
  // This API's own client; its applicatie grants it autorisaties.lezen (component ac).
  credentials: {
    clientCredentials: {
      tokenEndpoint: `${issuer}/token`,
      clientId: process.env.ZAKEN_API_CLIENT_ID,
      clientSecret: process.env.ZAKEN_API_SECRET,
    },
  },
  onError: (err) => console.error(`autorisaties: ${err.message}`), // refused (503) meanwhile
});
const autorisaties = createAutorisaties({ applicaties });

const ZAAKTYPE = 'https://catalogi.example.nl/api/v1/zaaktypen';
const zaken = [
  { uuid: '1', zaaktype: `${ZAAKTYPE}/bouwvergunning`, vertrouwelijkheidaanduiding: 'openbaar' },
  { uuid: '2', zaaktype: `${ZAAKTYPE}/bouwvergunning`, vertrouwelijkheidaanduiding: 'geheim' },
  { uuid: '3', zaaktype: `${ZAAKTYPE}/klacht`, vertrouwelijkheidaanduiding: 'openbaar' },
];
const READ = { component: 'zrc', scopes: ['zaken.lezen'] };

const authenticated = requireToken(verifier, { problemJson: true });
const json = (res, status, body) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

async function zakenApi(req, res) {
  const path = new URL(req.url, 'http://x').pathname;
  if (path === '/zaken/api/v1/zaken') {
    // A list: what the caller may see, as a filter (build your query from visible.all / visible.types).
    const visible = await autorisaties.visible(req.principal, READ);
    const results = zaken.filter(visible.allows);
    return json(res, 200, { count: results.length, results });
  }
  const zaak = zaken.find((z) => path === `/zaken/api/v1/zaken/${z.uuid}`);
  if (!zaak) return json(res, 404, { code: 'not_found', title: 'Niet gevonden.', status: 404 });
  // One zaak: its zaaktype and vertrouwelijkheidaanduiding decide (403 Fout when refused).
  await autorisaties.check(req.principal, { ...READ, object: zaak });
  json(res, 200, zaak);
}

const server = http.createServer((req, res) => {
  // The Notificaties API delivers kanaal `autorisaties` here (your abonnement's callback and auth):
  // a changed applicatie is dropped from the cache, so the next request sees the change.
  if (req.method === 'POST' && req.url === '/notificaties') {
    if (!process.env.NOTIFICATIES_AUTH || req.headers.authorization !== process.env.NOTIFICATIES_AUTH)
      return void res.writeHead(403).end();
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      applicaties.notified(body);
      res.writeHead(204).end();
    });
    return;
  }
  authenticated(req, res, () =>
    zakenApi(req, res).catch((err) => {
      const refusal = autorisatieRefusal(err); // 403 permission_denied, or 503 while the AC is away
      res.writeHead(refusal.status, refusal.headers).end(refusal.body);
    }),
  );
});
server.listen(Number(process.env.PORT ?? 8000), '127.0.0.1', () =>
  console.log(`Zaken API on http://127.0.0.1:${server.address().port}`),
);
