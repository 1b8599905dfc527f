import { ZgwAuthError } from '../errors.js';
import cluster from 'node:cluster';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { FIRST_ADMIN_CLIENT_ID } from '../clients/model.js';
import { EXPIRY_CHECK_MS } from '../clients/credential-expiry.js';
// Loaded by the functions that start: the other commands' `--help` does not load the whole app.
import type { App, FirstAdmin } from '../app.js';
import type { Config } from '../config.js';
import { type ServerTracing, tracingSettings } from '../tracing.js';
import type { CliContext } from './context.js';

const SHUTDOWN_GRACE_MS = 10_000;
/** Open connections may finish their requests this long after SIGTERM (within the grace period). */
const DRAIN_MS = 8000;
/** A keep-alive connection idle this long after SIGTERM has no caller about to use it: closed. */
const IDLE_CLOSE_MS = 1000;
/** How long an unexpected error keeps the process unready. */
const FAULT_UNREADY_MS = 30_000;

export function serveCommand(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('run the zgw-auth server (creates database, signing key and admin client on first start)')
    .action(async (_opts, cmd: Command) => {
      const config = ctx.config(cmd);
      // Checked before anything starts (in the primary too): a setting that cannot be honoured stops the start.
      const traces = tracingSettings(process.env);
      if (config.workers > 1 && cluster.isPrimary) return runPrimary(config, ctx);
      const { createApp, ensureSigningKey, plainSyslogOffHost } = await import('../app.js');
      // Loaded only when switched on: with tracing off, no OpenTelemetry SDK module is loaded at all.
      const tracing: ServerTracing | undefined = traces
        ? await (await import('../ops/tracing.js')).startTracing(traces)
        : undefined;
      const app = await createApp(config, tracing ? { tracing } : {});
      if (tracing) app.log.info({ protocol: traces!.protocol }, 'traces: exporting spans over OTLP/HTTP');
      // In cluster mode the primary has initialised the database before forking.
      const keyCreated = cluster.isWorker ? undefined : await ensureSigningKey(app);
      app.keys.startRefresh(config.keyRefreshInterval, (err) => app.log.error({ err }, 'signing key refresh failed'));
      // Secrets, keys and certificates that entered ZGW_AUTH_EXPIRY_WARNING's window: announced once each, at start and hourly.
      app.expiry.start(EXPIRY_CHECK_MS, (err) => app.log.error({ err }, 'credential expiry check failed'));
      // The Autorisaties API's notifications (ZGW_AUTH_NOTIFICATIONS_URL): one delivery loop per process.
      app.notifications?.start();
      // Audit events to the SIEM (ZGW_AUTH_AUDIT_SYSLOG_URL, ZGW_AUTH_AUDIT_JSONL): one process ships each sink.
      if (app.startAuditShipping() && plainSyslogOffHost(config))
        app.log.warn(
          { auditSyslogUrl: config.auditSyslogUrl },
          'audit events go to the syslog receiver over plain TCP: readable and changeable on the way; prefer tls://',
        );
      const housekeeping = () =>
        Promise.all([app.audit.prune(config.auditRetentionDays), app.revocations.prune()]).catch((err: unknown) =>
          app.log.error({ err }, 'housekeeping failed'),
        );
      await housekeeping();
      setInterval(() => void housekeeping(), 3_600_000).unref();
      // Loaded here, not at the top: the other commands start without Fastify and its plugins.
      const { buildServer } = await import('../http/build-server.js');
      const server = await buildServer(app);
      const address = await server
        .listen({ host: config.host, port: config.port })
        .catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EADDRINUSE') throw err;
          throw new ZgwAuthError(
            'address_in_use',
            `port ${config.port} on ${config.host} is already in use (another zgw-auth?); choose another with --port or ZGW_AUTH_PORT`,
          );
        });
      if (config.port === 0 && config.issuer.endsWith(':0'))
        config.issuer = config.issuer.replace(/:0$/, `:${new URL(address).port}`);
      if (keyCreated) app.log.info({ kid: keyCreated }, 'signing key created');
      // After listening: the banner names the address, known only now when the port was 0.
      if (!cluster.isWorker) await firstAdmin(app, ctx.out);
      app.log.info(
        {
          issuer: config.issuer,
          storage: app.storage.location,
          ...(config.console ? { console: new URL('/console', config.issuer).toString() } : {}),
        },
        'zgw-auth listening',
      );

      // Last resort: an error no handler expected (an 'error' event nobody listens for, a rejected
      // promise nobody awaits) is logged and reported by readiness; the process keeps serving what
      // it can rather than dropping every caller's connection.
      lastResort(app.log, (description) => app.readiness.markFault(description, FAULT_UNREADY_MS));

      let draining = false;
      // While draining, every answer closes its connection: keep-alive callers reconnect, through
      // the balancer, to a process that is not stopping.
      server.server.prependListener('request', (_req, res) => {
        if (draining) res.shouldKeepAlive = false;
      });
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        app.log.info({ signal }, 'shutting down: finishing in-flight requests');
        setTimeout(() => process.exit(1), config.shutdownDelay * 1000 + SHUTDOWN_GRACE_MS).unref();
        app.readiness.markStopping();
        draining = true;
        // Unready but still accepting: a balancer that checks readiness stops sending new
        // connections here before this process stops listening, so none is refused or reset in
        // the listen backlog as the socket closes.
        if (config.shutdownDelay > 0) await new Promise((r) => setTimeout(r, config.shutdownDelay * 1000));
        // Refuse new connections (a balancer retries them elsewhere) but leave open ones alone:
        // http.Server#close would also cut idle keep-alive connections, racing a request a caller
        // may be sending on one at that moment.
        net.Server.prototype.close.call(server.server);
        const started = Date.now();
        let idleClosed = false;
        while ((await openConnections(server.server)) > 0 && Date.now() - started < DRAIN_MS) {
          if (!idleClosed && Date.now() - started >= IDLE_CLOSE_MS) {
            idleClosed = true;
            server.server.closeIdleConnections();
          }
          await new Promise((r) => setTimeout(r, 20));
        }
        await server.close();
        await app.close();
        // The spans still queued, among them those of the last requests.
        await tracing?.shutdown();
        process.exit(0);
      };
      process.on('SIGTERM', () => void stop('SIGTERM'));
      process.on('SIGINT', () => void stop('SIGINT'));
      await new Promise(() => {});
    });
}

