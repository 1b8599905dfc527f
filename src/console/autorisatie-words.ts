import {
  type Autorisatie,
  COMPONENT_FIELDS,
  type Component,
  type Vertrouwelijkheidaanduiding,
} from '../autorisaties/model.js';
import { fill, type Lang, messages } from './messages.js';

/**
 * An autorisatie in words a municipal administrator reads without knowing the standard: "mag zaken
 * lezen en bijwerken van zaaktype X tot en met vertrouwelijk" / "may read and update cases of
 * zaaktype X up to confidential". Scopes are grouped by what they act on.
 */

/** What a scope's first part acts on. */
const OBJECTS: Record<string, Record<Lang, string>> = {
  zaken: { nl: 'zaken', en: 'cases' },
  documenten: { nl: 'documenten', en: 'documents' },
  catalogi: { nl: 'catalogi', en: 'catalogues' },
  besluiten: { nl: 'besluiten', en: 'decisions' },
  notificaties: { nl: 'notificaties', en: 'notifications' },
  autorisaties: { nl: 'autorisaties', en: 'authorisations' },
  audittrails: { nl: 'audittrails', en: 'audit trails' },
};

/** What a scope's rest does. */
const VERBS: Record<string, Record<Lang, string>> = {
  lezen: { nl: 'lezen', en: 'read' },
  aanmaken: { nl: 'aanmaken', en: 'create' },
  bijwerken: { nl: 'bijwerken', en: 'update' },
  verwijderen: { nl: 'verwijderen', en: 'delete' },
  'statussen.toevoegen': { nl: 'van status laten veranderen', en: 'change the status of' },
  heropenen: { nl: 'heropenen', en: 'reopen' },
  'geforceerd-bijwerken': { nl: 'geforceerd bijwerken', en: 'force-update' },
  lock: { nl: 'vergrendelen', en: 'lock' },
  'geforceerd-unlock': { nl: 'geforceerd ontgrendelen', en: 'force-unlock' },
  schrijven: { nl: 'schrijven', en: 'write' },
  'geforceerd-schrijven': { nl: 'geforceerd schrijven', en: 'force-write' },
  'geforceerd-verwijderen': { nl: 'geforceerd verwijderen', en: 'force-delete' },
  consumeren: { nl: 'ontvangen', en: 'receive' },
  publiceren: { nl: 'publiceren', en: 'publish' },
};

export const LEVEL_WORDS: Record<Vertrouwelijkheidaanduiding, Record<Lang, string>> = {
  openbaar: { nl: 'openbaar', en: 'public' },
  beperkt_openbaar: { nl: 'beperkt openbaar', en: 'restricted public' },
  intern: { nl: 'intern', en: 'internal' },
  zaakvertrouwelijk: { nl: 'zaakvertrouwelijk', en: 'case confidential' },
  vertrouwelijk: { nl: 'vertrouwelijk', en: 'confidential' },
  confidentieel: { nl: 'confidentieel', en: 'highly confidential' },
  geheim: { nl: 'geheim', en: 'secret' },
  zeer_geheim: { nl: 'zeer geheim', en: 'top secret' },
};

/** The names of the APIs behind the standard's component codes. */
export const COMPONENT_WORDS: Record<Component, Record<Lang, string>> = {
  zrc: { nl: 'Zaken API', en: 'Zaken API (cases)' },
  drc: { nl: 'Documenten API', en: 'Documenten API (documents)' },
  ztc: { nl: 'Catalogi API', en: 'Catalogi API (catalogues)' },
  brc: { nl: 'Besluiten API', en: 'Besluiten API (decisions)' },
  nrc: { nl: 'Notificaties API', en: 'Notificaties API (notifications)' },
  ac: { nl: 'Autorisaties API', en: 'Autorisaties API (authorisations)' },
};

/** The type field a component's autorisaties hold for, if any. */
export function typeFieldOf(component: Component): 'zaaktype' | 'informatieobjecttype' | 'besluittype' | undefined {
  return COMPONENT_FIELDS[component].find((f) => f !== 'maxVertrouwelijkheidaanduiding');
}

/** A scope alone in words ("zaken lezen" / "read cases"), for a checkbox. */
export function scopeWords(lang: Lang, scope: string): string {
  const dot = scope.indexOf('.');
  const object = OBJECTS[scope.slice(0, dot)]?.[lang] ?? scope.slice(0, dot);
  const verb = VERBS[scope.slice(dot + 1)]?.[lang] ?? scope.slice(dot + 1);
  return lang === 'nl' ? `${object} ${verb}` : `${verb} ${object}`;
}

/** The last path segment of a type URL: what an administrator recognises (the UUID or the name). */
export function lastSegment(url: string): string {
  try {
    const segments = new URL(url).pathname.split('/').filter(Boolean);
    return segments.length ? decodeURIComponent(segments[segments.length - 1]!) : url;
  } catch {
    return url;
  }
}

/** One autorisatie as a sentence, without its type URL spelled out: the caller shows `{type}` as it likes. */
export function autorisatieWords(lang: Lang, a: Autorisatie): { text: string; typeName?: string; typeUrl?: string } {
  const m = messages(lang);
  const and = ` ${m.acAnd} `;
  const join = (words: string[]) =>
    words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')}${and}${words[words.length - 1]}`;
  // Per object, in the order the scopes came: "zaken lezen en bijwerken", "audittrails lezen".
  const byObject = new Map<string, string[]>();
  for (const scope of a.scopes) {
    const dot = scope.indexOf('.');
    const object = scope.slice(0, dot);
    byObject.set(object, [
      ...(byObject.get(object) ?? []),
      VERBS[scope.slice(dot + 1)]?.[lang] ?? scope.slice(dot + 1),
    ]);
  }
  const parts = [...byObject].map(([object, verbs]) => {
    const o = OBJECTS[object]?.[lang] ?? object;
    return lang === 'nl' ? `${o} ${join(verbs)}` : `${join(verbs)} ${o}`;
  });
  let text = `${m.acMay} ${join(parts)}`;
  const field = typeFieldOf(a.component);
  const typeUrl = field ? a[field] : undefined;
  if (field && typeUrl) text += ` ${fill(m.acOfType, { type: `${field} {type}` })}`;
  if (a.maxVertrouwelijkheidaanduiding)
    text += ` ${fill(m.acUpTo, { level: LEVEL_WORDS[a.maxVertrouwelijkheidaanduiding][lang] })}`;
  return typeUrl ? { text, typeName: lastSegment(typeUrl), typeUrl } : { text };
}
