import { type Command, InvalidArgumentError } from 'commander';
import type { Actor } from '../clients/client-service.js';
import { ORGANISATION_PAGE_MAX, type Organisation, type OrganisationWithCounts } from '../organisations/model.js';
import type { CliContext } from './context.js';
import { isoTime, table } from './output.js';

const CLI_ACTOR: Actor = { id: 'cli' };

const whole = (v: string) => {
  if (!/^\d{1,9}$/.test(v)) throw new InvalidArgumentError('expected a whole number');
  return Number(v);
};
const bool = (v: string) => {
  if (/^(true|yes|1|on)$/i.test(v)) return true;
  if (/^(false|no|0|off)$/i.test(v)) return false;
  throw new InvalidArgumentError('expected true or false');
};

function describeOrganisation(o: Organisation | OrganisationWithCounts): string {
  const lines = [`rsin:       ${o.rsin}`, `name:       ${o.name}`, `enabled:    ${o.enabled}`];
  if ('clientCount' in o) lines.push(`clients:    ${o.clientCount} (${o.enabledClientCount} enabled)`);
  lines.push(`created:    ${isoTime(o.createdAt)}`, `updated:    ${isoTime(o.updatedAt)}`);
  return lines.join('\n');
}

/** `zgw-auth organisations …`: the organisations of the registry, by RSIN. */
export function organisationsCommands(program: Command, ctx: CliContext): void {
  const organisations = program
    .command('organisations')
    .description('manage organisations (by RSIN) and see how many clients each has');

  organisations
    .command('create')
    .description('register an organisation')
    .requiredOption('--rsin <rsin>', 'required: RSIN (9 digits, 11-test)')
    .requiredOption('--name <name>', 'required: display name')
    .option('--json', 'print JSON')
    .action(async (o, cmd: Command) => {
      const created = await ctx.withApp(cmd, (app) =>
        app.organisations.create({ rsin: o.rsin, name: o.name }, CLI_ACTOR),
      );
      ctx.out(o.json ? JSON.stringify(created) : describeOrganisation(created));
    });

  organisations
    .command('list')
    .description('list organisations with the counts of their clients')
    .option('--enabled <bool>', 'only enabled (true) or disabled (false) organisations', bool)
    .option('--search <text>', 'text in the RSIN or the name')
    .option('--limit <n>', `page size (at most ${ORGANISATION_PAGE_MAX})`, whole, 100)
    .option('--offset <n>', 'skip this many', whole, 0)
    .option('--json', 'print JSON')
    .action(async (o, cmd: Command) => {
      const page = await ctx.withApp(cmd, (app) =>
        app.organisations.list({ enabled: o.enabled, q: o.search, limit: o.limit, offset: o.offset }),
      );
      if (o.json) return ctx.out(JSON.stringify(page));
      ctx.out(
        table(
          ['RSIN', 'ENABLED', 'CLIENTS', 'ENABLED CLIENTS', 'UPDATED', 'NAME'],
          page.items.map((org) => [
            org.rsin,
            String(org.enabled),
            String(org.clientCount),
            String(org.enabledClientCount),
            isoTime(org.updatedAt),
            org.name,
          ]),
        ),
      );
      ctx.out(`${page.items.length} of ${page.total}`);
    });

  organisations
    .command('show <rsin>')
    .description('show an organisation and the counts of its clients')
    .option('--json', 'print JSON')
    .action(async (rsin: string, o, cmd: Command) => {
      const found = await ctx.withApp(cmd, (app) => app.organisations.get(rsin));
      ctx.out(o.json ? JSON.stringify(found) : describeOrganisation(found));
    });

  organisations
    .command('update <rsin>')
    .description("change an organisation's name")
    .requiredOption('--name <name>', 'required: display name')
    .option('--json', 'print JSON')
    .action(async (rsin: string, o, cmd: Command) => {
      const updated = await ctx.withApp(cmd, (app) => app.organisations.update(rsin, { name: o.name }, CLI_ACTOR));
      ctx.out(o.json ? JSON.stringify(updated) : describeOrganisation(updated));
    });

  for (const verb of ['disable', 'enable'] as const) {
    organisations
      .command(`${verb} <rsin>`)
      .description(`${verb} an organisation (its clients and their secrets are kept)`)
      .option('--json', 'print JSON')
      .action(async (rsin: string, o, cmd: Command) => {
        const changed = await ctx.withApp(cmd, (app) => app.organisations[verb](rsin, CLI_ACTOR));
        ctx.out(o.json ? JSON.stringify(changed) : `${changed.rsin} ${verb}d`);
      });
  }
}
