import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseChange } from './change-feed.js';

describe('parseChange: a notification from another process', () => {
  it('reads the changes this version knows', () => {
    assert.deepEqual(parseChange('{"kind":"client","clientId":"a"}'), { kind: 'client', clientId: 'a' });
    assert.deepEqual(parseChange('{"kind":"organisation","rsin":"123456782"}'), {
      kind: 'organisation',
      rsin: '123456782',
    });
    assert.deepEqual(parseChange('{"kind":"revocation","jti":"j"}'), { kind: 'revocation', jti: 'j' });
    assert.deepEqual(parseChange('{"kind":"keys","extra":1}'), { kind: 'keys' });
  });

  it('takes anything else as "everything changed": caches reload, none keeps a stale entry', () => {
    for (const payload of [
      undefined,
      '',
      'not json',
      'null',
      '[]',
      '1',
      '{"kind":"client"}',
      '{"kind":"client","clientId":5}',
      '{"kind":"other"}',
      '{"kind":"revocation","jti":null}',
    ]) {
      assert.deepEqual(parseChange(payload), { kind: 'all' }, String(payload));
    }
  });
});
