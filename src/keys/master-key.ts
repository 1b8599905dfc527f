import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ZgwAuthError } from '../errors.js';

/**
 * The master key protects everything secret at rest. Subkeys are derived with HKDF per purpose, so
 * that the secret-hash key and the encryption key are never the same bytes.
 */
export class MasterKey {
  private readonly sealKey: Buffer;
  readonly hashKey: Buffer;
  /** Keys the DPoP server nonces, so that every process of a registry makes and accepts the same ones. */
  readonly dpopNonceKey: Buffer;

  constructor(raw: Buffer) {
    if (raw.length !== 32) throw new ZgwAuthError('invalid_master_key', 'the master key must be exactly 32 bytes');
    this.sealKey = derive(raw, 'zgw-auth seal v1');
    this.hashKey = derive(raw, 'zgw-auth secret hash v1');
    this.dpopNonceKey = derive(raw, 'zgw-auth dpop nonce v1');
  }

  /** AES-256-GCM; `context` is bound as associated data so a sealed value cannot be moved to another row. */
  seal(plaintext: string | Buffer, context: string): string {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.sealKey, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return ['v1', iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join(
      '.',
    );
  }

  open(sealed: string, context: string): Buffer {
    const [version, iv, body, tag] = sealed.split('.');
    if (version !== 'v1' || !iv || body === undefined || !tag) {
      throw new ZgwAuthError('sealed_value_corrupt', 'sealed value has an unknown format');
    }
    try {
      const decipher = crypto.createDecipheriv('aes-256-gcm', this.sealKey, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]);
    } catch {
      throw new ZgwAuthError(
        'sealed_value_corrupt',
        'sealed value does not open with this master key (wrong ZGW_AUTH_MASTER_KEY?)',
      );
    }
  }
}

function derive(raw: Buffer, info: string): Buffer {
  return Buffer.from(crypto.hkdfSync('sha256', raw, Buffer.alloc(0), info, 32));
}

export function parseMasterKey(text: string): MasterKey {
  const trimmed = text.trim();
  const raw = Buffer.from(trimmed, /[-_]/.test(trimmed) ? 'base64url' : 'base64');
  if (raw.length !== 32) {
    throw new ZgwAuthError(
      'invalid_master_key',
      'ZGW_AUTH_MASTER_KEY must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)',
    );
  }
  return new MasterKey(raw);
}

/** Where the master key comes from, for messages: never the key itself. */
export interface MasterKeySource {
  key: MasterKey | undefined;
  /** The setting or file it was read from, or the file a fresh install would create. */
  origin: string;
  /** Set when there is no key yet and this file may be created for a fresh install. */
  createFile?: string;
}

/**
 * Master key from configuration (the value, or a file holding it), else from an existing
 * `<dataDir>/master.key`. Creates nothing: a missing `<dataDir>/master.key` is returned as
 * `createFile`, to be made only once the registry is known to be empty (createMasterKeyFile).
 */
export function findMasterKey(configured: string | undefined, dataDir: string, keyFile?: string): MasterKeySource {
  if (configured) return { key: parseMasterKey(configured), origin: 'ZGW_AUTH_MASTER_KEY' };
  if (keyFile) {
    let text: string;
    try {
      text = fs.readFileSync(keyFile, 'utf8');
    } catch (err) {
      throw new ZgwAuthError(
        'master_key_unreadable',
        `cannot read the master key file ${keyFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
    return { key: parseMasterKey(text), origin: keyFile };
  }
  const file = path.join(dataDir, 'master.key');
  let mode: number;
  try {
    mode = fs.statSync(file).mode & 0o077;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return { key: undefined, origin: file, createFile: file };
  }
  if (mode !== 0) {
    throw new ZgwAuthError('master_key_exposed', `${file} is readable by others; run chmod 600 on it`);
  }
  return { key: parseMasterKey(fs.readFileSync(file, 'utf8')), origin: file };
}

/**
 * A new random master key in `file`, owner-only. Written whole to a private file first and linked
 * into place, so that a crash never leaves a half-written key. Two processes of a fresh install
 * may race here: the one whose link finds the file made reads that one, so both use the same key.
 */
export function createMasterKeyFile(file: string): MasterKey {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const draft = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}`;
  const fd = fs.openSync(draft, 'wx', 0o600);
  try {
    fs.writeSync(fd, crypto.randomBytes(32).toString('base64') + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(draft, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    fs.rmSync(draft, { force: true });
  }
  const found = findMasterKey(undefined, path.dirname(file));
  if (!found.key) throw new ZgwAuthError('master_key_unreadable', `${file} vanished while it was created`);
  return found.key;
}
