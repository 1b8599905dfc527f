import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { hs256 } from '@zgw-auth/verifier/internal';
import { createApp, createLogger, initialize } from '../src/app.js';
import { INTROSPECTION_SCOPE } from '../src/clients/model.js';
import { loadConfig, type SigningAlg } from '../src/config.js';

export interface Credentials {
  clientId: string;
  secret: string;
  /** The client's ES256 key for private_key_jwt, when the registry registered one. */
  privateKey?: crypto.KeyObject;
}

export interface Registry {
  /** Environment that points `zgw-auth serve` at this registry. */
  env: Record<string, string>;
  clients: Credentials[];
  introspector: Credentials;
  dropDatabase?: () => Promise<void>;
}

const BENCH_SCOPE = 'zaken.lezen';
const PG_BASE = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * A registry as an operator would have it after using the admin API: `count` clients that may
 * self-sign (so each has a sealed secret too), one introspection client and one signing key.
 */
export async function createRegistry(
  dir: string,
  o: { alg: SigningAlg; count: number; postgres?: boolean; keys?: boolean },
): Promise<Registry> {
  fs.mkdirSync(dir, { recursive: true });
  const env: Record<string, string> = {
    ZGW_AUTH_DATA_DIR: dir,
    ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
    ZGW_AUTH_SIGNING_ALG: o.alg,
  };
  let dropDatabase: (() => Promise<void>) | undefined;
  if (o.postgres) {
    const name = `zgw_auth_bench_${crypto.randomBytes(5).toString('hex')}`;
    await adminQuery(`CREATE DATABASE ${name}`);
    const url = new URL(PG_BASE);
    url.pathname = `/${name}`;
    env.DATABASE_URL = url.toString();
    dropDatabase = () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
  const app = await createApp(loadConfig({ ...env, ZGW_AUTH_LOG_LEVEL: 'silent' }), { log: createLogger('silent') });
  try {
    await initialize(app);
    const actor = { id: 'bench' };
    const introspector = await app.clients.create(
      { clientId: 'bench-introspector', rsin: '000000000', allowedScopes: [INTROSPECTION_SCOPE] },
      actor,
    );
    const clients: Credentials[] = [];
    for (let i = 0; i < o.count; i++) {
      const created = await app.clients.create(
        { clientId: `bench-${i}`, rsin: '000000000', allowedScopes: [BENCH_SCOPE], selfSignedAllowed: true },
        actor,
      );
      const credentials: Credentials = { clientId: created.client.clientId, secret: created.secret.value };
      if (o.keys) {
        // Both methods, so that one registry serves the secret and the key runs alike.
        const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
        await app.clients.update(
          credentials.clientId,
          { authMethods: ['client_secret_basic', 'private_key_jwt'] },
          actor,
        );
        await app.clients.addKeys(credentials.clientId, JSON.stringify(publicKey.export({ format: 'jwk' })), actor);
        credentials.privateKey = privateKey;
      }
      clients.push(credentials);
    }
    return {
      env,
      clients,
      introspector: { clientId: 'bench-introspector', secret: introspector.secret.value },
      ...(dropDatabase ? { dropDatabase } : {}),
    };
  } finally {
    await app.close();
  }
}

async function adminQuery(query: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_BASE });
  await c.connect();
  try {
    await c.query(query);
  } finally {
    await c.end();
  }
}

export function basic({ clientId, secret }: Credentials): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return 'Basic ' + Buffer.from(`${enc(clientId)}:${enc(secret)}`).toString('base64');
}

/** A self-signed ZGW token as the seed document's consumers make it (HS256 with the raw secret). */
export function selfSignedToken({ clientId, secret }: Credentials, iat: number): string {
  return hs256({ iss: clientId, iat, client_id: clientId, user_id: 'bench', user_representation: 'Bench' }, secret, {
    alg: 'HS256',
    typ: 'JWT',
    client_identifier: clientId,
  });
}

/** Writes a wrk request list: one "<authorization>\t<body>" line per request, in random order. */
export function writeRequests(
  file: string,
  lines: Array<[authorization: string, body: string] | [authorization: string, body: string, dpop: string]>,
): string {
  const shuffled = [...lines];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = crypto.randomInt(i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, shuffled.map((line) => line.join('\t')).join('\n') + '\n');
  return file;
}

export const tokenRequest = (c: Credentials): [string, string] => [
  basic(c),
  `grant_type=client_credentials&scope=${BENCH_SCOPE}`,
];

/**
 * `count` private_key_jwt token requests, each with its own jti (a replayed one is refused), for
 * the clients with keys in turn; valid for `lifetime` seconds from now.
 */
