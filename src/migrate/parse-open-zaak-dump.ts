import { ValidationError } from '../errors.js';
import { asArray, asObject, asString, optString } from './json-shape.js';
import { type ApplicatiePlanEntry, cleanText, type MigrationPlan, type PlanEntry, UUID } from './migration-plan.js';

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
const AUTORISATIE = 'authorizations.autorisatie';

/** An authorizations.applicatie record, for the applicatie it becomes in the Autorisaties API. */
interface ApplicatieRecord {
  pk: string | undefined;
  fields: Record<string, unknown>;
  clientIds: string[];
  autorisaties: Array<{ pk: string; fields: Record<string, unknown> }>;
}

/**
 * `manage.py dumpdata vng_api_common.jwtsecret authorizations.applicatie authorizations.autorisatie`
 * as a migration plan: every client id with a non-empty secret becomes a self-signing client (Open
 * Zaak's clients sign their own HS256 tokens), named after its Applicatie's label; each Applicatie
 * with its Autorisaties an applicatie of the Autorisaties API.
 */
export function parseOpenZaakDump(data: unknown, options: OpenZaakOptions): MigrationPlan {
  const records = asArray(data, '$', MAX_RECORDS);
  const secrets: { identifier: string; secret: string }[] = [];
  // Per client id: how many Applicaties list it, the first one's label and the first non-empty label.
  const listed = new Map<string, Listing>();
  const ignored = new Map<string, number>();
  const applicaties: ApplicatieRecord[] = [];
  const autorisaties: Array<{ pk: string; applicatie: string; fields: Record<string, unknown> }> = [];
  records.forEach((r, i) => {
    const path = `$[${i}]`;
    const record = asObject(r, path);
    const model = asString(record.model, `${path}.model`, 200);
    if (model !== JWT_SECRET && model !== APPLICATIE && model !== AUTORISATIE)
      return void ignored.set(model, (ignored.get(model) ?? 0) + 1);
    const fields = asObject(record.fields, `${path}.fields`);
    const pk = typeof record.pk === 'number' || typeof record.pk === 'string' ? String(record.pk) : undefined;
    if (model === AUTORISATIE) {
      // Linked by the applicatie's primary key (dumpdata's default, without natural keys).
      const applicatie = fields.applicatie;
      autorisaties.push({
        pk: pk ?? `at $[${i}]`,
        applicatie: typeof applicatie === 'number' || typeof applicatie === 'string' ? String(applicatie) : '',
        fields,
      });
      return;
    }
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
    applicaties.push({ pk, fields, clientIds: ids, autorisaties: [] });
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
  const notes = [...ignored].map(([model, n]) => `ignored: ${n} ${cleanText(model, 60)} record${n === 1 ? '' : 's'}`);
  return { source: 'open-zaak', entries, applicaties: applicatiePlan(applicaties, autorisaties, notes), notes };
}

/**
 * The applicaties of the dump, each with the autorisaties that name it, in the Autorisaties API's
 * shape: Open Zaak's fields (snake_case) renamed, their values passed on as they are, for the
 * API's own validation to judge. An empty URL or level is Open Zaak's "not set" and is left out.
 */
function applicatiePlan(
  applicaties: ApplicatieRecord[],
  autorisaties: Array<{ pk: string; applicatie: string; fields: Record<string, unknown> }>,
  notes: string[],
): ApplicatiePlanEntry[] {
  const byPk = new Map<string, ApplicatieRecord>();
  for (const a of applicaties) if (a.pk !== undefined && !byPk.has(a.pk)) byPk.set(a.pk, a);
  const orphans: string[] = [];
  for (const autorisatie of autorisaties) {
    const owner = byPk.get(autorisatie.applicatie);
    if (owner) owner.autorisaties.push(autorisatie);
    else orphans.push(cleanText(autorisatie.pk, 40));
  }
  if (orphans.length)
    notes.push(
      `ignored: ${orphans.length} ${AUTORISATIE} record${orphans.length === 1 ? '' : 's'} whose applicatie is not in the file (pk ${orphans.slice(0, 10).join(', ')}${orphans.length > 10 ? ', …' : ''})`,
    );
  const set = (v: unknown) => (v === '' || v === null ? undefined : v);
  return applicaties.map((a): ApplicatiePlanEntry => {
    const uuid =
      typeof a.fields.uuid === 'string' && UUID.test(a.fields.uuid) ? a.fields.uuid.toLowerCase() : undefined;
    const entry: ApplicatiePlanEntry = {
      source: `${APPLICATIE} pk ${a.pk === undefined ? '?' : cleanText(a.pk, 40)}`,
      uuid,
      body: {
        clientIds: a.clientIds,
        label: a.fields.label,
        heeftAlleAutorisaties: a.fields.heeft_alle_autorisaties ?? false,
        autorisaties: a.autorisaties.map(({ fields }) => ({
          component: fields.component,
          scopes: fields.scopes,
          zaaktype: set(fields.zaaktype),
          informatieobjecttype: set(fields.informatieobjecttype),
          besluittype: set(fields.besluittype),
          maxVertrouwelijkheidaanduiding: set(fields.max_vertrouwelijkheidaanduiding),
        })),
        alleenIsGereedVoorPublicatie: a.fields.alleen_is_gereed_voor_publicatie ?? false,
      },
      autorisatieSources: a.autorisaties.map(({ pk }) => `${AUTORISATIE} pk ${cleanText(pk, 40)}`),
      notes: uuid ? [] : ['no uuid in the file: it gets a new one here'],
    };
    // A dump without autorisatie records would turn each such applicatie into one without rights.
    if (autorisaties.length === 0 && a.fields.heeft_alle_autorisaties !== true)
      entry.refused = `its autorisaties are not in the file (it holds no ${AUTORISATIE} records): dump them too, manage.py dumpdata ${JWT_SECRET} ${APPLICATIE} ${AUTORISATIE}`;
    return entry;
  });
}
