import { type Command, InvalidArgumentError } from 'commander';
import fs from 'node:fs';
import {
  type Client,
  CLIENT_AUTH_METHODS,
  type ClientAuthMethod,
  type SecretInfo,
  TLS_SUBJECT_FIELDS,
  type TlsSubject,
} from '../clients/model.js';
import type { ClientKeyView } from '../clients/client-service.js';
import type { ExpiringCredential } from '../clients/credential-expiry.js';
import { CLIENT_SORTS, type ClientSort } from '../clients/client-store.js';
import { validateRsin } from '../clients/rsin.js';
import { CLI_ACTOR, type CliContext } from './context.js';
import { isoTime, table } from './output.js';

const list = (v: string) => v.split(/[ ,]+/).filter(Boolean);
const bool = (v: string) => {
  if (/^(true|yes|1|on)$/i.test(v)) return true;
  if (/^(false|no|0|off)$/i.test(v)) return false;
  throw new InvalidArgumentError('expected true or false');
};
const seconds = (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected whole seconds');
  return Number(v);
};
const json = (v: string) => {
  try {
    return JSON.parse(v) as Record<string, unknown>;
  } catch {
    throw new InvalidArgumentError('expected a JSON object');
  }
};
const timestamp = (v: string) => {
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new InvalidArgumentError('expected an ISO 8601 date-time');
  return t;
};

const authMethod = (v: string): ClientAuthMethod => {
  if (!(CLIENT_AUTH_METHODS as readonly string[]).includes(v))
    throw new InvalidArgumentError(`expected one of ${CLIENT_AUTH_METHODS.join(', ')}`);
  return v as ClientAuthMethod;
};
const clientSort = (v: string): ClientSort => {
  if (!(CLIENT_SORTS as readonly string[]).includes(v))
    throw new InvalidArgumentError(`expected one of ${CLIENT_SORTS.join(', ')}`);
  return v as ClientSort;
};
/** Repeatable or comma-separated methods. */
const authMethods = (v: string, previous: ClientAuthMethod[] = []) => [...previous, ...list(v).map(authMethod)];
const tlsSubject = (v: string): TlsSubject | null => {
  if (v === '') return null;
  const eq = v.indexOf('=');
  const field = v.slice(0, eq);
  if (eq < 1 || !(TLS_SUBJECT_FIELDS as readonly string[]).includes(field))
    throw new InvalidArgumentError(`expected <field>=<value> with field one of ${TLS_SUBJECT_FIELDS.join(', ')}`);
  return { field: field as TlsSubject['field'], value: v.slice(eq + 1) };
};
/** Commander stores a parser's null as '': an empty value clears the field, so '' reads as null here. */
const orNull = <T>(v: T | '' | undefined): T | null | undefined => (v === '' ? null : v);

function describeClient(c: Client): string {
  return [
    `client_id:        ${c.clientId}`,
    `name:             ${c.name}`,
    `description:      ${c.description}`,
    `rsin:             ${c.rsin}`,
    `enabled:          ${c.enabled}`,
    `grant types:      ${c.grantTypes.join(' ') || '-'}`,
    `allowed scopes:   ${c.allowedScopes.join(' ') || '-'}`,
    `default scopes:   ${c.defaultScopes.join(' ') || '-'}`,
    `token lifetime:   ${c.tokenLifetime ?? '(server default)'}`,
    `static claims:    ${JSON.stringify(c.staticClaims)}`,
    `self-signed:      ${c.selfSignedAllowed}`,
    `auth methods:     ${c.authMethods.join(' ')}`,
    `jwks_uri:         ${c.jwksUri ?? '-'}`,
    `tls subject:      ${c.tlsSubject ? `${c.tlsSubject.field}=${c.tlsSubject.value}` : '-'}`,
    `oin:              ${c.oin ?? '-'}`,
    `dpop-bound:       ${c.dpopBoundAccessTokens} (dpop_bound_access_tokens)`,
    `certificate-bound: ${c.tlsClientCertificateBoundAccessTokens} (tls_client_certificate_bound_access_tokens)`,
    `risks:            ${c.risks.includes('weak_secret') ? 'weak_secret (a self-signing secret below the strength rule: add a generated one and revoke it)' : '-'}`,
    `created:          ${isoTime(c.createdAt)}`,
    `updated:          ${isoTime(c.updatedAt)}`,
    `last token:       ${isoTime(c.lastTokenAt)}`,
  ].join('\n');
}

