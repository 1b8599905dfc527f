import { validateRsin } from '../clients/rsin.js';
import { ValidationError } from '../errors.js';
import { type Command, InvalidArgumentError } from 'commander';
// The migrations' parsers, readers and appliers are imported by the command that runs them (`await
// import`): every other command, and this one's --help, starts without them.
import type { MigrationReport } from '../migrate/apply-migration-plan.js';
import type { MigrationPlan } from '../migrate/migration-plan.js';
import { CLI_AC_ACTOR } from './autorisaties-commands.js';
import type { CliContext } from './context.js';
import { displayText, table, terminalSafeJson } from './output.js';

interface MigrateOptions {
  file: string;
  rsin?: string;
  selfSigned?: boolean;
  allowWeakSecrets?: boolean;
  dryRun?: boolean;
  json?: boolean;
  /** Open Zaak: false with --no-applicaties. */
  applicaties?: boolean;
}

/** Pages of another Autorisaties API read at most by default: 100,000 applicaties. */
const DEFAULT_MAX_PAGES = 1000;

const pages = (v: string) => {
  if (!/^[1-9]\d{0,5}$/.test(v)) throw new InvalidArgumentError('expected a whole number from 1 to 999999');
  return Number(v);
};

/** `migrate keycloak` / `migrate open-zaak`: clients and their secrets from the systems zgw-auth replaces. */
export function migrateCommands(program: Command, ctx: CliContext): void {
  const migrate = program
    .command('migrate')
    .description(
      'import clients from Keycloak or Open Zaak with the secrets they have, and applicaties from Open Zaak or another Autorisaties API (dry-runnable; running again changes nothing)',
    );
  const reporting = (cmd: Command) =>
    cmd
      .option('--dry-run', 'check everything and report what would happen; change nothing')
      .option('--json', 'print the report as JSON');
  const common = (cmd: Command) =>
    reporting(
      cmd.option(
        '--allow-weak-secrets',
        'keep secrets below the strength rule for self-signing clients (marked weak, shown as a risk) instead of leaving those clients out',
      ),
    );

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
    const [{ readMigrationFile }, { parseKeycloakRealm }] = await Promise.all([
      import('../migrate/read-migration-file.js'),
      import('../migrate/parse-keycloak-realm.js'),
    ]);
    const data = readMigrationFile(o.file);
    const plan = inFile(o.file, () =>
      parseKeycloakRealm(data, { rsin: o.rsin, selfSigned: o.selfSigned !== false, now: Date.now() }),
    );
    await run(ctx, cmd, plan, o);
  });

  common(
    migrate
      .command('open-zaak')
      .description(
        "every client id with a secret becomes a self-signing client named after its Applicatie; then each Applicatie with its Autorisaties an applicatie of zgw-auth's Autorisaties API, held to its rules (one that breaks one is reported and left out)",
      )
      .requiredOption(
        '--file <path>',
        'manage.py dumpdata vng_api_common.jwtsecret authorizations.applicatie authorizations.autorisatie > dump.json',
      )
      .requiredOption('--rsin <rsin>', 'required: organisation of the imported clients')
      .option('--no-applicaties', 'import the clients only, not the applicaties'),
  ).action(async (o: MigrateOptions & { rsin: string }, cmd: Command) => {
    validRsin(o.rsin);
    const [{ readMigrationFile }, { parseOpenZaakDump }] = await Promise.all([
      import('../migrate/read-migration-file.js'),
      import('../migrate/parse-open-zaak-dump.js'),
    ]);
    const data = readMigrationFile(o.file);
    const plan = inFile(o.file, () => parseOpenZaakDump(data, { rsin: o.rsin }));
    if (o.applicaties === false) {
      const left = plan.applicaties?.length ?? 0;
      delete plan.applicaties;
      if (left)
        plan.notes.push(`--no-applicaties: ${left} applicatie${left === 1 ? '' : 's'} of the file not migrated`);
    }
    await run(ctx, cmd, plan, o);
  });

  reporting(
    migrate
      .command('autorisaties-api')
      .description(
        "the applicaties of another Autorisaties API (Open Zaak's, another zgw-auth's): read page by page through GET /applicaties with a self-signed ZGW token, created here for client ids the registry holds, held to the API's rules; the others are reported and left out",
      )
      .requiredOption(
        '--url <url>',
        "the source's base URL, e.g. https://openzaak.example.nl/autorisaties/api/v1 (https, or http to this machine)",
      )
      .requiredOption('--client-id <id>', "a client id with autorisaties.lezen in the source's Autorisaties API")
      .option(
        '--client-secret <secret>',
        'its secret there (or env ZGW_AUTH_CLIENT_SECRET, which stays out of the process list)',
      )
      .option('--max-pages <n>', 'pages of 100 applicaties read at most', pages, DEFAULT_MAX_PAGES)
      .option(
        '--rsin <rsin>',
        "the organisation whose applicaties the source holds: an applicatie of another organisation's clients here is reported, not imported",
      ),
  ).action(
    async (
      o: {
        url: string;
        clientId: string;
        clientSecret?: string;
        maxPages: number;
        rsin?: string;
        dryRun?: boolean;
        json?: boolean;
      },
      cmd: Command,
    ) => {
      if (o.rsin !== undefined) validRsin(o.rsin);
      const secret = o.clientSecret ?? ctx.env.ZGW_AUTH_CLIENT_SECRET;
      if (!secret) throw new ValidationError('give the secret with --client-secret or ZGW_AUTH_CLIENT_SECRET');
      const { autorisatiesApiUrl, readAutorisatiesApi } = await import('../migrate/read-autorisaties-api.js');
      autorisatiesApiUrl(o.url);
      // Read whole before anything is written: a source that fails halfway changes nothing here.
      const plan = await readAutorisatiesApi({
        url: o.url,
        clientId: o.clientId,
        secret,
        maxPages: o.maxPages,
        timeoutMs: 30_000,
        now: Date.now,
      });
      await run(ctx, cmd, plan, { file: '', ...o });
    },
  );
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

