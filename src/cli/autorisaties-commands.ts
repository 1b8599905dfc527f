import fs from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import type { AcActor } from '../autorisaties/autorisaties-service.js';
import { type Applicatie, applicatieBody, COMPONENT_FIELDS } from '../autorisaties/model.js';
import { parseApplicatie } from '../autorisaties/validate.js';
import { InvalidParamsError, NotFoundError, ValidationError } from '../errors.js';
import type { CliContext } from './context.js';
import { displayText, isoTime, table, terminalSafeJson } from './output.js';

/**
 * The CLI writes as the operator of the registry: applicaties of every organisation. Without
 * client ids an applicatie belongs to the first administrator's organisation.
 */
export const CLI_AC_ACTOR: AcActor = { id: 'cli', rsin: '000000000', everyOrganisation: true };

/** A --file larger than this is refused before it is read: an applicatie is a few kilobytes. */
const FILE_MAX_BYTES = 2 * 1024 * 1024;

/** The keys of an `--autorisatie` spec, and the standard's field each stands for. */
const SPEC_KEYS: Record<string, string> = {
  component: 'component',
  scopes: 'scopes',
  zaaktype: 'zaaktype',
  informatieobjecttype: 'informatieobjecttype',
  besluittype: 'besluittype',
  max: 'maxVertrouwelijkheidaanduiding',
  maxVertrouwelijkheidaanduiding: 'maxVertrouwelijkheidaanduiding',
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A uuid as the API's path takes it; anything else is not found (never handed to the database). */
function applicatieUuid(v: string): string {
  if (!UUID.test(v)) throw new NotFoundError(`no applicatie ${displayText(v.slice(0, 60))}`);
  return v.toLowerCase();
}

const collect = (v: string, previous: string[] = []) => [...previous, v];

const page = (v: string) => {
  if (!/^[1-9]\d{0,8}$/.test(v)) throw new InvalidArgumentError('expected a whole number from 1');
  return Number(v);
};

/**
 * `component=zrc;scopes=zaken.lezen,zaken.bijwerken;zaaktype=<url>;max=openbaar` as the standard's
 * autorisatie object. Only the shape is read here: the rules are the use case's (parseApplicatie).
 */
export function autorisatieFromSpec(spec: string, index: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const part of spec.split(';')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim();
    const field = Object.hasOwn(SPEC_KEYS, key) ? SPEC_KEYS[key] : undefined;
    if (eq < 0 || !field)
      throw new InvalidParamsError([
        {
          name: `autorisaties.${index}`,
          code: 'invalid',
          reason: `"${key.slice(0, 40)}" is not a key=value of ${Object.keys(SPEC_KEYS).join(', ')}.`,
        },
      ]);
    if (field in out)
      throw new InvalidParamsError([
        { name: `autorisaties.${index}.${field}`, code: 'invalid', reason: 'This key is given twice.' },
      ]);
    const value = part.slice(eq + 1).trim();
    out[field] =
      field === 'scopes'
        ? value
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : value;
  }
  return out;
}

interface FieldOptions {
  clientId?: string[];
  label?: string;
  heeftAlleAutorisaties?: boolean;
  alleenGereedVoorPublicatie?: boolean;
  autorisatie?: string[];
  file?: string;
}

