import crypto from 'node:crypto';
import { BoundedCache } from '@zgw-auth/verifier/internal';
import type { ChangeFeed } from '../changes/change-feed.js';
import type { MasterKey } from '../keys/master-key.js';
import type { ReplayCache } from '../limits/replay-cache.js';
import {
  type AssertionPolicy,
  checkAssertionClaims,
  parseAssertion,
  verifyAssertionSignature,
} from './client-assertion.js';
import { type VerificationKey, verificationKey } from './client-keys.js';
import type { ClientStore, ClientWithSecrets, StoredSecret } from './client-store.js';
import type { ParsedCertificate } from '../pki/certificate.js';
import { carriesOin, holdsKey, matchesSubject } from '../pki/client-certificate.js';
import { keyCertificateRefusal } from './key-certificate.js';
import type { PresentedCertificate } from '../pki/presented-certificate.js';
import { type TrustStore, validateChain } from '../pki/trust-store.js';
import type { JwksKeys } from './jwks-uri.js';
import {
  type Client,
  type ClientAuthMethod,
  type ClientKey,
  type PublicJwk,
  SECRET_AUTH_METHODS,
  usesSecrets,
} from './model.js';
import { isLive } from './secret-lifecycle.js';
import { hashMatches, hashSecret, SECRET_MAX_LENGTH } from './secrets.js';
import type { UsageRecorder } from './usage-recorder.js';
import { CLIENT_ID_PATTERN } from './validate.js';

/**
 * How long a client looked up for authentication or verification is served from memory. Changes
 * made in this process, or announced by the change feed, evict it at once; this is the bound for
 * processes that share a database without a feed (SQLite cluster workers).
 */
export const CLIENT_CACHE_MS = 2000;
const CLIENT_CACHE_MAX = 10_000;

export type SigningSecrets = { client: Client; secrets: Buffer[]; organisationEnabled: boolean } | undefined;

/** Why a client authentication failed: for the audit trail and the back-off, never for the caller. */
export type AuthFailureReason =
  | 'unknown_client'
  | 'wrong_secret'
  | 'revoked_secret'
  | 'expired_secret'
  | 'disabled_client'
  | 'disabled_organisation'
  | 'method_not_allowed'
  | 'bad_assertion'
  | 'replayed_assertion'
  | 'unknown_key'
  | 'untrusted_chain'
  | 'certificate_mismatch'
  | 'certificate_header_refused';

/** Why a client certificate was refused (see authenticateCertificate). */
export type CertificateFailureReason =
  'untrusted_chain' | 'certificate_mismatch' | 'method_not_allowed' | 'certificate_header_refused';

/** A certificate authentication: on failure, what the audit trail says about the certificate. */
export type CertificateAuthentication =
  | { ok: true; client: Client; method: CertificateMethod }
  | { ok: false; reason: AuthFailureReason; detail?: string; method?: CertificateMethod; rsin?: string };

export type CertificateMethod = 'tls_client_auth' | 'self_signed_tls_client_auth';

/** A failure names the client's organisation (`rsin`) when the client is known, for the audit trail. */
/** A success names the secret that matched, for a session that must end with it (the console's). */
export type Authentication =
  | { ok: true; client: Client; secretId: string }
  | { ok: false; reason: AuthFailureReason; secretId?: string; rsin?: string; detail?: string };

/** A success names the key that verified the assertion. */
export type AssertionAuthentication =
  | { ok: true; client: Client; kid: string }
  | { ok: false; reason: AuthFailureReason; rsin?: string; detail?: string; kid?: string };

/** Where secrets are presented: a client's method at an OAuth endpoint, or an administrator signing in to the console. */
export type SecretMethod = 'client_secret_basic' | 'client_secret_post' | 'console';

export interface AuthenticatorOptions {
  /** Methods accepted at all (ZGW_AUTH_CLIENT_AUTH_METHODS); the console's sign-in is not one of them. */
  methods?: readonly ClientAuthMethod[];
  /** Where the keys of jwks_uri clients come from. */
  jwks?: JwksKeys;
  /** Single use of assertion identifiers across processes. */
  replay?: ReplayCache;
  /** Seconds an assertion may live, and the clock leeway. */
  assertionMaxLifetime?: number;
  leeway?: number;
  /** Trust anchors for the x5c chains of keys (ZGW_AUTH_TLS_CLIENT_CA). */
  trust?: TrustStore;
}

