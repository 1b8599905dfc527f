import { type Command, InvalidArgumentError } from 'commander';
import { SIGNING_ALGS } from '../config.js';
import { rotateKey } from '../keys/rotate-key.js';
import { CLI_ACTOR, type CliContext } from './context.js';
import { isoTime, table } from './output.js';

const seconds = (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected whole seconds');
  return Number(v);
};

export function keysCommands(program: Command, ctx: CliContext): void {
  const keys = program.command('keys').description('signing keys');
  keys
    .command('list')
    .description('the key plan: which key signs now, which next and from when, and when each leaves the JWKS')
    .option('--json', 'print JSON')
    .action(async (o, cmd: Command) => {
      const items = await ctx.withApp(cmd, (app) => app.keys.list());
      if (o.json) return ctx.out(JSON.stringify(items));
      ctx.out(
        table(
          ['KID', 'ALG', 'STATE', 'SIGNS FROM', 'SIGNS UNTIL', 'RETIRES'],
          // A superseded key never signs: no signing window.
          items.map((k) => [
            k.kid,
            k.alg,
            k.state,
            isoTime(k.supersededAt === null ? k.activatesAt : null),
            isoTime(k.signsUntil),
            isoTime(k.retiresAt),
          ]),
        ),
      );
    });
  keys
    .command('rotate')
    .description(
      'publish a new signing key now; it signs after the publish delay, the old key stays published until its tokens expired; pending keys that would start later are superseded',
    )
    .option('--alg <alg>', `algorithm of the new key (${SIGNING_ALGS.join(', ')})`)
    .option(
      '--publish-delay <seconds>',
      'seconds before the new key signs (default ZGW_AUTH_KEY_PUBLISH_DELAY)',
      seconds,
    )
    .option(
      '--now',
      'emergency: sign with the new key at once; verifiers that cache the JWKS refuse its tokens until they refetch',
    )
    .option('--json', 'print JSON')
    .action(async (o, cmd: Command) => {
      const result = await ctx.withApp(cmd, (app) =>
        rotateKey(app, { alg: o.alg, publishDelay: o.publishDelay, now: o.now }, CLI_ACTOR),
      );
      if (o.json) return ctx.out(JSON.stringify(result));
      const superseded = result.superseded.length ? `; superseded, never to sign: ${result.superseded.join(', ')}` : '';
      ctx.out(
        `new key ${result.kid} (${result.alg}) published; signs from ${isoTime(result.activatesAt)}; the key before it retires at ${isoTime(result.previousRetireAt)}${superseded}`,
      );
    });
}