/** An Applicatie JSON file (the standard's shape, e.g. a GET's answer saved): bounded, parsed, never echoed. */
function readFile(file: string): Record<string, unknown> {
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch {
    throw new ValidationError(`--file: cannot read ${displayText(file.slice(0, 200))}`, 'file');
  }
  if (size > FILE_MAX_BYTES) throw new ValidationError(`--file: larger than ${FILE_MAX_BYTES} bytes`, 'file');
  let body: unknown;
  try {
    body = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    throw new ValidationError('--file: not valid JSON', 'file');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new InvalidParamsError([
      { name: 'nonFieldErrors', code: 'invalid', reason: 'Invalid data. Expected a dictionary.' },
    ]);
  return body as Record<string, unknown>;
}

/**
 * The request body the flags describe: the file's fields, overridden by the flags given. Setting
 * all rights without autorisaties empties the list, and autorisaties without the flag unset all
 * rights, so that an update can switch between the two (the standard allows only one of them).
 */
function bodyFrom(o: FieldOptions): Record<string, unknown> {
  const body: Record<string, unknown> = o.file ? readFile(o.file) : {};
  if (o.clientId) body.clientIds = o.clientId;
  if (o.label !== undefined) body.label = o.label;
  if (o.alleenGereedVoorPublicatie !== undefined) body.alleenIsGereedVoorPublicatie = o.alleenGereedVoorPublicatie;
  if (o.autorisatie) body.autorisaties = o.autorisatie.map((spec, i) => autorisatieFromSpec(spec, i));
  if (o.heeftAlleAutorisaties !== undefined) body.heeftAlleAutorisaties = o.heeftAlleAutorisaties;
  if (o.heeftAlleAutorisaties === true && !o.autorisatie && !o.file) body.autorisaties = [];
  if (o.autorisatie && o.heeftAlleAutorisaties === undefined && !o.file) body.heeftAlleAutorisaties = false;
  return body;
}

function asJson(a: Applicatie) {
  return { uuid: a.uuid, ...applicatieBody(a), organisation: a.organisation };
}

function describe(a: Applicatie): string {
  const lines = [
    `uuid:         ${a.uuid}`,
    `label:        ${displayText(a.label)}`,
    `client ids:   ${a.clientIds.map(displayText).join(', ') || '-'}`,
    `organisation: ${a.organisation}`,
    `all rights:   ${a.heeftAlleAutorisaties}`,
    `only documents ready for publication: ${a.alleenIsGereedVoorPublicatie}`,
    `updated:      ${isoTime(a.updatedAt)}`,
  ];
  for (const x of a.autorisaties) {
    const fields = COMPONENT_FIELDS[x.component]
      .filter((f) => x[f] !== undefined)
      .map((f) => `${f === 'maxVertrouwelijkheidaanduiding' ? 'max' : f}=${displayText(x[f]!)}`);
    lines.push(`autorisatie:  ${[x.component, x.scopes.join(','), ...fields].join('  ')}`);
  }
  return lines.join('\n');
}

function addFieldOptions(cmd: Command): Command {
  return cmd
    .option('--client-id <id>', 'a client id of the registry (repeatable; all of one organisation)', collect)
    .option('--label <text>', 'name of the applicatie')
    .option('--heeft-alle-autorisaties', 'all rights in every component (replaces the autorisaties)')
    .option('--no-heeft-alle-autorisaties', 'not all rights')
    .option('--alleen-gereed-voor-publicatie', 'may only read documents ready for publication (standard 1.1)')
    .option('--no-alleen-gereed-voor-publicatie', 'may read every document its autorisaties allow')
    .option(
      '--autorisatie <spec>',
      "an autorisatie, repeatable: 'component=zrc;scopes=zaken.lezen,zaken.bijwerken;zaaktype=<url>;max=openbaar' " +
        '(keys: component, scopes, zaaktype, informatieobjecttype, besluittype, max); replaces the list',
      collect,
    )
    .option('--file <json>', "an Applicatie in the standard's JSON shape; flags given override its fields")
    .option('--json', 'print JSON');
}

/** `zgw-auth autorisaties …`: the applicaties of the Autorisaties API, through its use cases. */
export function autorisatiesCommands(program: Command, ctx: CliContext): void {
  const autorisaties = program
    .command('autorisaties')
    .description("manage the Autorisaties API's applicaties: what each client may do in the ZGW APIs");

  autorisaties
    .command('list')
    .description('list the applicaties, newest first')
    .option('--client-id <id>', 'only the applicaties of these client ids (repeatable)', collect)
    .option('--page <n>', 'page (from 1, 100 a page)', page, 1)
    .option('--json', 'print JSON')
    .action(async (o, cmd: Command) => {
      const found = await ctx.withApp(cmd, (app) =>
        app.autorisaties.list(o.clientId ? { clientIds: o.clientId } : {}, o.page),
      );
      const result = found ?? { items: [], total: 0 };
      if (o.json)
        return ctx.out(terminalSafeJson(JSON.stringify({ count: result.total, results: result.items.map(asJson) })));
      ctx.out(
        table(
          ['UUID', 'ORGANISATION', 'ALL', 'AUTORISATIES', 'CLIENT IDS', 'LABEL'],
          result.items.map((a) => [
            a.uuid,
            a.organisation,
            String(a.heeftAlleAutorisaties),
            String(a.autorisaties.length),
            a.clientIds.map(displayText).join(','),
            displayText(a.label),
          ]),
        ),
      );
      ctx.out(`${result.items.length} of ${result.total}`);
    });

  autorisaties
    .command('show <uuid-or-client-id>')
    .description('show an applicatie, by its uuid or by one of its client ids')
    .option('--json', 'print JSON')
    .action(async (key: string, o, cmd: Command) => {
      const found = await ctx.withApp(cmd, (app) =>
        UUID.test(key) ? app.autorisaties.get(applicatieUuid(key)) : app.autorisaties.consumer(key),
      );
      ctx.out(o.json ? terminalSafeJson(JSON.stringify(asJson(found))) : describe(found));
    });

  addFieldOptions(autorisaties.command('create').description('create an applicatie')).action(
    async (o, cmd: Command) => {
      const fields = parseApplicatie(bodyFrom(o), true);
      const created = await ctx.withApp(cmd, (app) => app.autorisaties.create(fields, CLI_AC_ACTOR));
      ctx.out(o.json ? terminalSafeJson(JSON.stringify(asJson(created))) : describe(created));
    },
  );

  addFieldOptions(
    autorisaties.command('update <uuid>').description('change an applicatie: the fields given replace the stored ones'),
  ).action(async (uuid: string, o, cmd: Command) => {
    const fields = parseApplicatie(bodyFrom(o), false);
    const updated = await ctx.withApp(cmd, (app) =>
      app.autorisaties.update(applicatieUuid(uuid), fields, CLI_AC_ACTOR),
    );
    ctx.out(o.json ? terminalSafeJson(JSON.stringify(asJson(updated))) : describe(updated));
  });

  autorisaties
    .command('delete <uuid>')
    .description('delete an applicatie (its clients stay; the ZGW APIs then refuse them)')
    .option('--json', 'print JSON')
    .action(async (uuid: string, o, cmd: Command) => {
      await ctx.withApp(cmd, (app) => app.autorisaties.delete(applicatieUuid(uuid), CLI_AC_ACTOR));
      ctx.out(o.json ? JSON.stringify({ deleted: uuid }) : `${uuid} deleted`);
    });
}