/** A signature of a private_key_jwt assertion is spent with its client id in this namespace. */
const ASSERTION_NAMESPACE = 'client_assertion';

interface CachedClient {
  found: ClientWithSecrets | undefined;
  at: number;
  /** The entry is stale from this moment: the first expiry of a secret that was live when read. */
  staleAt: number;
  /** Self-signing secrets, decrypted on first use. */
  opened?: Buffer[];
  /** The registered keys, parsed on first use. */
  parsedKeys?: VerificationKey[];
}

const NOT_REGISTRABLE: CachedClient = { found: undefined, at: Infinity, staleAt: Infinity };

/**
 * The one place that decides who a caller is: a client's secret at /token, /introspect, /revoke and
 * the console's sign-in (through authenticateClient), and the secrets that verify its self-signed
 * tokens. Keeps the clients it checks in memory (bounded, evicted on every change) and spends the
 * same work on an unknown client as on a known one.
 */
export class ClientAuthenticator {
  private readonly cache = new BoundedCache<string, CachedClient>(CLIENT_CACHE_MAX);
  private seen = new Set<string>();
  private seenSince = 0;
  /** Spent on unknown clients so that they cost what a known one costs. */
  private readonly dummySecrets: StoredSecret[] = [
    { secretId: '', hash: crypto.randomBytes(32), sealed: null, expiresAt: null, lastUsedAt: null, revokedAt: null },
  ];

  constructor(
    private readonly store: Pick<ClientStore, 'findWithSecrets'>,
    private readonly masterKey: MasterKey,
    changes: Pick<ChangeFeed, 'onChange'>,
    private readonly usage: Pick<UsageRecorder, 'note' | 'noteKey'>,
    private readonly now: () => number = Date.now,
    private readonly options: AuthenticatorOptions = {},
  ) {
    changes.onChange((change) => {
      if (change.kind === 'client') this.cache.delete(change.clientId);
      else if (change.kind === 'all' || change.kind === 'organisation') this.cache.clear();
    });
  }

  /** A change made in this process: forgotten at once, before the change feed reports it. */
  forget(clientId: string): void {
    this.cache.delete(clientId);
  }

  /**
   * Client authentication for /token, /introspect and /revoke. Every outcome costs the same work:
   * one HMAC and a constant-time compare per secret the client has (the live ones and its former
   * ones of the last FORMER_SECRET_MS, read in the same query), one dummy for an unknown client.
   * A former secret is recognised so that the back-off can tell a stale instance from a guesser.
   */
  async authenticate(clientId: string, secret: string, method: SecretMethod = 'console'): Promise<Authentication> {
    const found = (await this.lookup(clientId)).found;
    const presented = hashSecret(this.masterKey.hashKey, secret.length <= SECRET_MAX_LENGTH ? secret : '');
    let matched: StoredSecret | undefined;
    // A client without secrets (keys or certificates only) costs what an unknown one costs.
    for (const s of found?.secrets.length ? found.secrets : this.dummySecrets) {
      if (hashMatches(presented, s.hash) && s.secretId) matched = s;
    }
    if (!found) return { ok: false, reason: 'unknown_client' };
    const rsin = found.client.rsin;
    // Registered without a secret method, it takes no secret at all: that, not the secret, is why.
    if (!usesSecrets(found.client))
      return {
        ok: false,
        reason: 'method_not_allowed',
        rsin,
        detail: method,
        ...(matched && { secretId: matched.secretId }),
      };
    if (!matched) return { ok: false, reason: 'wrong_secret', rsin };
    const secretId = matched.secretId;
    if (matched.revokedAt !== null) return { ok: false, reason: 'revoked_secret', secretId, rsin };
    if (!isLive(matched, this.now())) return { ok: false, reason: 'expired_secret', secretId, rsin };
    if (!this.secretMethodAllowed(found.client, method))
      return { ok: false, reason: 'method_not_allowed', secretId, rsin, detail: method };
    if (!found.client.enabled) return { ok: false, reason: 'disabled_client', secretId, rsin };
    if (!found.organisationEnabled) return { ok: false, reason: 'disabled_organisation', secretId, rsin };
    this.usage.note(matched, found.client);
    return { ok: true, client: found.client, secretId };
  }

