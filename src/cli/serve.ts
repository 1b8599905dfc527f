import type { Command } from 'commander';
import { createApp, initialize } from '../app.js';
import { buildServer } from '../http/build-server.js';
import type { CliContext } from './program.js';

const SHUTDOWN_GRACE_MS = 10_000;

export function serveCommand(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('run the zgw-auth server (creates database, signing key and admin client on first start)')
    .action(async (_opts, cmd: Command) => {
      const config = ctx.config(cmd);
      const app = await createApp(config);
      const first = await initialize(app);
      app.keys.startRefresh(config.keyRefreshInterval, (err) => app.log.error({ err }, 'signing key refresh failed'));
      const housekeeping = () =>
        Promise.all([app.audit.prune(config.auditRetentionDays), app.revocations.prune()]).catch((err: unknown) => app.log.error({ err }, 'housekeeping failed'));
      await housekeeping();
      setInterval(housekeeping, 3_600_000).unref();
      const server = await buildServer(app);
      const address = await server.listen({ host: config.host, port: config.port });
      if (config.port === 0 && config.issuer.endsWith(':0')) config.issuer = config.issuer.replace(/:0$/, `:${new URL(address).port}`);
      app.log.info({ issuer: config.issuer, storage: app.storage.location }, 'zgw-auth listening');
      if (first.keyCreated) app.log.info({ kid: first.keyCreated }, 'signing key created');
      if (first.admin) ctx.out(firstStartBanner(config.issuer, first.admin.clientId, first.admin.secret));

      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        app.log.info({ signal }, 'shutting down: finishing in-flight requests');
        setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS).unref();
        await server.close();
        await app.close();
        process.exit(0);
      };
      process.on('SIGTERM', () => void stop('SIGTERM'));
      process.on('SIGINT', () => void stop('SIGINT'));
      await new Promise(() => {});
    });
}

function firstStartBanner(issuer: string, clientId: string, secret: string): string {
  return [
    '',
    '  zgw-auth is ready. First start: an administrator client was created.',
    '  Its secret is shown now and never again; store it in a password manager.',
    '',
    `    client_id:     ${clientId}`,
    `    client_secret: ${secret}`,
    '',
    '  Get an admin token:',
    `    curl -u '${clientId}:${secret}' -d grant_type=client_credentials ${issuer}/token`,
    '',
    '  Register a client for a ZGW consumer:',
    '    npm run zgw-auth -- clients create --client-id my-app --rsin 000000000',
    '',
  ].join('\n');
}
