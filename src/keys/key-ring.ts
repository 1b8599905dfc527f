import crypto from 'node:crypto';
import type { Kysely } from 'kysely';
import { importJwks, type KeySource, type VerificationKey } from '@zgw-auth/verifier';
import type { SigningAlg } from '../config.js';
import type { ChangeFeed } from '../storage/change-feed.js';
import type { Database, SigningKeyRow } from '../storage/schema.js';
import { generateKeyPair, type PublicJwk, publicJwk } from './jwk.js';
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
 * The signing keys: loaded from the database, refreshed on an interval so that a rotation started
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
    private readonly db: Kysely<Database>,
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
    const rows = await this.db.selectFrom('signing_keys').selectAll().orderBy('activates_at', 'asc').execute();
    const t = this.now();
    const live = rows.filter((r) => r.retires_at === null || r.retires_at > t);
    this.keys = live.map((row) => this.toSigningKey(row));
    this.jwks = { keys: live.map((r) => JSON.parse(r.public_jwk) as PublicJwk) };
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
    const kid = await this.insertKey(alg, this.now());
    await this.load();
    // Processes starting together may each create one; all must publish all of them.
    await this.changes?.publish({ kind: 'keys' });
    return kid;
  }

  /**
   * Publishes a new key now, lets it sign after `publishDelaySeconds`, and schedules every older
   * key's retirement for when the last token it can still sign has expired.
   */
  async rotate(alg: SigningAlg, publishDelaySeconds: number, maxTokenLifetimeSeconds: number): Promise<{ kid: string; activatesAt: number; previousRetireAt: number }> {
    const activatesAt = this.now() + publishDelaySeconds * 1000;
    const previousRetireAt = activatesAt + maxTokenLifetimeSeconds * 1000 + 60_000;
    const kid = await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('signing_keys')
        .set({ retires_at: previousRetireAt })
        .where((eb) => eb.or([eb('retires_at', 'is', null), eb('retires_at', '>', previousRetireAt)]))
        .execute();
      return this.insertKey(alg, activatesAt, trx);
    });
    await this.load();
    await this.changes?.publish({ kind: 'keys' });
    return { kid, activatesAt, previousRetireAt };
  }

  async list(): Promise<KeyInfo[]> {
    const rows = await this.db.selectFrom('signing_keys').select(['kid', 'alg', 'created_at', 'activates_at', 'retires_at']).orderBy('activates_at', 'asc').execute();
    const t = this.now();
    const signing = this.current()?.kid;
    return rows.map((r) => ({
      kid: r.kid,
      alg: r.alg,
      createdAt: r.created_at,
      activatesAt: r.activates_at,
      retiresAt: r.retires_at,
      state: r.retires_at !== null && r.retires_at <= t ? 'retired' : r.kid === signing ? 'active' : r.activates_at > t ? 'pending' : 'published',
    }));
  }

  private async insertKey(alg: SigningAlg, activatesAt: number, db: Kysely<Database> = this.db): Promise<string> {
    const { publicKey, privateKey } = generateKeyPair(alg);
    const jwk = publicJwk(publicKey, alg);
    await db
      .insertInto('signing_keys')
      .values({
        kid: jwk.kid,
        alg,
        public_jwk: JSON.stringify(jwk),
        private_key_sealed: this.masterKey.seal(privateKey.export({ format: 'pem', type: 'pkcs8' }), `signing-key:${jwk.kid}`),
        created_at: this.now(),
        activates_at: activatesAt,
        retires_at: null,
      })
      .execute();
    return jwk.kid;
  }

  private toSigningKey(row: SigningKeyRow): SigningKey {
    const existing = this.keys.find((k) => k.kid === row.kid);
    const privateKey = existing?.privateKey ?? crypto.createPrivateKey(this.masterKey.open(row.private_key_sealed, `signing-key:${row.kid}`));
    const header = { alg: row.alg, typ: 'at+jwt', kid: row.kid };
    return {
      kid: row.kid,
      alg: row.alg as SigningAlg,
      privateKey,
      createdAt: row.created_at,
      activatesAt: row.activates_at,
      retiresAt: row.retires_at,
      encodedHeader: Buffer.from(JSON.stringify(header)).toString('base64url'),
    };
  }
}
