import { ValidationError } from '../errors.js';
import { asArray, asObject, asString, optString } from './json-shape.js';
import { cleanText, type MigrationPlan, type PlanEntry } from './migration-plan.js';

export interface OpenZaakOptions {
  /** Open Zaak keeps no organisation per client: every client gets this one. */
  rsin: string;
}

const MAX_RECORDS = 200_000;

interface Listing {
  applicaties: number;
  /** Index of the last record that listed the id: an Applicatie listing it twice counts once. */
  lastRecord: number;
  first: string;
  /** The first non-empty label, which names the client. */
  named: string | undefined;
}
const JWT_SECRET = 'vng_api_common.jwtsecret';
const APPLICATIE = 'authorizations.applicatie';

/**
 * `manage.py dumpdata vng_api_common.jwtsecret authorizations.applicatie …` as a migration plan:
 * every client id with a non-empty secret becomes a self-signing client (Open Zaak's clients sign
 * their own HS256 tokens), named after its Applicatie's label.
 */
export function parseOpenZaakDump(data: unknown, options: OpenZaakOptions): MigrationPlan {
  const records = asArray(data, '$', MAX_RECORDS);
  const secrets: { identifier: string; secret: string }[] = [];
  // Per client id: how many Applicaties list it, the first one's label and the first non-empty label.
  const listed = new Map<string, Listing>();
  const ignored = new Map<string, number>();
  records.forEach((r, i) => {
    const path = `$[${i}]`;
    const record = asObject(r, path);
    const model = asString(record.model, `${path}.model`, 200);
    if (model !== JWT_SECRET && model !== APPLICATIE) return void ignored.set(model, (ignored.get(model) ?? 0) + 1);
    const fields = asObject(record.fields, `${path}.fields`);
    if (model === JWT_SECRET) {
      secrets.push({
        identifier: asString(fields.identifier, `${path}.fields.identifier`, 255),
        secret: asString(fields.secret, `${path}.fields.secret`, 4096),
      });
      return;
    }
    const label = optString(fields, 'label', `${path}.fields`, 10_000) ?? '';
    const ids = asArray(fields.client_ids, `${path}.fields.client_ids`, 10_000).map((id, j) =>
      asString(id, `${path}.fields.client_ids[${j}]`, 255),
    );
    // Constant work per occurrence: one id may occur millions of times in a file of the size allowed.
    for (const id of ids) {
      const known = listed.get(id);
      if (!known)
        listed.set(id, { applicaties: 1, lastRecord: i, first: label, named: label.trim() === '' ? undefined : label });
      else if (known.lastRecord !== i) {
        known.applicaties++;
        known.lastRecord = i;
        if (known.named === undefined && label.trim() !== '') known.named = label;
      }
    }
  });
  if (!secrets.length && !listed.size) {
    throw new ValidationError(
      `no ${JWT_SECRET} or ${APPLICATIE} records: dump them with manage.py dumpdata ${JWT_SECRET} ${APPLICATIE}`,
    );
  }

  const entries: PlanEntry[] = [];
  const seen = new Set<string>();
  for (const { identifier, secret } of secrets) {
    if (seen.has(identifier)) {
      entries.push({
        action: 'refuse',
        clientId: identifier,
        reason: 'appears more than once in the file: only the first is imported',
      });
      continue;
    }
    seen.add(identifier);
    if (secret === '') {
      entries.push({
        action: 'refuse',
        clientId: identifier,
        reason:
          'empty secret in Open Zaak: not imported (an empty key protects nothing); give the consumer a new secret',
      });
      continue;
    }
    const listing = listed.get(identifier);
    const notes: string[] = [];
    if (!listing) notes.push('no Applicatie lists this client id: named after the id');
    else if (listing.applicaties > 1) notes.push(`listed by ${listing.applicaties} Applicaties: named after the first`);
    const label = listing?.named;
    entries.push({
      action: 'import',
      clientId: identifier,
      client: {
        name: cleanText(label ?? identifier, 200),
        description: '',
        rsin: options.rsin,
        enabled: true,
        tokenLifetime: null,
        staticClaims: {},
        selfSignedAllowed: true,
      },
      secrets: [{ value: secret, label: 'open zaak', expiresAt: null }],
      attention: [],
      notes,
    });
  }
  for (const [id, listing] of listed) {
    if (seen.has(id)) continue;
    seen.add(id);
    entries.push({
      action: 'skip',
      clientId: id,
      reason: `no secret in Open Zaak (Applicatie "${cleanText(listing.first, 60)}"): it cannot authenticate there either`,
    });
  }
  const notes = [...ignored].map(([model, n]) =>
    model === 'authorizations.autorisatie'
      ? `ignored: ${n} authorizations.autorisatie record${n === 1 ? '' : 's'} (authorisations stay in the Autorisaties API)`
      : `ignored: ${n} ${cleanText(model, 60)} record${n === 1 ? '' : 's'}`,
  );
  return { source: 'open-zaak', entries, notes };
}