/**
 * Cluster mode: initialise once, then fork workers that share the listening socket; a worker that
 * dies is replaced; SIGTERM is passed on and the primary exits when every worker has.
 */
async function runPrimary(config: Config, ctx: CliContext): Promise<void> {
  const { createApp, createLogger, ensureSigningKey } = await import('../app.js');
  const log = createLogger(config.logLevel);
  // The primary serves nothing (its workers count and show the metrics).
  const app = await createApp(config, { log, metrics: false });
  await ensureSigningKey(app);
  await firstAdmin(app, ctx.out);
  await app.close();
  let stopping = false;
  const fork = () => cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    log.error({ pid: worker.process.pid, code, signal }, 'worker died; starting a new one');
    setTimeout(fork, 500);
  });
  for (let i = 0; i < config.workers; i++) fork();
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down workers');
    setTimeout(() => process.exit(1), config.shutdownDelay * 1000 + SHUTDOWN_GRACE_MS + 1000).unref();
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // The primary serves nothing; it must stay to restart workers.
  lastResort(log, () => {});
  await new Promise(() => {});
}

function lastResort(log: Logger, onFault: (description: string) => void): void {
  const handle = (kind: string) => (err: unknown) => {
    const description = `${kind}: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300);
    log.fatal({ err }, `unexpected error (${kind}); still serving, reporting unready for a while`);
    onFault(description);
  };
  process.on('uncaughtException', handle('uncaught exception'));
  process.on('unhandledRejection', handle('unhandled rejection'));
}

function openConnections(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.getConnections((err, count) => resolve(err ? 0 : count)));
}

export const FIRST_SECRET_FILE = 'first-admin-secret.txt';

/**
 * The first administrator, made and delivered as one step (createFirstAdmin) with SIGINT and
 * SIGTERM held until it is committed: Ctrl-C then stops the start after the secret was shown, not
 * between showing it and storing its client. When the registry has an administrator that may never
 * have been delivered, says how to issue it a new secret.
 */
async function firstAdmin(app: App, out: (text: string) => void): Promise<void> {
  const { createFirstAdmin, unusedFirstAdminSecret } = await import('../app.js');
  const made = await withSignalsHeld(() =>
    createFirstAdmin(app, (admin) => showFirstStartSecret(app.config, admin, app.log, out)),
  );
  // The administrator may manage the Autorisaties API from the start (once per registry).
  await app.autorisaties.bootstrap(FIRST_ADMIN_CLIENT_ID);
  if (made) return;
  const secretId = await unusedFirstAdminSecret(app);
  if (secretId === undefined || fs.existsSync(path.join(app.config.dataDir, FIRST_SECRET_FILE))) return;
  app.log.warn(
    { clientId: FIRST_ADMIN_CLIENT_ID, secretId },
    `the administrator ${FIRST_ADMIN_CLIENT_ID} has never been used. If its secret from the first start was never shown or is lost (a first start interrupted under an earlier version), ` +
      `issue a new one with \`zgw-auth secrets add ${FIRST_ADMIN_CLIENT_ID}\` (shown once) and revoke the old one with \`zgw-auth secrets revoke ${FIRST_ADMIN_CLIENT_ID} ${secretId}\``,
  );
}

