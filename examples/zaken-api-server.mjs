// server.mjs: a Zaken API that accepts zgw-auth's tokens. Run: ZGW_AUTH_ISSUER=http://127.0.0.1:8080 node server.mjs
import http from 'node:http';
import { createVerifier, requireToken } from '@zgw-auth/verifier';

const verifier = createVerifier({
  issuer: process.env.ZGW_AUTH_ISSUER ?? 'http://127.0.0.1:8080', // discovery + JWKS, cached, refetched on an unknown kid
  audience: 'ZGW_APIs',
  // Self-signed HS256 tokens as well: clients: (clientId) => your registry's { clientId, rsin, enabled, selfSignedAllowed, secrets, scopes }
});
const readZaken = requireToken(verifier, {
  scopes: ['zaken.lezen'],
  onRefusal: (err) => console.info(`token refused: ${err.code}`), // the precise reason, for your log only
});

const server = http.createServer((req, res) => {
  if (req.method !== 'GET' || req.url !== '/zaken/api/v1/zaken') {
    res.writeHead(404).end();
    return;
  }
  readZaken(req, res, () => {
    const { clientId, rsin, kind } = req.principal; // who the caller is
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ count: 0, results: [], caller: { clientId, rsin, kind } }));
  });
});
server.listen(Number(process.env.PORT ?? 8000), '127.0.0.1', () =>
  console.log(`Zaken API on http://127.0.0.1:${server.address().port}`),
);