/** The clients of the plan first, then its applicaties (which may hold the clients just made). */
async function run(ctx: CliContext, cmd: Command, plan: MigrationPlan, o: MigrateOptions): Promise<void> {
  const dryRun = o.dryRun === true;
  const [{ applyMigrationPlan }, { applyApplicatieMigration }] = await Promise.all([
    import('../migrate/apply-migration-plan.js'),
    import('../migrate/apply-applicatie-migration.js'),
  ]);
  const report = await ctx.withApp(cmd, async (app) => {
    const done = await applyMigrationPlan(app.clients, plan, {
      dryRun,
      allowWeakSecrets: o.allowWeakSecrets === true,
      actor: { id: 'cli' },
      tokenLifetime: app.config.tokenLifetime,
      maxTokenLifetime: app.config.maxTokenLifetime,
      now: app.now,
    });
    if (plan.applicaties)
      done.applicaties = await applyApplicatieMigration(app.autorisaties, plan.applicaties, {
        dryRun,
        actor: CLI_AC_ACTOR,
        plannedClients: new Map(done.clients.flatMap((c) => (c.created && c.rsin ? [[c.clientId, c.rsin]] : []))),
        ...(o.rsin !== undefined ? { organisation: o.rsin } : {}),
      });
    return done;
  });
  ctx.out(o.json ? terminalSafeJson(JSON.stringify(report)) : formatReport(report));
}

/**
 * The report as a table and lists. Every string in it may come from the file (client ids, names,
 * reasons that quote them): each is shown through displayText, so a file cannot send the terminal
 * escape sequences, line breaks or bidi overrides that would rewrite or hide lines of the report.
 */
function formatReport(report: MigrationReport): string {
  const yes = (v: boolean | undefined) => (v === undefined ? '-' : v ? 'yes' : 'no');
  const lines: string[] = [];
  if (report.source !== 'autorisaties-api')
    lines.push(
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
    );
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
  const would = (what: string) => (report.dryRun ? `would be ${what} (dry run: nothing was changed)` : what);
  if (report.source !== 'autorisaties-api')
    lines.push(
      '',
      `${imported} imported, ${skipped} skipped, ${n} need${n === 1 ? 's' : ''} attention; ${created} client${created === 1 ? '' : 's'} ${would('created')}`,
    );
  if (report.applicaties) lines.push('', ...formatApplicaties(report.applicaties, would));
  return lines.join('\n').replace(/^\n+/, '');
}

/** The applicaties part of the report: a table, the reasons of those that need attention, a count. */
function formatApplicaties(
  report: NonNullable<MigrationReport['applicaties']>,
  would: (what: string) => string,
): string[] {
  const yes = (v: boolean) => (v ? 'yes' : 'no');
  const lines = [
    table(
      ['APPLICATIE', 'LABEL', 'CLIENT IDS', 'RIGHTS', 'RESULT', 'CREATED', 'UUID', 'REASON'],
      report.entries.map((a) =>
        [
          a.source,
          a.label || '-',
          a.clientIds.join(',') || '-',
          a.rights ?? '-',
          a.status === 'attention' ? 'ATTENTION' : a.status,
          yes(a.created),
          a.uuid ?? '-',
          a.status === 'skipped' ? a.reasons.join('; ') : a.status === 'attention' ? 'see below' : '-',
        ].map(displayText),
      ),
    ),
  ];
  const attention = report.entries.filter((a) => a.status === 'attention');
  if (attention.length) {
    lines.push('', 'Applicaties needing attention (not imported):');
    for (const a of attention) {
      lines.push(`  ${displayText(a.source)}${a.label ? ` "${displayText(a.label)}"` : ''}`);
      for (const r of a.reasons) lines.push(`    - ${displayText(r)}`);
    }
  }
  const notes = report.entries.flatMap((a) => a.notes.map((n) => `  ${displayText(a.source)}: ${displayText(n)}`));
  if (notes.length) lines.push('', 'Applicatie notes:', ...notes);
  const { imported, skipped, attention: n, created } = report.summary;
  lines.push(
    '',
    `applicaties: ${imported} imported, ${skipped} skipped, ${n} need${n === 1 ? 's' : ''} attention; ${created} ${would('created')}`,
  );
  return lines;
}
