import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../errors.js';
import { autorisatiesApiUrl } from './read-autorisaties-api.js';

describe('autorisatiesApiUrl', () => {
  it('takes an https base URL, or http to this machine, without a trailing slash', () => {
    assert.equal(
      autorisatiesApiUrl('https://oz.example/autorisaties/api/v1/').href,
      'https://oz.example/autorisaties/api/v1',
    );
    assert.equal(autorisatiesApiUrl('http://127.0.0.1:8000/ac/api/v1').host, '127.0.0.1:8000');
  });

  it('refuses credentials, queries, fragments and plain http elsewhere, never echoing a password', () => {
    for (const raw of [
      'https://reader:s3cret-Passw0rd@oz.example/autorisaties/api/v1',
      'https://oz.example/ac?x=1',
      'https://oz.example/ac#f',
      'http://oz.example/ac',
      'not a url',
    ]) {
      assert.throws(
        () => autorisatiesApiUrl(raw),
        (err: unknown) => err instanceof ValidationError && !err.message.includes('s3cret'),
        raw,
      );
    }
  });
});
