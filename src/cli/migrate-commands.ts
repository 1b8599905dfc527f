import type { Command } from 'commander';
import { validateRsin } from '../clients/rsin.js';
import { ValidationError } from '../errors.js';
import { applyMigrationPlan, type MigrationReport } from '../migrate/apply-migration-plan.js';
import type { MigrationPlan } from '../migrate/migration-plan.js';
import { parseKeycloakRealm } from '../migrate/parse-keycloak-realm.js';
import { parseOpenZaakDump } from '../migrate/parse-open-zaak-dump.js';
import { readMigrationFile } from '../migrate/read-migration-file.js';
import type { CliContext } from './context.js';
import { displayText, table, terminalSafeJson } from './output.js';

interface MigrateOptions {
  file: string;
  rsin?: string;
  selfSigned?: boolean;
  allowWeakSecrets?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

/** `migrate keycloak` / `migrate open-zaak`: clients and their secrets from the systems zgw-auth replaces. */
export function migrateCommands(program: Command, ctx: CliContext): void {
  const migrate = program
    .command('migrate')
    .description(
      'import clients from Keycloak or Open Zaak with the secrets they have (dry-runnable; running again changes nothing)',
    );
  const common = (cmd: Command) =>
    cmd
      .option(
        '--allow-weak-secrets',
        'keep secrets below the strength rule for self-signing clients (marked weak, shown as a risk) instead of leaving those clients out',
      )
      .option('--dry-run', 'check everything and report what would happen; change nothing')
      .option('--json', 'print the report as JSON');

  common(
    migrate
      .command('keycloak')
      .description(
        "confidential service-account clients of a realm export, with their secrets, rsin mapper, user claims and token lifespan; Keycloak's own, public and bearer-only clients are skipped",
      )
      .requiredOption(
        '--file <path>',
        'realm export: kc.sh export --realm NAME --file realm.json (a partial export from the console masks secrets)',
      )
      .option('--rsin <rsin>', 'organisation of clients without a hardcoded rsin mapper')
      .option(
        '--no-self-signed',
        'imported clients may not sign their own HS256 tokens (secrets then stored hashed only)',
      ),
  ).action(async (o: MigrateOptions, cmd: Command) => {
    if (o.rsin !== undefined) validRsin(o.rsin);
    const data = readMigrationFile(o.file);
    const plan = inFile(o.file, () =>
      parseKeycloakRealm(data, { rsin: o.rsin, selfSigned: o.selfSigned !== false, now: Date.now() }),
    );
    await run(ctx, cmd, plan, o);
  });

  common(
    migrate
      .command('open-zaak')
      .description('every client id with a secret becomes a self-signing client named after its Applicatie')
      .requiredOption(
        '--file <path>',
        'manage.py dumpdata vng_api_common.jwtsecret authorizations.applicatie > dump.json',
      )
      .requiredOption('--rsin <rsin>', 'required: organisation of the imported clients'),
  ).action(async (o: MigrateOptions & { rsin: string }, cmd: Command) => {
    validRsin(o.rsin);
    const data = readMigrationFile(o.file);
    const plan = inFile(o.file, () => parseOpenZaakDump(data, { rsin: o.rsin }));
    await run(ctx, cmd, plan, o);
  });
}

function validRsin(rsin: string): void {
  try {
    validateRsin(rsin);
  } catch (err) {
    throw new ValidationError(`--rsin: ${(err as Error).message}`);
  }
}

/** A shape error names the place in the file (keys from the file among it: shown escaped); this adds the file. */
function inFile(file: string, parse: () => MigrationPlan): MigrationPlan {
  try {
    return parse();
  } catch (err) {
    if (err instanceof ValidationError) throw new ValidationError(`${file}: ${displayText(err.message)}`);
    throw err;
  }
}

async function run(ctx: CliContext, cmd: Command, plan: MigrationPlan, o: MigrateOptions): Promise<void> {
  const report = await ctx.withApp(cmd, (app) =>
    applyMigrationPlan(app.clients, plan, {
      dryRun: o.dryRun === true,
      allowWeakSecrets: o.allowWeakSecrets === true,
      actor: { id: 'cli' },
      tokenLifetime: app.config.tokenLifetime,
      maxTokenLifetime: app.config.maxTokenLifetime,
      now: app.now,
    }),
  );
  ctx.out(o.json ? terminalSafeJson(JSON.stringify(report)) : formatReport(report));
}

/**
 * The report as a table and lists. Every string in it may come from the file (client ids, names,
 * reasons that quote them): each is shown through displayText, so a file cannot send the terminal
 * escape sequences, line breaks or bidi overrides that would rewrite or hide lines of the report.
 */
function formatReport(report: MigrationReport): string {
  const yes = (v: boolean | undefined) => (v === undefined ? '-' : v ? 'yes' : 'no');
  const lines = [
    table(
      ['CLIENT ID', 'RESULT', 'CREATED', 'RSIN', 'ENABLED', 'SELF-SIGNED', 'SECRETS', 'REASON'],
      report.clients.map((c) =>
        [
          c.clientId,
          c.status === 'attention' ? 'ATTENTION' : c.status,
          yes(c.created),
          c.rsin ?? '-',
          yes(c.enabled),
          yes(c.selfSigned),
          c.secrets.join(', ') || '-',
          c.status === 'skipped' ? c.reasons.join('; ') : c.status === 'attention' ? 'see below' : '-',
        ].map(displayText),
      ),
    ),
  ];
  // Loops, not push(...): a large file's report has more lines than a call has room for arguments.
  const attention = report.clients.filter((c) => c.status === 'attention');
  if (attention.length) {
    lines.push('', 'Needs attention:');
    for (const c of attention) {
      lines.push(`  ${displayText(c.clientId)}`);
      for (const r of c.reasons) lines.push(`    - ${displayText(r)}`);
    }
  }
  const notes: string[] = [];
  for (const c of report.clients)
    for (const n of c.notes) notes.push(`  ${displayText(c.clientId)}: ${displayText(n)}`);
  for (const n of report.notes) notes.push(`  ${displayText(n)}`);
  if (notes.length) {
    lines.push('', 'Notes:');
    for (const line of notes) lines.push(line);
  }
  const { imported, skipped, attention: n, created } = report.summary;
  lines.push(
    '',
    `${imported} imported, ${skipped} skipped, ${n} need${n === 1 ? 's' : ''} attention; ${created} client${created === 1 ? '' : 's'} ${report.dryRun ? 'would be created (dry run: nothing was changed)' : 'created'}`,
  );
  return lines.join('\n');
}