  /**
   * Mutual TLS client authentication (RFC 8705 §2) of the client named by `client_id`, by the
   * methods it is registered for: `tls_client_auth` (a certificate chaining to a trust anchor,
   * valid now, carrying the client's registered subject identifier and OIN), else
   * `self_signed_tls_client_auth` (the certificate, or its public key, is one of the client's
   * registered keys; no chain, but within its validity period and carrying the OIN when the client
   * has one). A client registered for neither is refused as method_not_allowed.
   */
  async authenticateCertificate(
    clientId: string,
    presented: PresentedCertificate,
    trust: TrustStore | undefined,
  ): Promise<CertificateAuthentication> {
    const found = (await this.lookup(clientId)).found;
    if (!found) return { ok: false, reason: 'unknown_client' };
    const client = found.client;
    const rsin = client.rsin;
    // Registered for the client and accepted by this server (ZGW_AUTH_CLIENT_AUTH_METHODS).
    const allowed = (m: CertificateMethod) =>
      client.authMethods.includes(m) && (this.options.methods?.includes(m) ?? true);
    const byChain = allowed('tls_client_auth');
    const bySelfSigned = allowed('self_signed_tls_client_auth');
    if (!byChain && !bySelfSigned) return { ok: false, reason: 'method_not_allowed', rsin };
    if (!presented.ok)
      return {
        ok: false,
        reason: presented.source === 'header' ? 'certificate_header_refused' : 'untrusted_chain',
        detail: presented.detail,
        rsin,
      };
    const t = this.now();
    let failure: { reason: CertificateFailureReason; detail: string; method: CertificateMethod } | undefined;
    let method: CertificateMethod | undefined;
    if (byChain) {
      const refusal = chainRefusal(client, presented, trust, t);
      if (refusal) failure = { ...refusal, method: 'tls_client_auth' };
      else method = 'tls_client_auth';
    }
    if (!method && bySelfSigned) {
      const refusal = selfSignedRefusal(client, found.keys, presented, t);
      // The chain's reason stays the one audited when both methods fail: it says more.
      if (refusal) failure ??= { ...refusal, method: 'self_signed_tls_client_auth' };
      else method = 'self_signed_tls_client_auth';
    }
    if (!method) return { ok: false, ...failure!, rsin };
    if (!client.enabled) return { ok: false, reason: 'disabled_client', method, rsin };
    if (!found.organisationEnabled) return { ok: false, reason: 'disabled_organisation', method, rsin };
    return { ok: true, client, method };
  }

  /**
   * A client's secrets work where its methods hold a secret method: at an OAuth endpoint the one
   * presented, accepted by the server too; at the console sign-in (a person, not the client
   * credentials flow) either one.
   */
  private secretMethodAllowed(client: Client, method: SecretMethod): boolean {
    if (method === 'console') return client.authMethods.some((m) => SECRET_AUTH_METHODS.includes(m));
    return client.authMethods.includes(method) && (this.options.methods?.includes(method) ?? true);
  }

