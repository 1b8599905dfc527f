/**
 * The README's first steps, run as written: a fresh data folder, a real `serve`, and every shell
 * block from "Get a token" up to "Migrating" extracted from README.md and run in order in one bash
 * session, as a reader pastes them into one terminal. The only change is the server's address
 * (the test's free port instead of 8080); the administrator secret is typed where the README
 * reads it. So the README's commands cannot drift from the CLI and the API again.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cliInProcess, firstAdminSecret, startServeProcess } from './helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The ```sh blocks between two headings of the README, in order. */
function shellBlocks(markdown: string, from: string, to: string): string[] {
  const start = markdown.indexOf(`\n${from}\n`);
  const end = markdown.indexOf(`\n${to}\n`, start);
  assert.ok(start >= 0 && end > start, `README sections "${from}" … "${to}" not found`);
  return [...markdown.slice(start, end).matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

function runBash(
  script: string,
  options: { cwd: string; env: NodeJS.ProcessEnv; input: string; timeoutMs: number },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // Its own process group, so that a timeout ends npm and the CLI it started with bash.
    const child = spawn('bash', ['-c', script], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), options.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input);
  });
}

describe("the README's first steps, run as written", () => {
  let dataDir: string;
  let serve: Awaited<ReturnType<typeof startServeProcess>> | undefined;
  const exportFile = path.join(ROOT, 'registry.json');
  let exportBackup: Buffer | undefined;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-auth-readme-'));
    // `z export --file registry.json` writes into the checkout (npm runs scripts there): keep what was there.
    exportBackup = fs.existsSync(exportFile) ? fs.readFileSync(exportFile) : undefined;
    serve = await startServeProcess(dataDir);
  });
  after(async () => {
    await serve?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    if (exportBackup) fs.writeFileSync(exportFile, exportBackup);
    else fs.rmSync(exportFile, { force: true });
  });

  it("names the console's URL in the first start's banner and in the log", () => {
    const output = serve!.output();
    const secretFile = /"secretFile":"([^"]+)"/.exec(output)?.[1];
    assert.ok(secretFile, output);
    assert.ok(fs.readFileSync(secretFile, 'utf8').includes(`${serve!.url}/console`), 'banner names the console');
    assert.match(output, new RegExp(`"console":"${serve!.url}/console"`));
  });

  it('runs every command block from "Get a token" to "Migrating" in order, without an error', async () => {
    const blocks = shellBlocks(
      README,
      '## Get a token, exactly as the OneGround document shows',
      '### Migrating from Keycloak or Open Zaak',
    );
    assert.ok(blocks.length >= 7, `found ${blocks.length} blocks`);
    const script = ['set -euo pipefail', ...blocks].join('\n').replaceAll('http://127.0.0.1:8080', serve!.url);
    const result = await runBash(script, {
      cwd: ROOT,
      env: { ...process.env, ZGW_AUTH_DATA_DIR: dataDir },
      input: `${firstAdminSecret(serve!.output())}\n`,
      timeoutMs: 240_000,
    });
    const shown = `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
    assert.equal(result.code, 0, shown);
    // curl exits 0 on an error answer: none may be an OAuth error or a problem document.
    assert.doesNotMatch(result.stdout, /"error"\s*:|"status"\s*:\s*[45]\d\d/, shown);
    // The three ways of "Get a token" each got one.
    assert.equal(result.stdout.match(/"access_token":"ey/g)?.length, 3, shown);
    // The organisation administrator created its client in its own organisation.
    assert.match(result.stdout, /"clientId":"buurdorp-zaaksysteem"[^\n]*"rsin":"111222333"/, shown);
  });

  it('refuses `organisations create` for an organisation registered with its first client, naming `organisations update`', async () => {
    // What the README says of the command, not a block of it: run in this process (cliInProcess).
    const env = { ZGW_AUTH_DATA_DIR: dataDir };
    const created = await cliInProcess(['clients', 'create', '--client-id', 'eerste', '--rsin', '100000010'], env);
    assert.equal(created.code, 0, created.stderr);
    const result = await cliInProcess(
      ['organisations', 'create', '--rsin', '100000010', '--name', 'Gemeente Later'],
      env,
    );
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(
      result.stderr,
      /organisation "100000010" already exists: it was registered automatically with its first client.*organisations update 100000010 --name/,
    );
  });
});
