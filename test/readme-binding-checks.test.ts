import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { accessTokenHash } from '@zgw-auth/verifier';
import { signJws } from '@zgw-auth/verifier/testing';
import { Clock, startTestServer, type TestServer } from './helpers.js';

/**
 * The README's "APIs in other languages" blocks, run as printed: an API that is not built on the
 * verifier introspects the token at a running zgw-auth and then checks its binding with the README's
 * Python (PyJWT, Debian's python3-jwt) or Java (JDK 17 and Gson, Debian's libgoogle-gson-java)
 * code. Both must accept the holder of the key or certificate and refuse everyone else.
 */
const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const FIXTURES = path.join(ROOT, 'test/fixtures/bound-tokens');
const GSON = '/usr/share/java/gson.jar';
const API = 'https://zaken.example/zaken/api/v1/zaken';

/** The fenced block of `lang` right after the README's marker comment `<!-- readme-snippet: name ... -->`. */
function snippet(name: string, lang: string): string {
  const at = README.indexOf(`<!-- readme-snippet: ${name} `);
  assert.ok(at >= 0, `README has no snippet marked ${name}`);
  const block = new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\`$`, 'm').exec(README.slice(at));
  assert.ok(block, `no ${lang} block after the ${name} marker`);
  return block[1]!;
}

interface Case {
  name: string;
  token: string;
  authorization: string;
  dpop: string | null;
  method: string;
  url: string;
  /** A DER file: the TLS client certificate the API saw, or none. */
  cert: string | null;
  /** `ok`, or what the refusal must say. */
  expect: 'ok' | RegExp;
}

type Outcome = { ok: true } | { refused: string };

/** A key pair that makes DPoP proofs at the real time, as a client would. */
function dpopKey(alg: 'ES256' | 'PS256') {
  const pair =
    alg === 'ES256'
      ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = pair.publicKey.export({ format: 'jwk' });
  return {
    proof(claims: Record<string, unknown>, signWith: crypto.KeyObject = pair.privateKey) {
      return signJws(
        { alg, typ: 'dpop+jwt', jwk } as { alg: string },
        { jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000), ...claims },
        signWith,
      );
    },
  };
}

const PYTHON_DRIVER = `
import json, sys, requests
from binding_check import check_binding

server, client_id, secret, cases_file = sys.argv[1:5]
introspected, seen, results = {}, {}, []
for case in json.load(open(cases_file)):
    token = case["token"]
    if token not in introspected:
        answer = requests.post(server + "/introspect", data={"token": token}, auth=(client_id, secret))
        answer.raise_for_status()
        introspected[token] = answer.json()
    cert = open(case["cert"], "rb").read() if case["cert"] else None
    try:
        check_binding(introspected[token], case["authorization"], case["dpop"], case["method"], case["url"], cert, seen)
        results.append({"ok": True})
    except Exception as e:
        results.append({"refused": type(e).__name__ + ": " + str(e)})
print(json.dumps(results))
`;

const JAVA_DRIVER = `
public class Check {
  public static void main(String[] args) throws Exception {
    String server = args[0], credentials = args[1] + ":" + args[2];
    java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
    java.util.Map<String, com.google.gson.JsonObject> introspected = new java.util.HashMap<>();
    java.util.Map<String, Long> seen = new java.util.HashMap<>();
    com.google.gson.JsonArray results = new com.google.gson.JsonArray();
    String cases = java.nio.file.Files.readString(java.nio.file.Path.of(args[3]));
    for (com.google.gson.JsonElement element : com.google.gson.JsonParser.parseString(cases).getAsJsonArray()) {
      com.google.gson.JsonObject c = element.getAsJsonObject();
      String token = c.get("token").getAsString();
      if (!introspected.containsKey(token)) {
        java.net.http.HttpRequest request = java.net.http.HttpRequest.newBuilder(java.net.URI.create(server + "/introspect"))
            .header("authorization", "Basic " + java.util.Base64.getEncoder().encodeToString(credentials.getBytes()))
            .header("content-type", "application/x-www-form-urlencoded")
            .POST(java.net.http.HttpRequest.BodyPublishers.ofString("token=" + java.net.URLEncoder.encode(token, "UTF-8")))
            .build();
        String body = http.send(request, java.net.http.HttpResponse.BodyHandlers.ofString()).body();
        introspected.put(token, com.google.gson.JsonParser.parseString(body).getAsJsonObject());
      }
      byte[] cert = c.get("cert").isJsonNull() ? null : java.nio.file.Files.readAllBytes(java.nio.file.Path.of(c.get("cert").getAsString()));
      String dpop = c.get("dpop").isJsonNull() ? null : c.get("dpop").getAsString();
      com.google.gson.JsonObject result = new com.google.gson.JsonObject();
      try {
        BindingCheck.check(introspected.get(token), c.get("authorization").getAsString(), dpop,
            c.get("method").getAsString(), c.get("url").getAsString(), cert, seen);
        result.addProperty("ok", true);
      } catch (Exception e) {
        result.addProperty("refused", e.getClass().getSimpleName() + ": " + e.getMessage());
      }
      results.add(result);
    }
    System.out.println(results);
  }
}
`;

