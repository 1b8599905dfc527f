import fs from 'node:fs';
import type { Command } from 'commander';
import type { CliContext } from './context.js';

/** `export` / `import`: move a whole registry between SQLite and PostgreSQL (or between servers). */
export function transferCommands(program: Command, ctx: CliContext): void {
  program
    .command('export')
    .description(
      'write the whole registry (clients, hashed and sealed secrets, signing keys, audit) as JSON; needs the same master key to import',
    )
    .requiredOption('--file <path>', 'where to write the export (created with mode 0600)')
    .action(async (o: { file: string }, cmd: Command) => {
      // Loaded by the two commands that move a registry, never by the others.
      const { exportRegistry } = await import('../transfer/registry-transfer.js');
      const data = await ctx.withApp(cmd, (app) => exportRegistry(app.transfer));
      fs.writeFileSync(o.file, JSON.stringify(data), { mode: 0o600, flag: 'wx' });
      const counts = Object.entries(data.tables)
        .map(([t, rows]) => `${t} ${rows.length}`)
        .join(', ');
      ctx.out(`exported to ${o.file}: ${counts}`);
    });
  program
    .command('import')
    .description('load an export into an empty registry (the database selected by DATABASE_URL or the data folder)')
    .requiredOption('--file <path>', 'an export written by zgw-auth export')
    .action(async (o: { file: string }, cmd: Command) => {
      const data: unknown = JSON.parse(fs.readFileSync(o.file, 'utf8'));
      const { importRegistry } = await import('../transfer/registry-transfer.js');
      // Importing is how a registry is restored or moved: it may create the empty one it fills, but
      // never a new master key, which could not open what the export holds.
      const counts = await ctx.withApp(cmd, (app) => importRegistry(app.transfer, data), {
        create: true,
        newMasterKey: false,
      });
      ctx.out(
        `imported: ${Object.entries(counts)
          .map(([t, n]) => `${t} ${n}`)
          .join(', ')}`,
      );
    });
}
