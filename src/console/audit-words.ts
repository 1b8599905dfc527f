import type { AuditEvent } from '../audit/audit-store.js';
import { formatDuration, formatTime } from './format.js';
import { html, type SafeHtml } from './html.js';
import { fill, type Lang } from './messages.js';
import { type OrganisationNames } from './organisation-names.js';

/** What the audit page says about an event: one sentence, the changed fields, and the raw event behind a click. */
const WORDS = {
  nl: {
    created: '{actor} maakte client {target} aan voor {org}.',
    updated: '{actor} wijzigde client {target}.',
    enabled: '{actor} schakelde client {target} in.',
    disabled: '{actor} schakelde client {target} uit.',
    deleted: '{actor} verwijderde client {target} (van {org}).',
    moved: '{actor} verplaatste client {target} van {from} naar {to}.',
    secretCreated: '{actor} maakte geheim {secret} ({label}) aan voor client {target}.',
    secretImported: '{actor} importeerde geheim {secret} ({label}) voor client {target}.',
    secretRevoked: '{actor} trok geheim {secret} ({label}) van client {target} in.',
    tokenIssued: 'Client {target} kreeg een token, geldig {lifetime}, met scope {scope}.',
    tokenIssuedNoScope: 'Client {target} kreeg een token, geldig {lifetime}, zonder scope.',
    tokenRevoked: 'Het token van {target} werd ingetrokken{why}.',
    whyConsole: ' (consolesessie beëindigd: {why})',
    authFailed: 'Aanmelding als {target} mislukt: {reason}.',
    authFailedRepeated: 'Aanmelding als {target} mislukt: {reason} ({count} keer).',
    keyRotated: '{actor} maakte sleutel {target}; die ondertekent vanaf {at}.',
    clientKeyAdded: '{actor} registreerde publieke sleutel {kid} (vingerafdruk {thumbprint}) voor client {target}.',
    clientKeyRemoved: '{actor} verwijderde publieke sleutel {kid} (vingerafdruk {thumbprint}) van client {target}.',
    clientKeyExpiring:
      'Het certificaat van publieke sleutel {kid} (vingerafdruk {thumbprint}) van client {target} verloopt op {at}.',
    secretExpiring: 'Geheim {secret} van client {target} verloopt op {at}.',
    orgCreated: '{actor} registreerde organisatie {org}.',
    orgCreatedEnsured:
      'Organisatie {org} werd geregistreerd bij het aanmaken of verplaatsen van een client door {actor}.',
    orgUpdated: '{actor} wijzigde organisatie {org}.',
    orgEnabled: '{actor} schakelde organisatie {org} in.',
    orgDisabled: '{actor} schakelde organisatie {org} uit.',
    other: '{actor}: {action} ({target}).',
    noLabel: 'zonder label',
    empty: '(leeg)',
    yes: 'ja',
    no: 'nee',
    none: 'geen',
  },
  en: {
    created: '{actor} created client {target} for {org}.',
    updated: '{actor} changed client {target}.',
    enabled: '{actor} enabled client {target}.',
    disabled: '{actor} disabled client {target}.',
    deleted: '{actor} deleted client {target} (of {org}).',
    moved: '{actor} moved client {target} from {from} to {to}.',
    secretCreated: '{actor} created secret {secret} ({label}) for client {target}.',
    secretImported: '{actor} imported secret {secret} ({label}) for client {target}.',
    secretRevoked: '{actor} revoked secret {secret} ({label}) of client {target}.',
    tokenIssued: 'Client {target} got a token, valid {lifetime}, with scope {scope}.',
    tokenIssuedNoScope: 'Client {target} got a token, valid {lifetime}, without scope.',
    tokenRevoked: 'The token of {target} was revoked{why}.',
    whyConsole: ' (console session ended: {why})',
    authFailed: 'Authentication as {target} failed: {reason}.',
    authFailedRepeated: 'Authentication as {target} failed: {reason} ({count} times).',
    keyRotated: '{actor} created key {target}; it signs from {at}.',
    clientKeyAdded: '{actor} registered public key {kid} (thumbprint {thumbprint}) for client {target}.',
    clientKeyRemoved: '{actor} removed public key {kid} (thumbprint {thumbprint}) of client {target}.',
    clientKeyExpiring:
      'The certificate of public key {kid} (thumbprint {thumbprint}) of client {target} expires on {at}.',
    secretExpiring: 'Secret {secret} of client {target} expires on {at}.',
    orgCreated: '{actor} registered organisation {org}.',
    orgCreatedEnsured: 'Organisation {org} was registered when {actor} created or moved a client.',
    orgUpdated: '{actor} changed organisation {org}.',
    orgEnabled: '{actor} enabled organisation {org}.',
    orgDisabled: '{actor} disabled organisation {org}.',
    other: '{actor}: {action} ({target}).',
    noLabel: 'no label',
    empty: '(empty)',
    yes: 'yes',
    no: 'no',
    none: 'none',
  },
} satisfies Record<Lang, Record<string, string>>;

