import type { Command } from 'commander';
import { SIGNING_ALGS, type SigningAlg } from '../config.js';
import type { CliContext } from './context.js';
import { isoTime, table } from './output.js';

export function keysCommands(program: Command, ctx: CliContext): void {
  const keys = program.command('keys').description('signing keys');
  keys
    .command('list')
    .description('list signing keys and their state')
    .option('--json', 'print JSON')
    .action(async (o, cmd: Command) => {
      const items = await ctx.withApp(cmd, (app) => app.keys.list());
      if (o.json) return ctx.out(JSON.stringify(items));
      ctx.out(
        table(
          ['KID', 'ALG', 'STATE', 'SIGNS FROM', 'RETIRES'],
          items.map((k) => [k.kid, k.alg, k.state, isoTime(k.activatesAt), isoTime(k.retiresAt)]),
        ),
      );
    });
  keys
    .command('rotate')
    .description('publish a new signing key now; it signs after the publish delay, the old key stays published until its tokens expired')
    .option('--alg <alg>', `algorithm of the new key (${SIGNING_ALGS.join(', ')})`)
    .option('--publish-delay <seconds>', 'seconds before the new key signs (default ZGW_AUTH_KEY_PUBLISH_DELAY)')
    .option('--now', 'emergency: sign with the new key at once; verifiers that cache the JWKS refuse its tokens until they refetch')
    .option('--json', 'print JSON')
    .action(async (o, cmd: Command) => {
      const config = ctx.config(cmd);
      const alg = (o.alg ?? config.signingAlg) as SigningAlg;
      if (!(SIGNING_ALGS as readonly string[]).includes(alg)) throw new Error(`--alg must be one of ${SIGNING_ALGS.join(', ')}`);
      if (o.now && o.publishDelay !== undefined) throw new Error('give --now or --publish-delay, not both');
      const delay = o.now ? 0 : o.publishDelay !== undefined ? Number(o.publishDelay) : config.keyPublishDelay;
      if (!Number.isInteger(delay) || delay < 0) throw new Error('--publish-delay must be whole seconds');
      const result = await ctx.withApp(cmd, (app) => app.keys.rotate(alg, delay, config.maxTokenLifetime));
      if (o.json) return ctx.out(JSON.stringify(result));
      ctx.out(`new key ${result.kid} (${alg}) published; signs from ${isoTime(result.activatesAt)}; previous keys retire at ${isoTime(result.previousRetireAt)}`);
    });
}
