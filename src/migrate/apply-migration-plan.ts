import type { Actor, ClientService } from '../clients/client-service.js';
import { type Client, FIRST_ADMIN_CLIENT_ID, MAX_EPOCH_MS, usesSecrets } from '../clients/model.js';
import { isLive } from '../clients/secret-lifecycle.js';
import { checkImportedSecret, SECRET_STRENGTH_RULE } from '../clients/secrets.js';
import { CLIENT_ID_RULE, validateClientFields, validateClientId, validateSecretLabel } from '../clients/validate.js';
import { NotFoundError, ValidationError, ZgwAuthError } from '../errors.js';
import type { ApplicatieMigrationReport } from './apply-applicatie-migration.js';
import type {
  ImportEntry,
  MigrationPlan,
  MigrationSource,
  PlanEntry,
  PlannedSecret,
  ReportStatus,
} from './migration-plan.js';

export interface ApplyOptions {
  /** Check everything and report, change nothing. */
  dryRun: boolean;
  /** Keep weak secrets of self-signing clients (marked weak, shown as a risk) instead of refusing the client. */
  allowWeakSecrets: boolean;
  actor: Actor;
  /** The server's token lifetime settings, to say what an imported lifetime becomes. */
  tokenLifetime: number;
  maxTokenLifetime: number;
  /** Epoch ms; the clock the registry checks expiry times against (default: Date.now). */
  now?: () => number;
}

export type { ReportStatus } from './migration-plan.js';

export interface ReportEntry {
  clientId: string;
  status: ReportStatus;
  /** Created by this run (in a dry run: would be). */
  created: boolean;
  name?: string;
  rsin?: string;
  enabled?: boolean;
  selfSigned?: boolean;
  /** Labels of the secrets it is created with, never their values. */
  secrets: string[];
  /** Why it is skipped or needs attention. */
  reasons: string[];
  /** Information only. */
  notes: string[];
}

export interface MigrationReport {
  source: MigrationSource;
  dryRun: boolean;
  summary: { imported: number; skipped: number; attention: number; created: number };
  clients: ReportEntry[];
  notes: string[];
  /** Open Zaak and another Autorisaties API: the applicaties, migrated after the clients. */
  applicaties?: ApplicatieMigrationReport;
}

/**
 * Carries out a migration plan through the client registry: each client is created with its
 * secrets in one step, or not at all; a client that exists is left as it is, so running again
 * changes nothing. A dry run makes the same checks and reads, and writes nothing: every check the
 * registry makes on a create is made here first, with the registry's own rules, so that a dry run
 * reports what the run does.
 */
export async function applyMigrationPlan(
  clients: ClientService,
  plan: MigrationPlan,
  options: ApplyOptions,
): Promise<MigrationReport> {
  const reported: ReportEntry[] = [];
  for (const entry of plan.entries) reported.push(await applyEntry(clients, entry, options));
  const notes = [...plan.notes];
  if (plan.realmTokenLifespan !== undefined && plan.realmTokenLifespan !== options.tokenLifetime) {
    notes.push(
      `Keycloak's realm gave tokens of ${plan.realmTokenLifespan} s to clients without their own lifespan; this server gives ${options.tokenLifetime} s (ZGW_AUTH_TOKEN_LIFETIME)`,
    );
  }
  const count = (status: ReportStatus) => reported.filter((r) => r.status === status).length;
  return {
    source: plan.source,
    dryRun: options.dryRun,
    summary: {
      imported: count('imported'),
      skipped: count('skipped'),
      attention: count('attention'),
      created: reported.filter((r) => r.created).length,
    },
    clients: reported,
    notes,
  };
}