/** Why a client failed to authenticate, and why a console session ended, in words. */
const REASONS: Record<Lang, Record<string, string>> = {
  nl: {
    unknown_client: 'onbekend client-id',
    wrong_secret: 'onjuist geheim',
    revoked_secret: 'ingetrokken geheim',
    expired_secret: 'verlopen geheim',
    disabled_client: 'client is uitgeschakeld',
    disabled_organisation: 'organisatie is uitgeschakeld',
    bad_signature: 'onjuiste handtekening',
    self_signed_not_allowed: 'client mag niet zelf ondertekenen',
    method_not_allowed: 'aanmeldmethode niet toegestaan',
    bad_assertion: 'ongeldige client assertion',
    replayed_assertion: 'client assertion opnieuw gebruikt',
    unknown_key: 'onbekende sleutel',
    untrusted_chain: 'certificaat niet vertrouwd',
    certificate_mismatch: 'certificaat hoort niet bij de client',
    signed_out: 'afgemeld',
    idle: 'te lang niets gedaan',
    expired: 'maximale duur bereikt',
    evicted: 'te veel sessies van deze client',
  },
  en: {
    unknown_client: 'unknown client id',
    wrong_secret: 'wrong secret',
    revoked_secret: 'revoked secret',
    expired_secret: 'expired secret',
    disabled_client: 'client is disabled',
    disabled_organisation: 'organisation is disabled',
    bad_signature: 'wrong signature',
    self_signed_not_allowed: 'client may not sign its own tokens',
    method_not_allowed: 'authentication method not allowed',
    bad_assertion: 'invalid client assertion',
    replayed_assertion: 'client assertion used again',
    unknown_key: 'unknown key',
    untrusted_chain: 'certificate not trusted',
    certificate_mismatch: "certificate is not the client's",
    signed_out: 'signed out',
    idle: 'idle too long',
    expired: 'maximum duration reached',
    evicted: 'too many sessions of this client',
  },
};

/** The fields of a client or organisation as the audit page names them. */
const FIELDS: Record<Lang, Record<string, string>> = {
  nl: {
    rsin: 'Organisatie',
    name: 'Naam',
    description: 'Omschrijving',
    allowedScopes: 'Toegestane scopes',
    defaultScopes: 'Standaardscopes',
    staticClaims: 'Vaste claims',
    tokenLifetime: 'Levensduur van tokens',
    selfSignedAllowed: 'Zelf ondertekenen',
    enabled: 'Actief',
    grantTypes: 'Grant types',
    authMethods: 'Aanmeldmethoden',
    jwksUri: 'jwks_uri',
    tlsSubject: 'Certificaatonderwerp',
    oin: 'OIN',
  },
  en: {
    rsin: 'Organisation',
    name: 'Name',
    description: 'Description',
    allowedScopes: 'Allowed scopes',
    defaultScopes: 'Default scopes',
    staticClaims: 'Static claims',
    tokenLifetime: 'Token lifetime',
    selfSignedAllowed: 'Self-signing',
    enabled: 'Enabled',
    grantTypes: 'Grant types',
    authMethods: 'Authentication methods',
    jwksUri: 'jwks_uri',
    tlsSubject: 'Certificate subject',
    oin: 'OIN',
  },
};

