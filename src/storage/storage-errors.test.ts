import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { StorageUnavailableError, UnstorableValueError, ZgwAuthError } from '../errors.js';
import { storageError } from './storage-errors.js';

const PG_BASE = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The error a real driver gives for `fn`. */
async function driverError(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  return assert.fail('expected the driver to fail');
}

describe('storageError (real drivers)', () => {
  it('a value PostgreSQL cannot store (NUL in text): unstorable_value, 400', async () => {
    const client = new pg.Client({ connectionString: PG_BASE });
    await client.connect();
    try {
      const err = await driverError(() => client.query('select $1::text', ['a\u0000b']));
      const classified = storageError(err);
      assert.ok(classified instanceof UnstorableValueError, String(err));
      assert.equal(classified.code, 'unstorable_value');
      assert.equal(classified.status, 400);
      assert.equal(classified.cause, err, "the driver's error kept as the cause");
    } finally {
      await client.end();
    }
  });

  it('PostgreSQL refusing connections: storage_unavailable, 503, Retry-After 1', async () => {
    const url = new URL(PG_BASE);
    url.port = '1';
    const err = await driverError(() =>
      new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 2000 }).connect(),
    );
    const classified = storageError(err);
    assert.ok(classified instanceof StorageUnavailableError, String(err));
    assert.equal(classified.code, 'storage_unavailable');
    assert.equal(classified.status, 503);
    assert.deepEqual(classified.headers, { 'retry-after': '1' });
  });

  it('SQLite locked by another connection: storage_unavailable', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-auth-classify-'));
    const file = path.join(dir, 'db.sqlite');
    const holder = new SQLite(file);
    const other = new SQLite(file, { timeout: 0 });
    try {
      holder.exec('create table t (x int)');
      holder.exec('BEGIN EXCLUSIVE');
      const err = await driverError(() => other.exec('insert into t values (1)'));
      assert.ok(storageError(err) instanceof StorageUnavailableError, String(err));
    } finally {
      holder.close();
      other.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('anything else: the error as it is, an internal error', async () => {
    const db = new SQLite(':memory:');
    try {
      const err = await driverError(() => db.exec('select * from no_such_table'));
      assert.equal(storageError(err), err);
    } finally {
      db.close();
    }
    const typeError = new TypeError('x is undefined');
    assert.equal(storageError(typeError), typeError);
    assert.equal(storageError(null), null);
    const refusal = new ZgwAuthError('conflict', 'taken');
    assert.equal(storageError(refusal), refusal);
  });
});