async function applyEntry(clients: ClientService, entry: PlanEntry, options: ApplyOptions): Promise<ReportEntry> {
  const base = { clientId: entry.clientId, created: false, secrets: [], notes: [] };
  if (entry.action === 'skip') return { ...base, status: 'skipped', reasons: [entry.reason] };
  if (entry.action === 'refuse') return { ...base, status: 'attention', reasons: [entry.reason] };
  const refused = (reason: string): ReportEntry => ({
    ...base,
    status: 'attention',
    reasons: [reason],
    notes: entry.notes,
  });
  try {
    validateClientId(entry.clientId);
  } catch {
    // The report shows the id; the registry's message would quote it once more.
    const controls = /[\u0000-\u001f\u007f-\u009f]/.test(entry.clientId) ? ', and it holds control characters' : '';
    return refused(`not imported: not a valid client id (${CLIENT_ID_RULE})${controls}`);
  }
  if (entry.clientId === FIRST_ADMIN_CLIENT_ID) {
    return {
      ...base,
      status: 'skipped',
      reasons: ["zgw-auth's own administrator client: never created or given a secret from a file"],
    };
  }
  const existing = await existingClient(clients, entry, options);
  if (existing) return existing;
  const { client } = entry;
  try {
    validateClientFields(client);
  } catch (err) {
    return refused(`not imported: ${(err as Error).message}`);
  }

  const reasons = [...entry.attention];
  const now = (options.now ?? Date.now)();
  for (const secret of entry.secrets) {
    let check: { warnings: string[]; weak: boolean };
    try {
      check = checkImportedSecret(secret.value);
      validateSecretLabel(secret.label);
      validateExpiry(secret, now);
    } catch (err) {
      return refused(`not imported: ${secret.label} secret: ${(err as Error).message}`);
    }
    if (check.weak && client.selfSignedAllowed && !options.allowWeakSecrets) {
      return refused(
        `not imported: weak ${secret.label} secret (${check.warnings.join('; ')}) refused for a self-signing client, whose HS256 tokens let anyone test guesses offline: ${SECRET_STRENGTH_RULE}. ` +
          'Run again with --allow-weak-secrets to keep it (marked weak, shown as a risk on the client), or give the consumer a generated secret',
      );
    }
    if (check.weak && client.selfSignedAllowed)
      reasons.push(
        `weak ${secret.label} secret kept as allowed (${check.warnings.join('; ')}): the client shows risk weak_secret until it is replaced`,
      );
    else if (check.weak)
      reasons.push(
        `weak ${secret.label} secret (${check.warnings.join('; ')}): accepted at /token only, where guessing is backed off; replace it when you can`,
      );
    if (/[^\x20-\x7e]/.test(secret.value))
      reasons.push(
        `${secret.label} secret has non-ASCII characters: some client libraries refuse to send them (HTTP Basic); check each consumer`,
      );
  }
  const notes = [...entry.notes];
  if (client.tokenLifetime !== null && client.tokenLifetime > options.maxTokenLifetime) {
    notes.push(
      `token lifetime ${client.tokenLifetime} s is capped at ${options.maxTokenLifetime} s (ZGW_AUTH_MAX_TOKEN_LIFETIME)`,
    );
  }
  const planned: ReportEntry = {
    clientId: entry.clientId,
    status: reasons.length ? 'attention' : 'imported',
    created: true,
    name: client.name,
    rsin: client.rsin,
    enabled: client.enabled,
    selfSigned: client.selfSignedAllowed,
    secrets: entry.secrets.map((s) => s.label),
    reasons,
    notes,
  };
  if (options.dryRun) return planned;
  try {
    await clients.create({ clientId: entry.clientId, ...client }, options.actor, {
      secrets: entry.secrets.map((s) => ({
        value: s.value,
        label: s.label,
        expiresAt: s.expiresAt,
        allowWeak: options.allowWeakSecrets,
      })),
    });
  } catch (err) {
    // Checked above; what is left is a change made meanwhile (the same client created by someone else).
    if (err instanceof ZgwAuthError) return refused(`not imported: ${err.message}`);
    throw err;
  }
  return planned;
}

/** The registry's rule for a secret's expiry (ClientService checks it on create): whole ms, in the future, before the year 10000. */
function validateExpiry(secret: PlannedSecret, now: number): void {
  const t = secret.expiresAt;
  if (t === null) return;
  if (!Number.isInteger(t) || t > MAX_EPOCH_MS)
    throw new ValidationError(
      'its expiry time in the file is after the year 9999, which zgw-auth does not accept: remove or correct it in the source',
    );
  if (t <= now) throw new ValidationError(`it expired at ${new Date(t).toISOString()}: give the consumer a new one`);
}