export function reasonInWords(lang: Lang, reason: string | null): string {
  return reason === null ? '—' : (REASONS[lang][reason] ?? reason);
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const text = (v: unknown, max = 100) =>
  typeof v === 'string' ? v.slice(0, max) : typeof v === 'number' ? String(v) : '';

/** One field change: the field's name, what it was and what it became. */
export interface FieldChange {
  field: string;
  from: string;
  to: string;
}

function valueInWords(lang: Lang, field: string, v: unknown): string {
  const w = WORDS[lang];
  if (v === undefined || v === null || v === '') return w.empty;
  if (Array.isArray(v)) return v.length ? v.map((x) => text(x)).join(' ') : w.none;
  if (typeof v === 'boolean') return v ? w.yes : w.no;
  if (field === 'tokenLifetime' && typeof v === 'number') return formatDuration(lang, v);
  if (typeof v === 'object') return JSON.stringify(v).slice(0, 200);
  return String(v).slice(0, 200);
}

/** The fields that differ between `before` and `after` (timestamps and internal fields left out). */
export function changesOf(lang: Lang, details: Obj): FieldChange[] {
  const before = obj(details.before);
  const after = obj(details.after);
  if (!Object.keys(before).length || !Object.keys(after).length) return [];
  const names = FIELDS[lang];
  return Object.keys(names)
    .filter((k) => (k in before || k in after) && JSON.stringify(before[k]) !== JSON.stringify(after[k]))
    .map((k) => ({ field: names[k]!, from: valueInWords(lang, k, before[k]), to: valueInWords(lang, k, after[k]) }));
}

type Phrase = keyof (typeof WORDS)['nl'];
/** Events told by one phrase about the actor, the client and its organisation or secret. */
const SIMPLE: Record<string, Phrase> = {
  'client.created': 'created',
  'client.updated': 'updated',
  'client.enabled': 'enabled',
  'client.disabled': 'disabled',
  'client.deleted': 'deleted',
  'secret.created': 'secretCreated',
  'secret.imported': 'secretImported',
  'secret.revoked': 'secretRevoked',
};
/** Events about an organisation, the event's target. */
const ORGANISATION: Record<string, Phrase> = {
  'organisation.updated': 'orgUpdated',
  'organisation.enabled': 'orgEnabled',
  'organisation.disabled': 'orgDisabled',
};

/** The event in one sentence. */
export function sentenceOf(lang: Lang, e: AuditEvent, names: OrganisationNames): string {
  const w = WORDS[lang];
  const d = obj(e.details);
  const orgOf = (rsin: unknown) => {
    const r = text(rsin, 20);
    const name = names.get(r);
    return name ? `${name} (${r})` : r || '—';
  };
  const secret = obj(d.after);
  const v = {
    actor: e.actor,
    target: e.target,
    org: orgOf(e.organisation ?? obj(d.after).rsin ?? obj(d.before).rsin),
    secret: text(secret.secretId),
    label: text(secret.label) || w.noLabel,
  };
  const simple = SIMPLE[e.action];
  if (simple) return fill(w[simple], v);
  const organisation = ORGANISATION[e.action];
  if (organisation) return fill(w[organisation], { ...v, org: orgOf(e.target) });
  switch (e.action) {
    case 'client.moved':
      return fill(w.moved, { ...v, from: orgOf(d.from), to: orgOf(d.to) });
    case 'token.issued': {
      const lifetime = typeof d.expiresIn === 'number' ? formatDuration(lang, d.expiresIn) : '—';
      return text(d.scope, 300)
        ? fill(w.tokenIssued, { ...v, lifetime, scope: text(d.scope, 300) })
        : fill(w.tokenIssuedNoScope, { ...v, lifetime });
    }
    case 'token.revoked':
      return fill(w.tokenRevoked, {
        ...v,
        why: d.via === 'console' ? fill(w.whyConsole, { why: reasonInWords(lang, text(d.why) || null) }) : '',
      });
    case 'client_auth.failed': {
      const reason = reasonInWords(lang, e.reason ?? (text(d.reason) || null));
      return typeof d.count === 'number' && d.count > 1
        ? fill(w.authFailedRepeated, { ...v, reason, count: d.count })
        : fill(w.authFailed, { ...v, reason });
    }
    case 'key.rotated':
      return fill(w.keyRotated, {
        ...v,
        at: typeof d.activatesAt === 'number' ? formatTime(lang, d.activatesAt) : '—',
      });
    case 'client_key.added':
    case 'client_key.removed':
      return fill(e.action === 'client_key.added' ? w.clientKeyAdded : w.clientKeyRemoved, {
        ...v,
        kid: text(d.kid, 200),
        thumbprint: text(d.thumbprint, 43),
      });
    case 'client_key.expiring':
      return fill(w.clientKeyExpiring, {
        ...v,
        kid: text(d.kid, 200),
        thumbprint: text(d.thumbprint, 43),
        at: typeof d.expiresAt === 'number' ? formatTime(lang, d.expiresAt) : '—',
      });
    case 'secret.expiring':
      return fill(w.secretExpiring, {
        ...v,
        secret: text(d.secretId, 40),
        at: typeof d.expiresAt === 'number' ? formatTime(lang, d.expiresAt) : '—',
      });
    case 'organisation.created':
      return fill(d.ensured ? w.orgCreatedEnsured : w.orgCreated, { ...v, org: orgOf(e.target) });
    default:
      return fill(w.other, { ...v, action: e.action });
  }
}

/** The details cell: the sentence, the changes as "field: from → to", and the raw event one click away (no script needed). */
export function describeEvent(lang: Lang, e: AuditEvent, names: OrganisationNames, rawLabel: string): SafeHtml {
  const changes = changesOf(lang, obj(e.details));
  return html`<p class="utrecht-paragraph console-event">${sentenceOf(lang, e, names)}</p>
    ${
      changes.length
        ? html`<ul class="console-changes">
            ${changes.map((c) => html`<li><span class="console-change-field">${c.field}:</span> <del>${c.from}</del> → <ins>${c.to}</ins></li>`)}
          </ul>`
        : ''
    }
    <details class="console-raw">
      <summary>${rawLabel}</summary>
      <pre class="console-pre">${JSON.stringify(e, null, 2).slice(0, 20_000)}</pre>
    </details>`;
}