  /**
   * private_key_jwt (RFC 7523 §2.2): the assertion's form, the client's method, its signature by a
   * registered key or one at its jwks_uri, its claims, then the single use of its jti. Only an
   * assertion with a valid signature spends a jti, so no one can use up another client's.
   */
  async authenticateAssertion(
    clientId: string,
    assertion: string,
    audiences: ReadonlySet<string>,
  ): Promise<AssertionAuthentication> {
    const parsed = parseAssertion(assertion);
    if ('reason' in parsed) return { ok: false, ...parsed };
    const entry = await this.lookup(clientId);
    const found = entry.found;
    if (!found) return { ok: false, reason: 'unknown_client' };
    const client = found.client;
    const rsin = client.rsin;
    if (!client.authMethods.includes('private_key_jwt') || !(this.options.methods?.includes('private_key_jwt') ?? true))
      return { ok: false, reason: 'method_not_allowed', rsin, detail: 'private_key_jwt' };
    let verified = verifyAssertionSignature(parsed, await this.keysOf(entry, false));
    let upstream: string | undefined;
    if ('reason' in verified && verified.reason === 'unknown_key' && client.jwksUri !== null) {
      // A key rotated in at the jwks_uri since the last fetch: fetched again (at a bounded rate).
      const again = await this.options.jwks?.keys(clientId, client.jwksUri, { unknownKid: true });
      upstream = again?.error;
      verified = verifyAssertionSignature(parsed, again?.keys ?? []);
    }
    if ('reason' in verified)
      return {
        ok: false,
        reason: verified.reason,
        rsin,
        detail: upstream !== undefined ? `${verified.detail}; jwks_uri: ${upstream}` : verified.detail,
        ...(parsed.kid !== undefined ? { kid: parsed.kid } : {}),
      };
    const kid = verified.kid;
    const certified = keyCertificateRefusal(verified.jwk, client, this.options.trust, this.now());
    if (certified) return { ok: false, ...certified, rsin, kid };
    const policy: AssertionPolicy = {
      audiences,
      maxLifetime: this.options.assertionMaxLifetime ?? 300,
      leeway: this.options.leeway ?? 30,
    };
    const claims = checkAssertionClaims(parsed.claims, clientId, policy, this.now());
    if ('reason' in claims) return { ok: false, ...claims, rsin, kid };
    if (!client.enabled) return { ok: false, reason: 'disabled_client', rsin, kid };
    if (!found.organisationEnabled) return { ok: false, reason: 'disabled_organisation', rsin, kid };
    const replay = this.options.replay;
    if (replay && !(await replay.useOnce(ASSERTION_NAMESPACE, `${clientId} ${claims.jti}`, claims.expiresAt)))
      return { ok: false, reason: 'replayed_assertion', rsin, kid };
    const registered = found.keys.find((k) => k.kid === kid);
    if (registered) this.usage.noteKey(registered, client);
    return { ok: true, client, kid };
  }

  /** The client's registered keys (parsed once per cache entry), or those at its jwks_uri. */
  private async keysOf(entry: CachedClient, unknownKid: boolean): Promise<VerificationKey[]> {
    const found = entry.found!;
    if (found.client.jwksUri !== null) {
      if (!this.options.jwks) return [];
      return (await this.options.jwks.keys(found.client.clientId, found.client.jwksUri, { unknownKid })).keys;
    }
    entry.parsedKeys ??= found.keys.map(toVerificationKey).filter((k): k is VerificationKey => k !== undefined);
    return entry.parsedKeys;
  }

  /**
   * Secrets that can verify a self-signed HS256 token of this client (decrypted, in memory only).
   * Answers synchronously from the cache, so the verifier needs no promise for a known client.
   */
  selfSigningSecrets(clientId: string): SigningSecrets | Promise<SigningSecrets> {
    const entry = this.lookup(clientId);
    return entry instanceof Promise
      ? entry.then((e) => this.openSecrets(clientId, e))
      : this.openSecrets(clientId, entry);
  }

  private openSecrets(clientId: string, entry: CachedClient): SigningSecrets {
    if (!entry.found) return undefined;
    const t = this.now();
    // A self-signed token is signed with a secret: only a client that may use one at all may sign.
    const client = entry.found.client;
    const secretsUsable = client.authMethods.some(
      (m) => SECRET_AUTH_METHODS.includes(m) && (this.options.methods?.includes(m) ?? true),
    );
    if (!secretsUsable) return { client, secrets: [], organisationEnabled: entry.found.organisationEnabled };
    entry.opened ??= entry.found.secrets
      .filter((s) => s.sealed && isLive(s, t))
      .map((s) => this.masterKey.open(s.sealed!, sealContext(clientId, s.secretId)));
    return { client: entry.found.client, secrets: entry.opened, organisationEnabled: entry.found.organisationEnabled };
  }