/** Which sender constraint a client's tokens must carry: dpop, certificate, both, or '-' for bearer tokens. */
function boundTokens(c: Client): string {
  const bound = [c.dpopBoundAccessTokens ? 'dpop' : '', c.tlsClientCertificateBoundAccessTokens ? 'certificate' : ''];
  return bound.filter(Boolean).join(',') || '-';
}

function secretRows(secrets: SecretInfo[]): string {
  return table(
    ['SECRET ID', 'LABEL', 'SELF-SIGNED', 'WEAK', 'CREATED', 'EXPIRES', 'LAST USED', 'REVOKED'],
    secrets.map((s) => [
      s.secretId,
      s.label || '-',
      String(s.usableForSelfSigned),
      String(s.weak),
      isoTime(s.createdAt),
      isoTime(s.expiresAt),
      isoTime(s.lastUsedAt),
      isoTime(s.revokedAt),
    ]),
  );
}

/** What a key's certificate expiry calls for: renewal soon, or nothing more (it is refused). */
function expiryMark(k: ClientKeyView): string {
  return k.expired ? 'expired' : k.expiresSoon ? 'expires soon' : '-';
}

function keyRows(keys: ClientKeyView[]): string {
  return table(
    ['KID', 'THUMBPRINT (SHA-256)', 'KTY', 'ALG', 'EXPIRES', 'WARNING', 'LAST USED', 'CREATED'],
    keys.map((k) => [
      k.kid,
      k.thumbprint,
      k.kty,
      k.alg ?? '-',
      isoTime(k.expiresAt),
      expiryMark(k),
      isoTime(k.lastUsedAt),
      isoTime(k.createdAt),
    ]),
  );
}

/** Options shared by `clients create` and `clients update`. */
function clientOptions(cmd: Command): Command {
  return cmd
    .option('--name <name>', 'display name')
    .option('--description <text>', 'description')
    .option('--scopes <list>', 'allowed scopes (comma or space separated)', list)
    .option('--default-scopes <list>', 'scopes granted when a token request names none', list)
    .option('--token-lifetime <seconds>', 'access token lifetime override', seconds)
    .option('--claims <json>', 'static claims added to every token, e.g. {"user_id":"x"}', json)
    .option('--self-signed <bool>', 'may sign its own HS256 ZGW tokens', bool)
    .option(
      '--auth-methods <methods>',
      `how it authenticates, comma-separated or repeated: ${CLIENT_AUTH_METHODS.join(', ')}; without a client_secret_* method it has no secret`,
      authMethods,
    )
    .option('--auth-method <methods>', 'the same as --auth-methods', authMethods)
    .option('--jwks-uri <url>', "where it publishes its public keys (private_key_jwt); '' clears it")
    .option(
      '--tls-subject <field=value>',
      `its certificate's subject (tls_client_auth), field one of ${TLS_SUBJECT_FIELDS.join(', ')}; '' clears it`,
      tlsSubject,
    )
    .option('--oin <oin>', "OIN (20 digits) its certificates must carry; '' clears it")
    .option('--dpop-bound', 'DPoP-bound tokens only (RFC 9449 dpop_bound_access_tokens)')
    .option('--no-dpop-bound', 'bearer tokens allowed again')
    .option(
      '--certificate-bound',
      'tokens bound to its TLS client certificate only (RFC 8705 tls_client_certificate_bound_access_tokens)',
    )
    .option('--no-certificate-bound', 'tokens without a certificate binding allowed again')
    .option('--json', 'print JSON');
}