/** The fields of an existing client that decide what its tokens are, as the file would have them. */
function differences(existing: Client, entry: ImportEntry): string[] {
  const planned = entry.client;
  const yesNo = (v: boolean) => (v ? 'yes' : 'no');
  const lifetime = (v: number | null) => (v === null ? "the server's default" : `${v} s`);
  const found: string[] = [];
  if (existing.rsin !== planned.rsin) found.push(`rsin ${existing.rsin} here, ${planned.rsin} in the file`);
  // Without a secret in the file the plan disables the client; that says nothing about the source.
  if (entry.secrets.length && existing.enabled !== planned.enabled) {
    found.push(
      existing.enabled
        ? 'enabled here, disabled in the file'
        : 'disabled here, enabled in the file (consumers get 401 until it is enabled: clients enable)',
    );
  }
  if (existing.selfSignedAllowed !== planned.selfSignedAllowed)
    found.push(
      `self-signing ${yesNo(existing.selfSignedAllowed)} here, ${yesNo(planned.selfSignedAllowed)} in the file`,
    );
  if (existing.tokenLifetime !== planned.tokenLifetime)
    found.push(
      `token lifetime ${lifetime(existing.tokenLifetime)} here, ${lifetime(planned.tokenLifetime)} in the file`,
    );
  const claims = [...new Set([...Object.keys(existing.staticClaims), ...Object.keys(planned.staticClaims)])].filter(
    (name) => canonicalJson(existing.staticClaims[name]) !== canonicalJson(planned.staticClaims[name]),
  );
  if (claims.length) found.push(`static claims ${claims.map((c) => JSON.stringify(c.slice(0, 60))).join(', ')} differ`);
  return found;
}

/** JSON with object keys sorted, to compare claim values regardless of key order. */
function canonicalJson(value: unknown): string {
  return (
    JSON.stringify(value, (_key, v: unknown) =>
      v !== null && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(
            Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
          )
        : v,
    ) ?? 'undefined'
  );
}

/**
 * A client that is already registered is left as it is. It needs attention when it differs from
 * the file in what decides its tokens, or when a secret from the file does not work for it (none
 * of its secrets, or one revoked or expired here). A client holding zgw-auth's own scopes is never
 * advised to take a secret from a file.
 */
async function existingClient(
  clients: ClientService,
  entry: ImportEntry,
  options: ApplyOptions,
): Promise<ReportEntry | undefined> {
  let existing: Client;
  try {
    existing = await clients.get(entry.clientId);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
  const base = { clientId: entry.clientId, created: false, secrets: [], notes: [] };
  const own = existing.allowedScopes.filter((s) => s.startsWith('zgw-auth:'));
  if (own.length)
    return {
      ...base,
      status: 'skipped',
      reasons: [`exists and holds ${own.join(', ')}: left as it is; a secret from a file is never added to it`],
    };
  const reasons: string[] = [];
  const changes = differences(existing, entry);
  if (changes.length)
    reasons.push(
      `exists with other settings than in the file: ${changes.join('; ')}. Left as it is: change it with clients update if the file is right`,
    );
  const now = (options.now ?? Date.now)();
  // Registered here for keys or certificates only: it has no secrets, and takes none from a file.
  if (entry.secrets.length && !usesSecrets(existing)) {
    reasons.push(
      `exists and authenticates without a secret here (${existing.authMethods.join(', ')}): its secret from the file is not one it can use; consumers sending it get 401. Move them to its keys or certificate, or give it a secret method first (clients update --auth-methods) and then the secret (secrets add --import-stdin)`,
    );
    return { ...base, status: 'attention', reasons };
  }
  const missing: string[] = [];
  for (const secret of entry.secrets) {
    const found = await clients.findSecret(entry.clientId, secret.value);
    if (!found) missing.push(secret.label);
    else if (found.revokedAt !== null)
      reasons.push(
        `exists, but its ${secret.label} secret from the file was revoked here at ${isoTime(found.revokedAt)}: consumers still sending it get 401`,
      );
    else if (!isLive(found, now))
      reasons.push(
        `exists, but its ${secret.label} secret from the file expired here at ${isoTime(found.expiresAt!)}: consumers still sending it get 401`,
      );
  }
  if (missing.length) {
    reasons.push(
      `exists: left as it is, but its ${missing.join(' and ')} secret from the file is not one of its secrets; consumers sending it will fail (add it with secrets add --import-stdin)`,
    );
  }
  return reasons.length
    ? { ...base, status: 'attention', reasons }
    : { ...base, status: 'skipped', reasons: ['exists: left as it is'] };
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}