describe("the README's binding checks for APIs in other languages, against a running zgw-auth", () => {
  let ts: TestServer;
  let introspector: { clientId: string; secret: string };
  let dir: string;
  let cases: Case[];

  before(async () => {
    const clock = new Clock();
    clock.now = () => Date.now();
    ts = await startTestServer({ clock });
    const client = await ts.createClient({ allowedScopes: ['zaken.lezen'] });
    introspector = await ts.createClient({ allowedScopes: ['zgw-auth:introspect'] });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-readme-binding-'));

    const issued = async (proof: string) => {
      const res = await fetch(`${ts.url}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${client.clientId}:${client.secret}`).toString('base64')}`,
          dpop: proof,
        },
        body: 'grant_type=client_credentials&scope=zaken.lezen',
      });
      const json = (await res.json()) as { access_token: string; token_type: string };
      assert.equal(json.token_type, 'DPoP');
      return json.access_token;
    };
    const owner = dpopKey('ES256');
    const thief = dpopKey('ES256');
    const rsa = dpopKey('PS256');
    const dpopToken = await issued(owner.proof({ htm: 'POST', htu: `${ts.url}/token` }));
    const rsaToken = await issued(rsa.proof({ htm: 'POST', htu: `${ts.url}/token` }));
    // Certificate-bound to client A's certificate, as /token binds a client that authenticated with it.
    const der = (name: string) => {
      const file = path.join(dir, `${name}.der`);
      fs.writeFileSync(file, new crypto.X509Certificate(fs.readFileSync(path.join(FIXTURES, `${name}.crt`))).raw);
      return file;
    };
    const [certA, certB] = [der('client-a'), der('client-b')];
    const x5t = crypto.createHash('sha256').update(fs.readFileSync(certA)).digest('base64url');
    const registered = await ts.app.clients.get(client.clientId);
    const certToken = (await ts.app.issuer.issue(registered, ['zaken.lezen'], { 'x5t#S256': x5t })).accessToken;
    const bearerToken = await ts.token(client.clientId, client.secret, 'zaken.lezen');

    const ath = accessTokenHash(dpopToken);
    const call = { htm: 'GET', htu: API, ath };
    const replayed = owner.proof(call);
    const dpopCase = (name: string, dpop: string | null, expect: Case['expect'], more: Partial<Case> = {}): Case => ({
      name,
      token: dpopToken,
      authorization: `DPoP ${dpopToken}`,
      dpop,
      method: 'GET',
      url: API,
      cert: null,
      expect,
      ...more,
    });
    cases = [
      dpopCase('the holder of the key', replayed, 'ok'),
      dpopCase('the same proof again', replayed, /replayed proof/),
      dpopCase('a proof of another key', thief.proof(call), /another key/),
      dpopCase('the holder, the URL as the client wrote it', owner.proof({ ...call, htu: `${API}?x=1` }), 'ok', {
        url: 'https://ZAKEN.example:443/zaken/api/v1/zaken?status=open',
      }),
      dpopCase('a proof for another URL', owner.proof({ ...call, htu: `${API}/other` }), /another request/),
      dpopCase('a proof for another method', owner.proof({ ...call, htm: 'POST' }), /another request/),
      dpopCase('a proof for another token', owner.proof({ ...call, ath: accessTokenHash('x') }), /another token/),
      dpopCase('an old proof', owner.proof({ ...call, iat: Math.floor(Date.now() / 1000) - 600 }), /too old/),
      dpopCase(
        'a forged signature',
        owner.proof(call, crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
        /ignature/,
      ),
      dpopCase('no proof', null, /send Authorization: DPoP/),
      dpopCase('the token sent as Bearer', owner.proof(call), /send Authorization: DPoP/, {
        authorization: `Bearer ${dpopToken}`,
      }),
      dpopCase('a PS256 key', rsa.proof({ ...call, ath: accessTokenHash(rsaToken) }), 'ok', {
        token: rsaToken,
        authorization: `DPoP ${rsaToken}`,
      }),
      {
        name: 'the certificate the token is bound to',
        token: certToken,
        authorization: `Bearer ${certToken}`,
        dpop: null,
        method: 'GET',
        url: API,
        cert: certA,
        expect: 'ok',
      },
      {
        name: 'another certificate',
        token: certToken,
        authorization: `Bearer ${certToken}`,
        dpop: null,
        method: 'GET',
        url: API,
        cert: certB,
        expect: /without its certificate/,
      },
      {
        name: 'no certificate',
        token: certToken,
        authorization: `Bearer ${certToken}`,
        dpop: null,
        method: 'GET',
        url: API,
        cert: null,
        expect: /without its certificate/,
      },
      {
        name: 'an unbound bearer token',
        token: bearerToken,
        authorization: `Bearer ${bearerToken}`,
        dpop: null,
        method: 'GET',
        url: API,
        cert: null,
        expect: 'ok',
      },
    ];
    fs.writeFileSync(path.join(dir, 'cases.json'), JSON.stringify(cases));
  });
  after(async () => {
    await ts?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  function assertOutcomes(outcomes: Outcome[], refusal: string): void {
    assert.equal(outcomes.length, cases.length);
    cases.forEach((c, i) => {
      const outcome = outcomes[i]!;
      if (c.expect === 'ok') assert.deepEqual(outcome, { ok: true }, c.name);
      else {
        assert.ok('refused' in outcome, `${c.name}: must be refused`);
        assert.match(outcome.refused, c.expect, c.name);
        // The designed refusals, not a crash on the way (a signature error is the JWT library's own).
        if (!/ignature/.test(String(c.expect))) assert.match(outcome.refused, new RegExp(`^${refusal}:`), c.name);
      }
    });
  }

  it('Python (PyJWT): the README block as printed', async () => {
    fs.writeFileSync(path.join(dir, 'binding_check.py'), snippet('python-binding-check', 'python'));
    fs.writeFileSync(path.join(dir, 'driver.py'), PYTHON_DRIVER);
    const { stdout } = await run(
      '/usr/bin/python3',
      ['driver.py', ts.url, introspector.clientId, introspector.secret, 'cases.json'],
      { cwd: dir },
    );
    assertOutcomes(JSON.parse(stdout) as Outcome[], 'PermissionError');
  });

  it('Java 17 (Gson): the README block as printed, as a single-file program', async () => {
    const block = snippet('java-binding-check', 'java');
    const imports = block.split('\n').filter((l) => l.startsWith('import '));
    const rest = block
      .split('\n')
      .filter((l) => !l.startsWith('import '))
      .join('\n');
    // The launcher runs the first class of the file: the driver's main, then the README's class.
    fs.writeFileSync(path.join(dir, 'Check.java'), `${imports.join('\n')}\n${JAVA_DRIVER}\n${rest}`);
    const { stdout } = await run(
      'java',
      ['-cp', GSON, 'Check.java', ts.url, introspector.clientId, introspector.secret, 'cases.json'],
      { cwd: dir, timeout: 120_000 },
    );
    assertOutcomes(JSON.parse(stdout) as Outcome[], 'SecurityException');
  });

  it('shows no .NET code: it could not be run here', () => {
    const section = README.slice(
      README.indexOf('### APIs in other languages'),
      README.indexOf('## NL GOV OAuth profile'),
    );
    assert.doesNotMatch(section, /```(cs|csharp|c#|dotnet)/i);
    assert.match(section, /no\s+\.NET example/);
  });
});
