import crypto from 'node:crypto';
import type { KeySource, VerificationKey } from '@zgw-auth/verifier';
// Not the library's main entry: that would load the whole verifier into every CLI command.
import { importJwks } from '@zgw-auth/verifier/internal';
import type { SigningAlg } from '../config.js';
import type { ChangeFeed } from '../changes/change-feed.js';
import { generateKeyPair, type PublicJwk, publicJwk } from './jwk.js';
import { keyPlan, type KeyTimes, type PlannedKey, signsAt } from './key-plan.js';
import type { KeyStore, StoredKey } from './key-store.js';
import type { MasterKey } from './master-key.js';

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  privateKey: crypto.KeyObject;
  createdAt: number;
  /** Its signing window, from the key plan: null for a superseded key, which never signs. */
  signsFrom: number | null;
  signsUntil: number | null;
  retiresAt: number | null;
  /** base64url of the JOSE header of access tokens signed with this key, computed once. */
  encodedHeader: string;
}

/** One key of the plan as operators see it (`keys list`, the admin API, the console). */
export interface KeyInfo {
  kid: string;
  alg: string;
  createdAt: number;
  /** When it signs, or was to sign when superseded. */
  activatesAt: number;
  /** When the next key takes over; null while no key follows (or when superseded). */
  signsUntil: number | null;
  /** When it leaves the JWKS: its last token has expired; null while it may still sign. */
  retiresAt: number | null;
  /** When a newer key was rotated in to sign before its start: it never signs. */
  supersededAt: number | null;
  state: 'pending' | 'active' | 'published' | 'superseded' | 'retired';
}

export interface KeyRingRotation {
  kid: string;
  activatesAt: number;
  /** When the key it takes over from retires (those before it retire earlier). */
  previousRetireAt: number;
  /** Pending keys this one supersedes: they never sign. */
  superseded: string[];
}

/**
 * The signing keys: loaded from the store, refreshed on an interval so that a rotation started
 * anywhere (CLI, admin API, another process) reaches every process. A key is published from the
 * moment it is stored and signs by the key plan (key-plan.ts): from its activation until the next
 * key's, published until its last token has expired.
 */
/** At most one store read per this interval for kids this process does not know. */
const UNKNOWN_KID_RELOAD_MS = 1000;

export class KeyRing implements KeySource {
  private keys: SigningKey[] = [];
  private verification = new Map<string, VerificationKey>();
  private jwks: { keys: PublicJwk[] } = { keys: [] };
  private jwksJson = '{"keys":[]}';
  private timer: NodeJS.Timeout | undefined;
  private unknownKidReloadAt = -Infinity;
  private reloading: Promise<void> | undefined;

  constructor(
    private readonly store: KeyStore,
    private readonly masterKey: MasterKey,
    private readonly now: () => number,
    private readonly times: KeyTimes,
    private readonly changes?: ChangeFeed,
    /** Where new key pairs come from: generated (tests may hand out pairs made earlier: an RSA pair costs ~0.2 s of CPU). */
    private readonly newKeyPair: (alg: SigningAlg) => crypto.KeyPairKeyObjectResult = generateKeyPair,
  ) {
    // A rotation anywhere reaches this process at once; the refresh interval is the fallback.
    changes?.onChange((change) => {
      if (change.kind !== 'client' && change.kind !== 'autorisaties') void this.load().catch(() => {});
    });
  }

  async load(): Promise<void> {
    const t = this.now();
    const live = keyPlan(await this.store.list(), this.times).filter((k) => k.retiresAt === null || k.retiresAt > t);
    this.keys = live.map((k) => this.toSigningKey(k));
    this.jwks = { keys: live.map((k) => k.stored.publicJwk) };
    this.jwksJson = JSON.stringify(this.jwks);
    this.verification = importJwks(this.jwks);
  }

  /**
   * KeySource for the in-process verifier: the published keys. An unknown kid is looked up in the
   * store, at most once per UNKNOWN_KID_RELOAD_MS: a key another process has just stored (an
   * emergency rotation signs at once) is then trusted here before the change feed or the refresh
   * brings it, and a flood of made-up kids costs one read a second.
   */
  get(kid: string | undefined): VerificationKey | undefined | Promise<VerificationKey | undefined> {
    if (kid === undefined) return undefined;
    const known = this.verification.get(kid);
    if (known) return known;
    if (!this.reloading) {
      const t = performance.now();
      if (t - this.unknownKidReloadAt < UNKNOWN_KID_RELOAD_MS) return undefined;
      this.unknownKidReloadAt = t;
      this.reloading = this.load()
        .catch(() => {})
        .finally(() => (this.reloading = undefined));
    }
    return this.reloading.then(() => this.verification.get(kid));
  }

