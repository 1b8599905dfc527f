import type { Command } from 'commander';
import type { App } from '../app.js';
import type { Actor } from '../clients/client-service.js';
import type { Config } from '../config.js';

/** What the command files get from the program: configuration, the app and the output. */
export interface CliContext {
  /** Opens the app for a command that works on the local database; closed by the caller. */
  withApp<T>(
    cmd: Command,
    run: (app: App) => Promise<T>,
    options?: { create?: boolean; newMasterKey?: boolean; verifier?: boolean },
  ): Promise<T>;
  config(cmd: Command): Config;
  /** A line of output (stdout). */
  out(text: string): void;
  /** Errors and warnings (stderr), each with its line end. */
  err(text: string): void;
  /** The environment the command reads its settings from. */
  env: NodeJS.ProcessEnv;
}

/** Who the audit trail names for changes made with the CLI. */
export const CLI_ACTOR: Actor = { id: 'cli' };
