// Baseline: the least a client-credentials /token can do, in Fastify with node:crypto: HTTP Basic,
// a constant-time secret compare, one signature (callback form, on the thread pool). And an
// /introspect route answering a fixed JSON, to measure what HTTP alone costs there; and, when
// configured, the Autorisaties API's GET /applicaties/consumer answering a fixed JSON likewise.
// Usage: node bare-server.js <config.json>
import crypto from 'node:crypto';
import fs from 'node:fs';
import Fastify from 'fastify';
import { base64urlJson, type EncodedHeader, signJwsAsync } from '@zgw-auth/verifier/internal';

interface BareConfig {
  port: number;
  issuer: string;
  alg: 'RS256' | 'ES256';
  privateKeyPem: string;
  clients: Array<{ clientId: string; secret: string }>;
  introspectionAnswer: Record<string, unknown>;
  /** The path of GET /applicaties/consumer and the JSON to answer there. */
  consumer?: { path: string; answer: unknown };
}

const config = JSON.parse(fs.readFileSync(process.argv[2]!, 'utf8')) as BareConfig;
const key = crypto.createPrivateKey(config.privateKeyPem);
const header: EncodedHeader = {
  alg: config.alg,
  encodedHeader: base64urlJson({ alg: config.alg, typ: 'at+jwt', kid: 'bare' }),
};
const secrets = new Map(config.clients.map((c) => [c.clientId, Buffer.from(c.secret)]));

const server = Fastify();
server.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
  done(null, new URLSearchParams(body as string)),
);

server.post('/token', async (request, reply) => {
  const [id, secret] = Buffer.from((request.headers.authorization ?? '').slice(6), 'base64')
    .toString()
    .split(':') as [string, string?];
  const stored = secrets.get(id);
  const presented = Buffer.from(secret ?? '');
  if (!stored || stored.length !== presented.length || !crypto.timingSafeEqual(stored, presented))
    return reply.code(401).send({ error: 'invalid_client' });
  if ((request.body as URLSearchParams).get('grant_type') !== 'client_credentials')
    return reply.code(400).send({ error: 'unsupported_grant_type' });
  const iat = Math.floor(Date.now() / 1000);
  const claims = {
    iss: config.issuer,
    sub: id,
    aud: 'ZGW_APIs',
    client_id: id,
    rsin: '000000000',
    iat,
    nbf: iat,
    exp: iat + 3600,
    jti: crypto.randomUUID(),
    scope: 'zaken.lezen',
  };
  return {
    access_token: await signJwsAsync(header, claims, key),
    token_type: 'Bearer',
    expires_in: 3600,
    scope: 'zaken.lezen',
  };
});

server.post('/introspect', () => config.introspectionAnswer);
if (config.consumer) {
  const { answer } = config.consumer;
  server.get(config.consumer.path, () => answer);
}
server.get('/health', () => ({ ok: true }));

await server.listen({ host: '127.0.0.1', port: config.port });
