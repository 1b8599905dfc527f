import { Command, CommanderError, Option } from 'commander';
import { bool, type Config, loadConfig, LOG_LEVELS, OPTIONS } from '../config.js';
import { InvalidParamsError, ValidationError, ZgwAuthError } from '../errors.js';
import { autorisatiesCommands } from './autorisaties-commands.js';
import { clientsCommands } from './clients-commands.js';
import type { CliContext } from './context.js';
import type { DestinationStream, Logger } from 'pino';
import { keysCommands } from './keys-commands.js';
import { displayText } from './output.js';
import { migrateCommands } from './migrate-commands.js';
import { organisationsCommands } from './organisations-commands.js';
import { transferCommands } from './transfer-commands.js';
import { serveCommand } from './serve.js';
import { tokenCommands } from './token-commands.js';

function configFrom(cmd: Command, env: NodeJS.ProcessEnv, err: (text: string) => void): Config {
  const flags: Partial<Record<keyof Config, string>> = {};
  const opts = cmd.optsWithGlobals() as Record<string, unknown>;
  for (const key of Object.keys(OPTIONS) as (keyof Config)[]) {
    const v = opts[key];
    if (v !== undefined) flags[key] = String(v);
  }
  if (flags.masterKey !== undefined) {
    err('warning: --master-key shows the key in the process list; use --master-key-file or ZGW_AUTH_MASTER_KEY_FILE\n');
  }
  return loadConfig(env, flags);
}

/** Commands log only warnings unless ZGW_AUTH_LOG_LEVEL says otherwise (checked like the server's). */
function cliLogLevel(env: NodeJS.ProcessEnv): string {
  const level = env.ZGW_AUTH_LOG_LEVEL;
  if (level === undefined) return 'warn';
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    throw new ValidationError(
      `ZGW_AUTH_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${level.slice(0, 40)}"`,
    );
  return level;
}

/**
 * A log made at its first use: a command mostly logs nothing, and then does not load the logger.
 * Each property is the real log's (its methods bound to it).
 */
function madeWhenUsed(make: () => Logger): Logger {
  let made: Logger | undefined;
  const log = () => (made ??= make());
  return new Proxy({} as Logger, {
    get(_target, key) {
      const value: unknown = Reflect.get(log(), key);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(log()) : value;
    },
    set: (_target, key, value) => Reflect.set(log(), key, value),
    has: (_target, key) => Reflect.has(log(), key),
  });
}

/**
 * Runs the zgw-auth command line; returns the exit code. `out` gets each line of output, `err` the
 * text of errors and warnings, `logs` the log lines (which a process writes to its standard
 * output, as it does `out`), and `env` is read for the configuration: the process's own unless
 * given (tests run commands in their own process that way).
 */
export async function runCli(
  argv: string[],
  out: (text: string) => void = (t) => process.stdout.write(t + '\n'),
  {
    err = (t) => process.stderr.write(t),
    logs,
    env = process.env,
  }: { err?: (text: string) => void; logs?: DestinationStream; env?: NodeJS.ProcessEnv } = {},
): Promise<number> {
  const program = new Command('zgw-auth')
    .description('Authentication for ZGW APIs: OAuth2 client credentials, ClientID management, token verification')
    .exitOverride()
    .configureOutput({ writeOut: (s) => out(s.trimEnd()), writeErr: err });
  // Accepted before or after the command; listed after the commands, which are what most readers look for.
  const serverOptions = new Command();
  for (const spec of Object.values(OPTIONS)) {
    // A switch may stand alone: `--access-log` means true.
    const flags = (spec.parse as unknown) === bool ? `${spec.flag} [value]` : `${spec.flag} <value>`;
    const description = `${spec.doc} [env ${spec.env}, default ${spec.defaultDoc}]`;
    program.addOption(new Option(flags, description).hideHelp());
    serverOptions.option(flags, description);
  }
  const serverHelp = () => {
    const help = serverOptions.createHelp();
    const lines = serverOptions.options.map((o) =>
      help.formatItem(
        help.optionTerm(o),
        help.longestOptionTermLength(serverOptions, help),
        help.optionDescription(o),
        help,
      ),
    );
    return `\nServer options (before or after the command; each also an environment variable):\n${lines.join('\n')}\n`;
  };
  program.addHelpText('after', serverHelp);
  program.option(
    '--init',
    'commands other than serve: create the registry (database, master key) when there is none, instead of refusing',
  );
  const ctx: CliContext = {
    config: (cmd) => configFrom(cmd, env, err),
    out,
    err,
    env,
    async withApp(cmd, run, options = {}) {
      const config = configFrom(cmd, env, err);
      // A mistyped --data-dir or DATABASE_URL must not quietly start a second, empty registry.
      const create = options.create === true || cmd.optsWithGlobals().init === true;
      // Loaded when a command opens the registry: `--help` and the commands that work without it do not pay for it.
      const { createApp, createLogger } = await import('../app.js');
      const level = cliLogLevel(env);
      const app = await createApp(config, {
        log: madeWhenUsed(() => createLogger(level, logs)),
        create,
        newMasterKey: options.newMasterKey,
        // A command shows no metrics: counting them would only load the Prometheus client.
        metrics: false,
        // Nor does it check tokens, unless it says so (token inspect).
        verifier: options.verifier === true,
      });
      try {
        return await run(app);
      } finally {
        await app.close();
      }
    },
  };
  serveCommand(program, ctx);
  clientsCommands(program, ctx);
  organisationsCommands(program, ctx);
  autorisatiesCommands(program, ctx);
  keysCommands(program, ctx);
  tokenCommands(program, ctx);
  transferCommands(program, ctx);
  migrateCommands(program, ctx);
  try {
    await program.parseAsync(withSwitchValues(argv));
    return 0;
  } catch (failure) {
    if (failure instanceof CommanderError) return failure.exitCode;
    const message =
      failure instanceof InvalidParamsError
        ? fieldRefusals(failure)
        : failure instanceof ZgwAuthError
          ? withReason(failure)
          : failure instanceof Error
            ? failure.message
            : String(failure);
    err(`zgw-auth: ${message}\n`);
    return 1;
  }
}

/** Refused fields on one line, each named and coded as the standard's API names them: `autorisaties.0.zaaktype [required]: …`. */
function fieldRefusals(err: InvalidParamsError): string {
  return err.invalidParams.map((p) => displayText(`${p.name} [${p.code}]: ${p.reason}`)).join('; ');
}

/**
 * A refusal with the driver's reason when storage gave one (`the database is unreachable (connect
 * ECONNREFUSED 127.0.0.1:5432)`): the operator at the terminal needs the why, a web caller never gets it.
 */
function withReason(err: ZgwAuthError): string {
  const cause = err.cause as { message?: unknown; code?: unknown } | undefined;
  const reason = String(cause?.message || cause?.code || '');
  return reason ? `${err.message} (${reason.slice(0, 300)})` : err.message;
}

/**
 * `--access-log serve` would hand `serve` to the optional value as its value: a switch not followed
 * by a true/false word gets an explicit `true`.
 */
function withSwitchValues(argv: string[]): string[] {
  const switches = new Set(
    Object.values(OPTIONS)
      .filter((spec) => (spec.parse as unknown) === bool)
      .map((spec) => spec.flag),
  );
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    out.push(arg);
    if (arg === '--') return out.concat(argv.slice(i + 1));
    if (switches.has(arg) && !/^(1|true|yes|on|0|false|no|off)$/i.test(argv[i + 1] ?? '')) out.push('true');
  }
  return out;
}
