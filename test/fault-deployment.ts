import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { firstAdminSecret, postForm, request, startServeProcess } from './helpers.js';

/**
 * Deployments of real `zgw-auth serve` processes for the fault tests under load
 * (faults-under-load.test.ts, which compares latencies with a baseline measured in the same run,
 * and process-faults.test.ts, whose assertions hold at any speed).
 */

/** Keep-alive callers loading a deployment. */
export const CALLERS = 16;
/** Registered clients the callers take turns with: enough that lookups keep reaching the database. */
export const CLIENTS = 64;
/** Callers give up here and record a hang: far beyond any configured wait. */
export const REQUEST_TIMEOUT_MS = 30_000;
/** Load before the fault: every caller served, and the baseline of the slowest request measured. */
export const WARM_UP_MS = 1000;

export const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-load-'));
export type Proc = Awaited<ReturnType<typeof startServeProcess>>;

export interface Deployment {
  procs: Proc[];
  /** Where callers send requests; one per process unless a balancer is in front. */
  targets: string[];
  adminToken: string;
  bodies: string[];
  /** Baseline: how long the first process took to start and listen, on this machine, in this run. */
  startMs: number;
}

/** Starts `count` processes on one database; the first creates the admin client; clients for the callers are registered. */
export async function deploy(count: number, env: Record<string, string>, args: string[] = []): Promise<Deployment> {
  // One issuer for all processes, as behind a balancer: a token from one is accepted by the others.
  const shared = {
    ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
    ZGW_AUTH_SIGNING_ALG: 'EdDSA',
    ZGW_AUTH_ISSUER: 'http://zgw-auth.test',
    ...env,
  };
  const dataDir = tempDir();
  const started = performance.now();
  const procs = [await startServeProcess(dataDir, shared, args)];
  const startMs = performance.now() - started;
  const secret = firstAdminSecret(procs[0]!.output())!;
  // The others start while the clients are registered on the first: the registry is made, and the
  // two need different cores (a start is CPU, a registration mostly the database's).
  const others = Promise.all(Array.from({ length: count - 1 }, () => startServeProcess(dataDir, shared, args)));
  // Awaited below; should a registration fail first, the file's exit handler stops what started.
  void others.catch(() => {});
  const adminToken = (
    await postForm(`${procs[0]!.url}/token`, {
      grant_type: 'client_credentials',
      client_id: 'zgw-auth-admin',
      client_secret: secret,
    })
  ).json.access_token as string;
  const bodies: string[] = [];
  // Registered eight at a time: the deployment is set up before any load or baseline is measured.
  for (let i = 0; i < CLIENTS; i += 8) {
    const created = await Promise.all(
      Array.from({ length: Math.min(8, CLIENTS - i) }, () =>
        request(`${procs[0]!.url}/admin/clients`, {
          method: 'POST',
          headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ rsin: '000000000' }),
        }),
      ),
    );
    for (const res of created) {
      assert.equal(res.status, 201, res.text);
      bodies.push(
        new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: res.json.client.clientId,
          client_secret: res.json.secret.value,
        }).toString(),
      );
    }
  }
  procs.push(...(await others));
  return { procs, targets: procs.map((p) => p.url), adminToken, bodies, startMs };
}

export function assertAlive(procs: Proc[]) {
  for (const p of procs)
    assert.ok(
      p.child.exitCode === null && p.child.signalCode === null,
      `process ${p.child.pid} exited (${p.child.exitCode ?? p.child.signalCode}):\n${p.output().slice(-3000)}`,
    );
}

export const fmt = (m: Map<string, number>) => JSON.stringify(Object.fromEntries(m));
