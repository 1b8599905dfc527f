/**
 * An example ZGW-style resource server protected by @zgw-auth/verifier: a tiny "Zaken API" that
 * accepts IdP tokens from zgw-auth and self-signed HS256 tokens whose secrets it resolves through
 * the function it is given. Used by the test suite; run it against a zgw-auth server to try it.
 */
import http from 'node:http';
import { type ClientResolver, createVerifier, requireToken, type Principal } from '@zgw-auth/verifier';

export interface ZakenApiOptions {
  issuer: string;
  clients?: ClientResolver;
  now?: () => number;
}

export function createZakenApi(options: ZakenApiOptions): http.Server {
  const verifier = createVerifier({
    issuer: options.issuer,
    audience: 'ZGW_APIs',
    clients: options.clients,
    now: options.now,
  });
  const read = requireToken(verifier, { scopes: ['zaken.lezen'] });
  return http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/zaken/api/v1/zaken') {
      res
        .writeHead(404, { 'content-type': 'application/problem+json' })
        .end(JSON.stringify({ status: 404, title: 'Not found' }));
      return;
    }
    read(req as http.IncomingMessage & { principal?: Principal }, res, () => {
      const p = (req as { principal?: Principal }).principal!;
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          count: 0,
          results: [],
          caller: { clientId: p.clientId, rsin: p.rsin, kind: p.kind, userId: p.userId },
        }),
      );
    });
  });
}