  startRefresh(intervalSeconds: number, onError: (err: unknown) => void): void {
    this.timer = setInterval(() => void this.load().catch(onError), intervalSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The key whose signing window holds now: one at most; undefined only before the first key exists. */
  current(): SigningKey | undefined {
    const t = this.now();
    return this.keys.find((k) => signsAt(k, t));
  }

  /** Every published key, signing or not. */
  published(): readonly SigningKey[] {
    return this.keys;
  }

  publicKeys(): PublicJwk[] {
    return this.jwks.keys;
  }

  jwksDocument(): string {
    return this.jwksJson;
  }

  /** Creates the first key when there is none that can sign. Returns it when created. */
  async ensureKey(alg: SigningAlg): Promise<string | undefined> {
    await this.load();
    if (this.current()) return undefined;
    const key = this.newKey(alg, await this.store.list(), 0);
    await this.store.insert(key);
    await this.load();
    // Processes starting together may each create one; all must publish all of them.
    await this.changes?.publish({ kind: 'keys' });
    return key.kid;
  }

  /**
   * Publishes a new key now and lets it sign after `publishDelaySeconds`. The key it takes over
   * from retires when its last token has expired; pending keys that would start no earlier are
   * superseded: the newest rotation decides which key signs next.
   */
  async rotate(alg: SigningAlg, publishDelaySeconds: number): Promise<KeyRingRotation> {
    const key = this.newKey(alg, await this.store.list(), publishDelaySeconds * 1000);
    const superseded = await this.store.rotate(key, this.now());
    await this.load();
    await this.changes?.publish({ kind: 'keys' });
    return {
      kid: key.kid,
      activatesAt: key.activatesAt,
      previousRetireAt: key.activatesAt + this.times.retentionMs,
      superseded,
    };
  }

  /** The plan as the store holds it now: the same on every process. */
  async list(): Promise<KeyInfo[]> {
    const t = this.now();
    return keyPlan(await this.store.list(), this.times).map((k) => ({
      kid: k.stored.kid,
      alg: k.stored.alg,
      createdAt: k.stored.createdAt,
      activatesAt: k.stored.activatesAt,
      signsUntil: k.signsUntil,
      retiresAt: k.retiresAt,
      supersededAt: k.stored.supersededAt,
      state: stateAt(k, t),
    }));
  }

  /**
   * A new key pair, its private half sealed under the master key. Its creation time comes after
   * every stored key's, so that of two keys activating in the same millisecond the newer signs.
   */
  private newKey(alg: SigningAlg, existing: StoredKey[], delayMs: number): StoredKey {
    const { publicKey, privateKey } = this.newKeyPair(alg);
    const jwk = publicJwk(publicKey, alg);
    const now = this.now();
    const createdAt = Math.max(now, ...existing.map((k) => k.createdAt + 1));
    return {
      kid: jwk.kid,
      alg,
      publicJwk: jwk,
      privateKeySealed: this.masterKey.seal(
        privateKey.export({ format: 'pem', type: 'pkcs8' }),
        `signing-key:${jwk.kid}`,
      ),
      createdAt,
      activatesAt: now + delayMs,
      supersededAt: null,
    };
  }

  private toSigningKey({ stored, signsFrom, signsUntil, retiresAt }: PlannedKey): SigningKey {
    const existing = this.keys.find((k) => k.kid === stored.kid);
    const privateKey =
      existing?.privateKey ??
      crypto.createPrivateKey(this.masterKey.open(stored.privateKeySealed, `signing-key:${stored.kid}`));
    const header = { alg: stored.alg, typ: 'at+jwt', kid: stored.kid };
    return {
      kid: stored.kid,
      alg: stored.alg,
      privateKey,
      createdAt: stored.createdAt,
      signsFrom,
      signsUntil,
      retiresAt,
      encodedHeader: Buffer.from(JSON.stringify(header)).toString('base64url'),
    };
  }
}

/** A superseded key stays shown as such, retired or not: that it never signed is what matters. */
function stateAt(k: PlannedKey, t: number): KeyInfo['state'] {
  if (k.stored.supersededAt !== null) return 'superseded';
  if (k.retiresAt !== null && k.retiresAt <= t) return 'retired';
  if (signsAt(k, t)) return 'active';
  return k.stored.activatesAt > t ? 'pending' : 'published';
}
