import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEvent } from '../audit/audit-store.js';
import { changesOf, sentenceOf } from './audit-words.js';

const event = (e: Partial<AuditEvent>): AuditEvent => ({
  id: 1,
  at: 0,
  actor: 'beheer',
  action: 'client.updated',
  target: 'app',
  address: null,
  reason: null,
  details: {},
  organisation: '123456782',
  ...e,
});
const names = new Map([
  ['123456782', 'Gemeente Voorbeeld'],
  ['111222333', 'Zaakleverancier'],
]);

describe('audit events in words', () => {
  it('names the organisations a client moved between', () => {
    const moved = event({ action: 'client.moved', details: { from: '123456782', to: '111222333' } });
    assert.equal(
      sentenceOf('nl', moved, names),
      'beheer verplaatste client app van Gemeente Voorbeeld (123456782) naar Zaakleverancier (111222333).',
    );
    assert.equal(sentenceOf('en', moved, new Map()), 'beheer moved client app from 123456782 to 111222333.');
  });

  it('says why a console session token was revoked, and how often an authentication failed', () => {
    assert.equal(
      sentenceOf('nl', event({ action: 'token.revoked', details: { via: 'console', why: 'idle' } }), names),
      'Het token van app werd ingetrokken (consolesessie beëindigd: te lang niets gedaan).',
    );
    assert.equal(
      sentenceOf('en', event({ action: 'client_auth.failed', reason: 'wrong_secret', details: { count: 3 } }), names),
      'Authentication as app failed: wrong secret (3 times).',
    );
  });

  it('lists only the fields that changed, in words, leaving timestamps out', () => {
    const before = { name: 'Oud', allowedScopes: ['zaken.lezen'], enabled: true, tokenLifetime: null, updatedAt: 1 };
    const after = {
      name: 'Nieuw',
      allowedScopes: ['zaken.lezen', 'zaken.schrijven'],
      enabled: true,
      tokenLifetime: 600,
      updatedAt: 2,
    };
    assert.deepEqual(changesOf('nl', { before, after }), [
      { field: 'Naam', from: 'Oud', to: 'Nieuw' },
      { field: 'Toegestane scopes', from: 'zaken.lezen', to: 'zaken.lezen zaken.schrijven' },
      { field: 'Levensduur van tokens', from: '(leeg)', to: '10 minuten' },
    ]);
    assert.deepEqual(changesOf('en', { after }), [], 'a creation has nothing to compare');
  });
});
