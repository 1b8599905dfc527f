/**
 * What a migration source (a Keycloak realm export, an Open Zaak dump) says should happen, before
 * anything is checked against the registry: one entry per client the file names. The parsers
 * produce it without side effects; applyMigrationPlan checks it and carries it out (or, in a dry
 * run, only says what it would do).
 */
export interface MigrationPlan {
  source: MigrationSource;
  entries: PlanEntry[];
  /** Open Zaak (and another Autorisaties API): the applicaties, carried out after the clients. */
  applicaties?: ApplicatiePlanEntry[];
  /** About the file as a whole (e.g. ignored records), for the report. */
  notes: string[];
  /** Keycloak: the realm's access token lifespan in seconds, which clients without their own used. */
  realmTokenLifespan?: number;
}

/** imported: created as the source had it; skipped: nothing to do; attention: the operator must look (created or not, see `created`). */
export type ReportStatus = 'imported' | 'skipped' | 'attention';

export type MigrationSource = 'keycloak' | 'open-zaak' | 'autorisaties-api';

export type PlanEntry = SkipEntry | RefuseEntry | ImportEntry;

/** Not a client to migrate (built-in, public, …): reported with the reason, nothing to do. */
export interface SkipEntry {
  action: 'skip';
  clientId: string;
  reason: string;
}

/** A client that cannot be migrated as it is: reported as needing attention, not created. */
export interface RefuseEntry {
  action: 'refuse';
  clientId: string;
  reason: string;
}

export interface ImportEntry {
  action: 'import';
  clientId: string;
  client: PlannedClient;
  /** Created with exactly these; none leaves the client without a secret (then it is disabled). */
  secrets: PlannedSecret[];
  /** Findings that make this client need attention although it is created. */
  attention: string[];
  /** Information only: what the source had that is not carried over, and why that is fine. */
  notes: string[];
}

export interface PlannedClient {
  name: string;
  description: string;
  rsin: string;
  enabled: boolean;
  /** Seconds; null: the server's default. */
  tokenLifetime: number | null;
  staticClaims: Record<string, unknown>;
  selfSignedAllowed: boolean;
}

export interface PlannedSecret {
  /** Never printed, logged or reported. */
  value: string;
  label: string;
  /** Epoch ms; null: does not expire. */
  expiresAt: number | null;
}

/** Keycloak's placeholder for a secret that a partial export from the console leaves out. */
export const MASKED_SECRET = '**********';

/**
 * A string from the source, cut to `max` characters, without control characters (C0, DEL, C1),
 * bidi controls or zero-width characters, which would change how lists show it: for names and descriptions.
 */
export function cleanText(value: string, max: number): string {
  return value
    .replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g, ' ')
    .slice(0, max);
}

/**
 * One applicatie of the source, in the Autorisaties API's own JSON shape (`body`: clientIds,
 * label, heeftAlleAutorisaties, autorisaties, alleenIsGereedVoorPublicatie), not yet checked: the
 * API's own validation judges it when the plan is carried out, so that a migrated applicatie meets
 * exactly the rules of one made through the API.
 */
export interface ApplicatiePlanEntry {
  /** Where it is in the source, for the report: `authorizations.applicatie pk 2`, its URL. */
  source: string;
  /** Its uuid in the source, kept here (undefined: the source had none, a new one is made). */
  uuid: string | undefined;
  body: Record<string, unknown>;
  /** Per autorisatie of `body`, where it is in the source (named in a refusal instead of its index). */
  autorisatieSources: string[];
  /** Set when the source's record itself cannot be read as an applicatie: reported, not imported. */
  refused?: string;
  notes: string[];
}

/** A uuid as the Autorisaties API writes them. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