/** The authentication fields of `clients create` and `clients update`: undefined where no option was given. */
function authFields(o: Record<string, unknown>) {
  const methods = [...((o.authMethods as ClientAuthMethod[]) ?? []), ...((o.authMethod as ClientAuthMethod[]) ?? [])];
  return {
    authMethods: methods.length ? methods : undefined,
    jwksUri: orNull(o.jwksUri as string | undefined),
    tlsSubject: orNull(o.tlsSubject as TlsSubject | '' | undefined),
    oin: orNull(o.oin as string | undefined),
    dpopBoundAccessTokens: o.dpopBound as boolean | undefined,
    tlsClientCertificateBoundAccessTokens: o.certificateBound as boolean | undefined,
  };
}

export function clientsCommands(program: Command, ctx: CliContext): void {
  const clients = program.command('clients').description('manage ClientIDs');

  clientOptions(
    clients
      .command('create')
      .description('register a client and print its secret, shown once (none without a client_secret_* method)'),
  )
    .option('--client-id <id>', 'client id (generated when omitted)')
    .requiredOption('--rsin <rsin>', 'required: organisation RSIN (9 digits, 11-test)')
    .option('--disabled', 'create it disabled')
    .action(async (o, cmd: Command) => {
      const { client, secret } = await ctx.withApp(cmd, (app) =>
        app.clients.create(
          {
            clientId: o.clientId,
            rsin: o.rsin,
            name: o.name,
            description: o.description,
            enabled: !o.disabled,
            allowedScopes: o.scopes,
            defaultScopes: o.defaultScopes,
            tokenLifetime: o.tokenLifetime,
            staticClaims: o.claims,
            selfSignedAllowed: o.selfSigned,
            ...authFields(o),
          },
          CLI_ACTOR,
        ),
      );
      if (o.json)
        return ctx.out(
          JSON.stringify({
            client_id: client.clientId,
            client_secret: secret?.value,
            secret_id: secret?.secret.secretId,
            client,
          }),
        );
      ctx.out(
        secret
          ? `${describeClient(client)}\n\nclient_secret:    ${secret.value}\n(shown once: store it now)`
          : `${describeClient(client)}\n\nno client secret: it authenticates with its keys or certificate only`,
      );
    });

  clients
    .command('list')
    .description('list clients')
    .option('--rsin <rsin>', 'only this organisation')
    .option('--enabled <bool>', 'only enabled (true) or disabled (false) clients', bool)
    .option('--search <text>', 'text in client id or name')
    .option('--auth-method <method>', 'only clients that may use this method (e.g. client_secret_basic)', authMethod)
    .option(
      '--sort <order>',
      'clientId (default), lastToken (latest first) or expiry (the soonest expiring secret, key or certificate first)',
      clientSort,
    )
    .option('--limit <n>', 'page size', seconds, 100)
    .option('--offset <n>', 'skip this many', seconds, 0)
    .option('--json', 'print JSON')
    .action(async (o, cmd: Command) => {
      const [page, expiring] = await ctx.withApp(cmd, (app) =>
        Promise.all([
          app.clients.list({
            rsin: o.rsin,
            enabled: o.enabled,
            authMethod: o.authMethod,
            q: o.search,
            sort: o.sort,
            limit: Math.min(o.limit, 1000),
            offset: o.offset,
          }),
          app.expiry.expiring(),
        ]),
      );
      // Each client's credentials that expire within ZGW_AUTH_EXPIRY_WARNING, soonest first.
      const byClient = new Map<string, ExpiringCredential[]>();
      for (const c of expiring) byClient.set(c.clientId, [...(byClient.get(c.clientId) ?? []), c]);
      if (o.json)
        return ctx.out(
          JSON.stringify({
            ...page,
            items: page.items.map((c) => ({ ...c, expiringCredentials: byClient.get(c.clientId) ?? [] })),
          }),
        );
      ctx.out(
        table(
          [
            'CLIENT ID',
            'RSIN',
            'ENABLED',
            'AUTH METHODS',
            'BOUND TOKENS',
            'SCOPES',
            'LAST TOKEN',
            'RISKS',
            'EXPIRING',
            'NAME',
          ],
          page.items.map((c) => {
            const e = byClient.get(c.clientId)?.[0];
            return [
              c.clientId,
              c.rsin,
              String(c.enabled),
              c.authMethods.join(','),
              boundTokens(c),
              c.allowedScopes.join(' ') || '-',
              isoTime(c.lastTokenAt),
              c.risks.join(' ') || '-',
              e ? `${e.kind} ${e.id} ${isoTime(e.expiresAt)}` : '-',
              c.name,
            ];
          }),
        ),
      );
      ctx.out(`${page.items.length} of ${page.total}`);
    });

  clients
    .command('show <clientId>')
    .description('show a client, its secrets (metadata only) and its public keys')
    .option('--json', 'print JSON')
    .action(async (clientId: string, o, cmd: Command) => {
      const [client, secrets, keys] = await ctx.withApp(cmd, (app) =>
        Promise.all([app.clients.get(clientId), app.clients.listSecrets(clientId), app.clients.listKeys(clientId)]),
      );
      if (o.json) return ctx.out(JSON.stringify({ client, secrets, keys }));
      ctx.out(`${describeClient(client)}\n\n${secretRows(secrets)}\n\n${keyRows(keys)}`);
    });

  const keys = clients.command('keys').description("manage a client's public keys (private_key_jwt)");
  keys
    .command('add <clientId>')
    .description('register public keys from a file: a JWK, a JWKS, or PEM certificates (the client first)')
    .option('--jwks <file>', 'a JWK Set or one JWK (JSON)')
    .option('--jwk <file>', 'one JWK (JSON)')
    .option('--pem <file>', 'PEM certificate(s)')
    .option('--json', 'print JSON')
    .action(async (clientId: string, o, cmd: Command) => {
      const files = [o.jwks, o.jwk, o.pem].filter((f): f is string => typeof f === 'string');
      if (files.length !== 1) throw new InvalidArgumentError('give exactly one of --jwks, --jwk, --pem');
      const text = fs.readFileSync(files[0]!, 'utf8');
      const added = await ctx.withApp(cmd, (app) => app.clients.addKeys(clientId, text, CLI_ACTOR));
      ctx.out(o.json ? JSON.stringify(added) : keyRows(added));
    });
  keys
    .command('list <clientId>')
    .description("list a client's public keys: thumbprints, expiry, last use")
    .option('--json', 'print JSON')
    .action(async (clientId: string, o, cmd: Command) => {
      const items = await ctx.withApp(cmd, (app) => app.clients.listKeys(clientId));
      ctx.out(o.json ? JSON.stringify(items) : keyRows(items));
    });
  keys
    .command('remove <clientId> <kid>')
    .description('remove a public key: assertions signed with it are refused at once')
    .action(async (clientId: string, kid: string, _o, cmd: Command) => {
      await ctx.withApp(cmd, (app) => app.clients.removeKey(clientId, kid, CLI_ACTOR));
      ctx.out(`${kid} removed`);
    });

  clientOptions(clients.command('update <clientId>').description('change a client'))
    .option('--rsin <rsin>', 'organisation RSIN')
    .action(async (clientId: string, o, cmd: Command) => {
      const { client, warnings } = await ctx.withApp(cmd, (app) =>
        app.clients.update(
          clientId,
          {
            rsin: o.rsin,
            name: o.name,
            description: o.description,
            allowedScopes: o.scopes,
            defaultScopes: o.defaultScopes,
            tokenLifetime: o.tokenLifetime,
            staticClaims: o.claims,
            selfSignedAllowed: o.selfSigned,
            ...authFields(o),
          },
          CLI_ACTOR,
        ),
      );
      for (const w of warnings) ctx.err(`warning: ${w}\n`);
      ctx.out(o.json ? JSON.stringify({ client, warnings }) : describeClient(client));
    });

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    clients
      .command(`${verb} <clientId>`)
      .description(
        `${verb} a client (${enabled ? 'tokens can be issued again' : 'token issuance and its tokens stop at once'})`,
      )
      .action(async (clientId: string, _o, cmd: Command) => {
        await ctx.withApp(cmd, (app) => app.clients.update(clientId, { enabled }, CLI_ACTOR));
        ctx.out(`${clientId} ${verb}d`);
      });
  }

  clients
    .command('delete <clientId>')
    .description('delete a client and all its secrets')
    .action(async (clientId: string, _o, cmd: Command) => {
      await ctx.withApp(cmd, (app) => app.clients.delete(clientId, CLI_ACTOR));
      ctx.out(`${clientId} deleted`);
    });

  const secrets = program.command('secrets').description('manage client secrets');
  secrets
    .command('add <clientId>')
    .description(
      'add a secret (generated, or imported with --import-stdin); both old and new work until one is revoked',
    )
    .option('--label <label>', 'what the secret is for')
    .option('--expires-at <iso>', 'stops working at this time', timestamp)
    .option('--import-stdin', 'read an existing secret from standard input (migration from Keycloak or Open Zaak)')
    .option(
      '--allow-weak-secret',
      'keep an imported secret below the strength rule for a self-signing client (audited, shown as a risk)',
    )
    .option('--json', 'print JSON')
    .action(async (clientId: string, o, cmd: Command) => {
      const value = o.importStdin ? (await readStdin()).replace(/\r?\n$/, '') : undefined;
      const created = await ctx.withApp(cmd, (app) =>
        app.clients.addSecret(
          clientId,
          { label: o.label, expiresAt: o.expiresAt, value, allowWeak: o.allowWeakSecret === true },
          CLI_ACTOR,
        ),
      );
      for (const w of created.warnings) ctx.err(`warning: ${w}\n`);
      if (o.json)
        return ctx.out(
          JSON.stringify({
            client_id: clientId,
            secret_id: created.secret.secretId,
            client_secret: value === undefined ? created.value : undefined,
            warnings: created.warnings,
          }),
        );
      ctx.out(
        `secret_id:     ${created.secret.secretId}` +
          (value === undefined ? `\nclient_secret: ${created.value}\n(shown once: store it now)` : '\n(imported)'),
      );
    });
  secrets
    .command('list <clientId>')
    .description("list a client's secrets (metadata only)")
    .option('--json', 'print JSON')
    .action(async (clientId: string, o, cmd: Command) => {
      const items = await ctx.withApp(cmd, (app) => app.clients.listSecrets(clientId));
      ctx.out(o.json ? JSON.stringify(items) : secretRows(items));
    });
  secrets
    .command('revoke <clientId> <secretId>')
    .description('revoke a secret: it stops working at once')
    .action(async (clientId: string, secretId: string, _o, cmd: Command) => {
      await ctx.withApp(cmd, (app) => app.clients.revokeSecret(clientId, secretId, CLI_ACTOR));
      ctx.out(`${secretId} revoked`);
    });

  program
    .command('audit')
    .description('audit trail')
    .command('list')
    .description('list audit events, newest first')
    .option('--action <action>', 'e.g. client.created, secret.revoked, token.issued, client_auth.failed')
    .option('--target <clientId>', 'events about this client')
    .option(
      '--reason <reason>',
      'why a client authentication failed: unknown_client, wrong_secret, revoked_secret, expired_secret, disabled_client, disabled_organisation, bad_signature, self_signed_not_allowed, method_not_allowed, bad_assertion, replayed_assertion, unknown_key, untrusted_chain, certificate_mismatch, certificate_header_refused',
    )
    .option('--organisation <rsin>', 'events of this organisation (RSIN) only')
    .option('--limit <n>', 'how many', seconds, 50)
    .option('--json', 'print JSON')
    .action(async (o, cmd: Command) => {
      if (o.organisation !== undefined) validateRsin(o.organisation, 'organisation');
      const events = await ctx.withApp(cmd, (app) =>
        app.audit.list({
          action: o.action,
          target: o.target,
          reason: o.reason,
          organisation: o.organisation,
          limit: o.limit,
        }),
      );
      if (o.json) return ctx.out(JSON.stringify(events));
      ctx.out(
        table(
          ['ID', 'AT', 'ACTOR', 'ACTION', 'TARGET', 'ADDRESS', 'REASON', 'COUNT', 'ORGANISATION'],
          events.map((e) => [
            String(e.id),
            isoTime(e.at),
            e.actor,
            e.action,
            e.target,
            e.address ?? '-',
            e.reason ?? '-',
            e.details.count === undefined ? '-' : String(e.details.count),
            e.organisation ?? '-',
          ]),
        ),
      );
    });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