  /** The client and its secrets, from memory for at most CLIENT_CACHE_MS (see there). */
  private lookup(clientId: string): CachedClient | Promise<CachedClient> {
    // An id that cannot be registered is not looked up: no database work, and no NUL sent to one.
    if (!CLIENT_ID_PATTERN.test(clientId)) return NOT_REGISTRABLE;
    const t = this.now();
    const hit = this.cache.get(clientId);
    if (hit && t - hit.at < CLIENT_CACHE_MS && t < hit.staleAt) return hit;
    return this.store.findWithSecrets(clientId, t).then((found) => {
      let staleAt = Infinity;
      for (const s of found?.secrets ?? [])
        if (isLive(s, t) && s.expiresAt !== null) staleAt = Math.min(staleAt, s.expiresAt);
      const entry: CachedClient = { found, at: t, staleAt };
      if (hit || this.seenBefore(clientId, t)) this.cache.set(clientId, entry);
      return entry;
    });
  }

  /**
   * Admission: a client is cached from its second lookup within CLIENT_CACHE_MS on. A client seen
   * once in a large registry would only push out one that is in use, and its entry would age into
   * the old heap as garbage.
   */
  private seenBefore(clientId: string, t: number): boolean {
    if (t - this.seenSince >= CLIENT_CACHE_MS) {
      this.seen.clear();
      this.seenSince = t;
    }
    if (this.seen.has(clientId)) return true;
    if (this.seen.size < CLIENT_CACHE_MAX) this.seen.add(clientId);
    return false;
  }
}

type Refusal = { reason: 'untrusted_chain' | 'certificate_mismatch'; detail: string } | undefined;

/** tls_client_auth: a chain to an anchor, the registered subject identifier, the OIN. */
function chainRefusal(
  client: Client,
  presented: Extract<PresentedCertificate, { ok: true }>,
  trust: TrustStore | undefined,
  now: number,
): Refusal {
  if (!trust) return { reason: 'untrusted_chain', detail: 'no trust anchors configured (ZGW_AUTH_TLS_CLIENT_CA)' };
  const verdict = validateChain(trust, presented.leaf, presented.chain, { now, purpose: 'tls_client' });
  if (!verdict.ok) return { reason: 'untrusted_chain', detail: verdict.detail };
  // A client registered with neither would accept any certificate of any organisation under the anchors.
  if (!client.tlsSubject && !client.oin)
    return { reason: 'certificate_mismatch', detail: 'the client has no certificate subject or OIN registered' };
  if (client.tlsSubject && !matchesSubject(presented.leaf, client.tlsSubject))
    return {
      reason: 'certificate_mismatch',
      detail: `the certificate does not carry the registered ${client.tlsSubject.field}`,
    };
  if (client.oin && !carriesOin(presented.leaf, client.oin))
    return { reason: 'certificate_mismatch', detail: "the certificate does not carry the client's OIN" };
  return undefined;
}

/** self_signed_tls_client_auth: one of the client's registered keys (its x5c certificate or its public key). */
function selfSignedRefusal(
  client: Client,
  keys: readonly ClientKey[],
  presented: Extract<PresentedCertificate, { ok: true }>,
  now: number,
): Refusal {
  const leaf = presented.leaf;
  if (now < leaf.notBefore || now > leaf.notAfter)
    return { reason: 'untrusted_chain', detail: 'certificate outside its validity period' };
  const der = leaf.der.toString('base64');
  const registered = keys.some((k) => k.publicJwk.x5c?.[0] === der || sameKey(leaf, k.publicJwk));
  if (!registered) return { reason: 'certificate_mismatch', detail: 'the certificate is none of the registered keys' };
  if (client.oin && !carriesOin(leaf, client.oin))
    return { reason: 'certificate_mismatch', detail: "the certificate does not carry the client's OIN" };
  return undefined;
}

function sameKey(leaf: ParsedCertificate, jwk: PublicJwk): boolean {
  try {
    return holdsKey(leaf, crypto.createPublicKey({ key: jwk as crypto.JsonWebKey, format: 'jwk' }));
  } catch {
    return false;
  }
}

/** A stored key under its registered kid (the JWK's own, or its thumbprint). */
function toVerificationKey(k: ClientKey): VerificationKey | undefined {
  const v = verificationKey(k.publicJwk);
  return v && { ...v, kid: k.kid };
}

export function sealContext(clientId: string, secretId: string): string {
  return `client-secret:${clientId}:${secretId}`;
}
