/**
 * The ZGW Autorisaties API's data (AC, standard version 1.0, with the field 1.1 adds): per
 * applicatie the client ids it is known by and what it may do in each ZGW component.
 */

/** The components an autorisatie can be about (the standard's `component` enum). */
export const COMPONENTS = ['ac', 'nrc', 'zrc', 'ztc', 'drc', 'brc'] as const;
export type Component = (typeof COMPONENTS)[number];

/** The description the standard's `componentWeergave` gives each component. */
export const COMPONENT_NAMES: Record<Component, string> = {
  ac: 'Autorisatiecomponent',
  nrc: 'Notificatierouteringcomponent',
  zrc: 'Zaakregistratiecomponent',
  ztc: 'Zaaktypecatalogus',
  drc: 'Documentregistratiecomponent',
  brc: 'Besluitregistratiecomponent',
};

/** The eight levels of vertrouwelijkheidaanduiding, from open to most secret. */
export const VERTROUWELIJKHEIDAANDUIDINGEN = [
  'openbaar',
  'beperkt_openbaar',
  'intern',
  'zaakvertrouwelijk',
  'vertrouwelijk',
  'confidentieel',
  'geheim',
  'zeer_geheim',
] as const;
export type Vertrouwelijkheidaanduiding = (typeof VERTROUWELIJKHEIDAANDUIDINGEN)[number];

/** The scopes each component's API defines: anything else in an autorisatie of that component is refused. */
export const COMPONENT_SCOPES: Record<Component, readonly string[]> = {
  zrc: [
    'zaken.lezen',
    'zaken.aanmaken',
    'zaken.bijwerken',
    'zaken.statussen.toevoegen',
    'zaken.verwijderen',
    'zaken.heropenen',
    'zaken.geforceerd-bijwerken',
    'audittrails.lezen',
  ],
  drc: [
    'documenten.lezen',
    'documenten.aanmaken',
    'documenten.bijwerken',
    'documenten.verwijderen',
    'documenten.lock',
    'documenten.geforceerd-unlock',
    'documenten.geforceerd-bijwerken',
    'audittrails.lezen',
  ],
  ztc: ['catalogi.lezen', 'catalogi.schrijven', 'catalogi.geforceerd-schrijven', 'catalogi.geforceerd-verwijderen'],
  brc: ['besluiten.lezen', 'besluiten.aanmaken', 'besluiten.bijwerken', 'besluiten.verwijderen', 'audittrails.lezen'],
  nrc: ['notificaties.consumeren', 'notificaties.publiceren'],
  ac: ['autorisaties.lezen', 'autorisaties.bijwerken'],
};

/** The AC's own scopes, decided by the AC's own data for its callers. */
export const SCOPE_AUTORISATIES_LEZEN = 'autorisaties.lezen';
export const SCOPE_AUTORISATIES_BIJWERKEN = 'autorisaties.bijwerken';

/** One autorisatie: a component, its scopes and the fields that component uses. */
export interface Autorisatie {
  component: Component;
  scopes: string[];
  /** zrc: the zaaktype URL the scopes hold for. */
  zaaktype?: string;
  /** drc: the informatieobjecttype URL. */
  informatieobjecttype?: string;
  /** brc: the besluittype URL. */
  besluittype?: string;
  /** zrc, drc: the most confidential level the scopes reach (inclusive). */
  maxVertrouwelijkheidaanduiding?: Vertrouwelijkheidaanduiding;
}

/** The fields an applicatie is written with (POST, PUT; PATCH gives some of them). */
export interface ApplicatieInput {
  clientIds: string[];
  label: string;
  heeftAlleAutorisaties: boolean;
  autorisaties: Autorisatie[];
  /** Standard version 1.1: only documents whose isGereedVoorPublicatie is true may be read. */
  alleenIsGereedVoorPublicatie: boolean;
}

export interface Applicatie extends ApplicatieInput {
  uuid: string;
  /** RSIN of the organisation of its clients. */
  organisation: string;
  createdAt: number;
  updatedAt: number;
}

/** Which fields of an autorisatie each component keeps (the standard's polymorphic serializer). */
export const COMPONENT_FIELDS: Record<
  Component,
  readonly ('zaaktype' | 'informatieobjecttype' | 'besluittype' | 'maxVertrouwelijkheidaanduiding')[]
> = {
  zrc: ['zaaktype', 'maxVertrouwelijkheidaanduiding'],
  drc: ['informatieobjecttype', 'maxVertrouwelijkheidaanduiding'],
  brc: ['besluittype'],
  nrc: [],
  ztc: [],
  ac: [],
};

/** Whether the applicatie grants `scope` of the AC itself: all rights, or an `ac` autorisatie naming it. */
export function grantsAcScope(applicatie: Pick<Applicatie, 'heeftAlleAutorisaties' | 'autorisaties'>, scope: string) {
  return (
    applicatie.heeftAlleAutorisaties ||
    applicatie.autorisaties.some((a) => a.component === 'ac' && a.scopes.includes(scope))
  );
}

/** An applicatie in the standard's JSON shape, without its `url` (the API adds it; the CLI prints it with its uuid). */
export function applicatieBody(a: Applicatie) {
  return {
    clientIds: a.clientIds,
    label: a.label,
    heeftAlleAutorisaties: a.heeftAlleAutorisaties,
    autorisaties: a.autorisaties.map((x) => {
      const out: Record<string, unknown> = {
        component: x.component,
        componentWeergave: COMPONENT_NAMES[x.component],
        scopes: x.scopes,
      };
      for (const field of COMPONENT_FIELDS[x.component]) if (x[field] !== undefined) out[field] = x[field];
      return out;
    }),
    alleenIsGereedVoorPublicatie: a.alleenIsGereedVoorPublicatie,
  };
}