/** Runs `step` with SIGINT and SIGTERM held back; one that arrived meanwhile is raised again after it. */
async function withSignalsHeld<T>(step: () => Promise<T>): Promise<T> {
  let held: NodeJS.Signals | undefined;
  const hold = (signal: NodeJS.Signals) => void (held ??= signal);
  process.on('SIGINT', hold);
  process.on('SIGTERM', hold);
  try {
    return await step();
  } finally {
    process.off('SIGINT', hold);
    process.off('SIGTERM', hold);
    if (held) process.kill(process.pid, held);
  }
}

/**
 * The first admin secret goes where a log collector does not keep it: to the terminal when stdout
 * is one, else to an owner-only file in the data folder, whose path (never the secret) is logged.
 */
function showFirstStartSecret(config: Config, admin: FirstAdmin, log: Logger, out: (text: string) => void): void {
  const banner = firstStartBanner(config, admin.clientId, admin.secret);
  const file = path.join(config.dataDir, FIRST_SECRET_FILE);
  // A file left by an interrupted earlier start holds a secret whose client was never stored.
  fs.rmSync(file, { force: true });
  if (process.stdout.isTTY) return out(banner);
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // A fresh file: never write the secret through a link or into a file others can already read.
  const fd = fs.openSync(file, 'wx', 0o600);
  try {
    fs.writeSync(fd, banner + '\n');
    // On disk before the client is committed: a crash after the commit cannot lose the secret.
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  log.warn(
    { secretFile: file },
    'first start: the administrator secret is in this owner-only file; store it in a password manager, then delete the file',
  );
}

function firstStartBanner(
  { issuer, console }: Pick<Config, 'issuer' | 'console'>,
  clientId: string,
  secret: string,
): string {
  // The console answers at the root of the issuer's origin, whatever the issuer's path.
  const consoleUrl = new URL('/console', issuer).toString();
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
    ...(console ? ['  Or sign in to the web console with this client id and secret:', `    ${consoleUrl}`, ''] : []),
  ].join('\n');
}
