import type { Actor, ClientService } from '../clients/client-service.js';
import { checkImportedSecret, SECRET_STRENGTH_RULE } from '../clients/secrets.js';
import { validateClientFields, validateClientId } from '../clients/validate.js';
import { NotFoundError, ZgwAuthError } from '../errors.js';
import type { ImportEntry, MigrationPlan, MigrationSource, PlanEntry } from './migration-plan.js';

export interface ApplyOptions {
  /** Check everything and report, change nothing. */
  dryRun: boolean;
  /** Keep weak secrets of self-signing clients (marked weak, shown as a risk) instead of refusing the client. */
  allowWeakSecrets: boolean;
  actor: Actor;
  /** The server's token lifetime settings, to say what an imported lifetime becomes. */
  tokenLifetime: number;
  maxTokenLifetime: number;
}

/** imported: created as the source had it; skipped: nothing to do; attention: the operator must look (created or not, see `created`). */
export type ReportStatus = 'imported' | 'skipped' | 'attention';

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
}

/**
 * Carries out a migration plan through the client registry: each client is created with its
 * secrets in one step, or not at all; a client that exists is left as it is, so running again
 * changes nothing. A dry run makes the same checks and reads, and writes nothing.
 */
export async function applyMigrationPlan(clients: ClientService, plan: MigrationPlan, options: ApplyOptions): Promise<MigrationReport> {
  const reported: ReportEntry[] = [];
  for (const entry of plan.entries) reported.push(await applyEntry(clients, entry, options));
  const notes = [...plan.notes];
  if (plan.realmTokenLifespan !== undefined && plan.realmTokenLifespan !== options.tokenLifetime) {
    notes.push(`Keycloak's realm gave tokens of ${plan.realmTokenLifespan} s to clients without their own lifespan; this server gives ${options.tokenLifetime} s (ZGW_AUTH_TOKEN_LIFETIME)`);
  }
  const count = (status: ReportStatus) => reported.filter((r) => r.status === status).length;
  return {
    source: plan.source,
    dryRun: options.dryRun,
    summary: { imported: count('imported'), skipped: count('skipped'), attention: count('attention'), created: reported.filter((r) => r.created).length },
    clients: reported,
    notes,
  };
}

async function applyEntry(clients: ClientService, entry: PlanEntry, options: ApplyOptions): Promise<ReportEntry> {
  const base = { clientId: entry.clientId, created: false, secrets: [], notes: [] };
  if (entry.action === 'skip') return { ...base, status: 'skipped', reasons: [entry.reason] };
  if (entry.action === 'refuse') return { ...base, status: 'attention', reasons: [entry.reason] };
  const refused = (reason: string): ReportEntry => ({ ...base, status: 'attention', reasons: [reason], notes: entry.notes });
  try {
    validateClientId(entry.clientId);
  } catch (err) {
    return refused(`not imported: ${(err as Error).message}`);
  }
  const existing = await existingClient(clients, entry);
  if (existing) return existing;
  const { client } = entry;
  try {
    validateClientFields(client);
  } catch (err) {
    return refused(`not imported: ${(err as Error).message}`);
  }

  const reasons = [...entry.attention];
  for (const secret of entry.secrets) {
    let check: { warnings: string[]; weak: boolean };
    try {
      check = checkImportedSecret(secret.value);
    } catch (err) {
      return refused(`not imported: ${secret.label} secret: ${(err as Error).message}`);
    }
    if (check.weak && client.selfSignedAllowed && !options.allowWeakSecrets) {
      return refused(
        `not imported: weak ${secret.label} secret (${check.warnings.join('; ')}) refused for a self-signing client, whose HS256 tokens let anyone test guesses offline: ${SECRET_STRENGTH_RULE}. ` +
          'Run again with --allow-weak-secrets to keep it (marked weak, shown as a risk on the client), or give the consumer a generated secret',
      );
    }
    if (check.weak && client.selfSignedAllowed) reasons.push(`weak ${secret.label} secret kept as allowed (${check.warnings.join('; ')}): the client shows risk weak_secret until it is replaced`);
    else if (check.weak) reasons.push(`weak ${secret.label} secret (${check.warnings.join('; ')}): accepted at /token only, where guessing is backed off; replace it when you can`);
    if (/[^\x20-\x7e]/.test(secret.value)) reasons.push(`${secret.label} secret has non-ASCII characters: some client libraries refuse to send them (HTTP Basic); check each consumer`);
  }
  const notes = [...entry.notes];
  if (client.tokenLifetime !== null && client.tokenLifetime > options.maxTokenLifetime) {
    notes.push(`token lifetime ${client.tokenLifetime} s is capped at ${options.maxTokenLifetime} s (ZGW_AUTH_MAX_TOKEN_LIFETIME)`);
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
      secrets: entry.secrets.map((s) => ({ value: s.value, label: s.label, expiresAt: s.expiresAt, allowWeak: options.allowWeakSecrets })),
    });
  } catch (err) {
    // Checked above; what is left is a change made meanwhile (the same client created by someone else).
    if (err instanceof ZgwAuthError) return refused(`not imported: ${err.message}`);
    throw err;
  }
  return planned;
}

/** A client that is already registered is left as it is; it needs attention only when a secret from the file is not one of its secrets. */
async function existingClient(clients: ClientService, entry: ImportEntry): Promise<ReportEntry | undefined> {
  try {
    await clients.get(entry.clientId);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
  const missing: string[] = [];
  for (const secret of entry.secrets) if (!(await clients.hasSecret(entry.clientId, secret.value))) missing.push(secret.label);
  const base = { clientId: entry.clientId, created: false, secrets: [], notes: [] };
  if (!missing.length) return { ...base, status: 'skipped', reasons: ['exists: left as it is'] };
  return {
    ...base,
    status: 'attention',
    reasons: [`exists: left as it is, but its ${missing.join(' and ')} secret from the file is not one of its secrets; consumers sending it will fail (add it with secrets add --import-stdin)`],
  };
}
