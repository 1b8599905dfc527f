import crypto from 'node:crypto';
import { importJwks, type KeySource, type VerificationKey } from '@zgw-auth/verifier';
import type { SigningAlg } from '../config.js';
import type { ChangeFeed } from '../storage/change-feed.js';
import { generateKeyPair, type PublicJwk, publicJwk } from './jwk.js';
import type { KeyStore, StoredKey } from './key-store.js';
import type { MasterKey } from './master-key.js';

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  privateKey: crypto.KeyObject;
  createdAt: number;
  activatesAt: number;
  retiresAt: number | null;
  /** base64url of the JOSE header of access tokens signed with this key, computed once. */
  encodedHeader: string;
}

export interface KeyInfo {
  kid: string;
  alg: string;
  createdAt: number;
  activatesAt: number;
  retiresAt: number | null;
  state: 'pending' | 'active' | 'published' | 'retired';
}

/**
 * The signing keys: loaded from the store, refreshed on an interval so that a rotation started
 * anywhere (CLI, admin API, another process) reaches every process. A key is published from the
 * moment it is stored, signs from `activatesAt`, and stays published until `retiresAt`, which a
 * rotation sets to when the last token it signed expires.
 */
export class KeyRing implements KeySource {
  private keys: SigningKey[] = [];
  private verification = new Map<string, VerificationKey>();
  private jwks: { keys: PublicJwk[] } = { keys: [] };
  private jwksJson = '{"keys":[]}';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: KeyStore,
    private readonly masterKey: MasterKey,
    private readonly now: () => number = Date.now,
    private readonly changes?: ChangeFeed,
  ) {
    // A rotation anywhere reaches this process at once; the refresh interval is the fallback.
    changes?.onChange((change) => {
      if (change.kind !== 'client') void this.load().catch(() => {});
    });
  }

  async load(): Promise<void> {
    const stored = await this.store.list();
    const t = this.now();
    const live = stored.filter((k) => k.retiresAt === null || k.retiresAt > t);
    this.keys = live.map((k) => this.toSigningKey(k));
    this.jwks = { keys: live.map((k) => k.publicJwk) };
    this.jwksJson = JSON.stringify(this.jwks);
    this.verification = importJwks(this.jwks);
  }

  /** KeySource for the in-process verifier: the published keys, no network. */
  get(kid: string | undefined): VerificationKey | undefined {
    return kid === undefined ? undefined : this.verification.get(kid);
  }

  startRefresh(intervalSeconds: number, onError: (err: unknown) => void): void {
    this.timer = setInterval(() => this.load().catch(onError), intervalSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The newest key whose activation time has come; undefined only before the first key exists. */
  current(): SigningKey | undefined {
    const t = this.now();
    let chosen: SigningKey | undefined;
    for (const key of this.keys) if (key.activatesAt <= t && (key.retiresAt === null || key.retiresAt > t)) chosen = key;
    return chosen;
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
    const key = this.newKey(alg, this.now());
    await this.store.insert(key);
    await this.load();
    // Processes starting together may each create one; all must publish all of them.
    await this.changes?.publish({ kind: 'keys' });
    return key.kid;
  }

  /**
   * Publishes a new key now, lets it sign after `publishDelaySeconds`, and schedules every older
   * key's retirement for when the last token it can still sign has expired.
   */
  async rotate(alg: SigningAlg, publishDelaySeconds: number, maxTokenLifetimeSeconds: number): Promise<{ kid: string; activatesAt: number; previousRetireAt: number }> {
    const activatesAt = this.now() + publishDelaySeconds * 1000;
    const previousRetireAt = activatesAt + maxTokenLifetimeSeconds * 1000 + 60_000;
    const key = this.newKey(alg, activatesAt);
    await this.store.rotate(key, previousRetireAt);
    await this.load();
    await this.changes?.publish({ kind: 'keys' });
    return { kid: key.kid, activatesAt, previousRetireAt };
  }

  async list(): Promise<KeyInfo[]> {
    const stored = await this.store.list();
    const t = this.now();
    const signing = this.current()?.kid;
    return stored.map((k) => ({
      kid: k.kid,
      alg: k.alg,
      createdAt: k.createdAt,
      activatesAt: k.activatesAt,
      retiresAt: k.retiresAt,
      state: k.retiresAt !== null && k.retiresAt <= t ? 'retired' : k.kid === signing ? 'active' : k.activatesAt > t ? 'pending' : 'published',
    }));
  }

  /** A new key pair, its private half sealed under the master key. */
  private newKey(alg: SigningAlg, activatesAt: number): StoredKey {
    const { publicKey, privateKey } = generateKeyPair(alg);
    const jwk = publicJwk(publicKey, alg);
    return {
      kid: jwk.kid,
      alg,
      publicJwk: jwk,
      privateKeySealed: this.masterKey.seal(privateKey.export({ format: 'pem', type: 'pkcs8' }), `signing-key:${jwk.kid}`),
      createdAt: this.now(),
      activatesAt,
      retiresAt: null,
    };
  }

  private toSigningKey(stored: StoredKey): SigningKey {
    const existing = this.keys.find((k) => k.kid === stored.kid);
    const privateKey = existing?.privateKey ?? crypto.createPrivateKey(this.masterKey.open(stored.privateKeySealed, `signing-key:${stored.kid}`));
    const header = { alg: stored.alg, typ: 'at+jwt', kid: stored.kid };
    return {
      kid: stored.kid,
      alg: stored.alg,
      privateKey,
      createdAt: stored.createdAt,
      activatesAt: stored.activatesAt,
      retiresAt: stored.retiresAt,
      encodedHeader: Buffer.from(JSON.stringify(header)).toString('base64url'),
    };
  }
}