export function assertionRequests(clients: Credentials[], audience: string, count: number, lifetime: number) {
  const now = Math.floor(Date.now() / 1000);
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'JWT' })).toString('base64url');
  const lines: Array<[string, string]> = [];
  for (let i = 0; i < count; i++) {
    const c = clients[i % clients.length]!;
    const claims = {
      iss: c.clientId,
      sub: c.clientId,
      aud: audience,
      iat: now,
      exp: now + lifetime,
      jti: crypto.randomUUID(),
    };
    const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const sig = crypto.sign('sha256', Buffer.from(input), { key: c.privateKey!, dsaEncoding: 'ieee-p1363' });
    lines.push([
      '',
      `grant_type=client_credentials&scope=${BENCH_SCOPE}&client_assertion_type=${encodeURIComponent(
        'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      )}&client_assertion=${input}.${sig.toString('base64url')}`,
    ]);
  }
  return lines;
}

/** What every seeded applicatie may do: read the AC (so each can call it), and a zaaktype and a document type. */
function benchAutorisaties(i: number) {
  const type = (kind: string) =>
    `https://catalogi.example.nl/api/v1/${kind}/${crypto.createHash('sha256').update(`${kind}${i}`).digest('hex').slice(0, 32)}`;
  return [
    { component: 'ac', scopes: ['autorisaties.lezen'] },
    {
      component: 'zrc',
      scopes: ['zaken.lezen', 'zaken.aanmaken', 'zaken.bijwerken'],
      zaaktype: type('zaaktypen'),
      maxVertrouwelijkheidaanduiding: 'zaakvertrouwelijk',
    },
    {
      component: 'drc',
      scopes: ['documenten.lezen'],
      informatieobjecttype: type('informatieobjecttypen'),
      maxVertrouwelijkheidaanduiding: 'openbaar',
    },
  ] as const;
}

/**
 * Applicaties for the Autorisaties API rows: one for each of the registry's clients, made through
 * the use case (with its checks, audit events and change announcements), and `total` minus those
 * in all, the rest written straight into the database in batches inside one transaction (each with
 * a client of its own, as the registry requires): 100,000 through the use case would take minutes.
 */
export async function seedApplicaties(registry: Registry, total: number): Promise<void> {
  const app = await createApp(loadConfig({ ...registry.env, ZGW_AUTH_LOG_LEVEL: 'silent' }), {
    log: createLogger('silent'),
  });
  try {
    const actor = { id: 'bench', rsin: '000000000', everyOrganisation: true };
    for (const [i, c] of registry.clients.entries())
      await app.autorisaties.create(
        {
          clientIds: [c.clientId],
          label: `Bench ${i}`,
          autorisaties: benchAutorisaties(i).map((a) => ({ ...a, scopes: [...a.scopes] })),
        },
        actor,
      );
    const extra = total - registry.clients.length;
    const at = Date.now();
    const BATCH = 500;
    await app.storage.db.transaction().execute(async (trx) => {
      for (let start = 0; start < extra; start += BATCH) {
        const n = Math.min(BATCH, extra - start);
        const ids = Array.from({ length: n }, (_, k) => `bench-ac-${start + k}`);
        const uuids = ids.map(() => crypto.randomUUID());
        await trx
          .insertInto('clients')
          .values(
            ids.map((client_id) => ({
              client_id,
              name: client_id,
              description: '',
              rsin: '000000000',
              enabled: 1,
              grant_types: '["client_credentials"]',
              allowed_scopes: '[]',
              default_scopes: '[]',
              token_lifetime: null,
              static_claims: '{}',
              self_signed_allowed: 0,
              created_at: at,
              updated_at: at,
              last_token_at: null,
              jwks_uri: null,
              tls_subject_field: null,
              tls_subject_value: null,
              oin: null,
            })),
          )
          .execute();
        await trx
          .insertInto('applicaties')
          .values(
            ids.map((id, k) => ({
              uuid: uuids[k]!,
              label: id,
              heeft_alle_autorisaties: 0,
              alleen_is_gereed_voor_publicatie: 0,
              autorisaties: JSON.stringify(benchAutorisaties(start + k + registry.clients.length)),
              organisation: '000000000',
              created_at: at,
              updated_at: at,
            })),
          )
          .execute();
        await trx
          .insertInto('applicatie_clients')
          .values(ids.map((client_id, k) => ({ client_id, applicatie_uuid: uuids[k]!, position: 0 })))
          .execute();
      }
    });
  } finally {
    await app.close();
  }
}
