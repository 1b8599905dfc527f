import assert from 'node:assert/strict';
import { postForm, request, type HttpResult, type TestServer } from './helpers.js';

/** A browser-less console session: its cookie and its form token. */
export interface ConsoleClient {
  cookie: string;
  csrf: string;
  get(path: string): Promise<HttpResult>;
  post(
    path: string,
    fields: Record<string, string>,
    options?: { csrf?: string | false; origin?: string | false },
  ): Promise<HttpResult>;
}

/** The session cookie (name=value) a response sets, or undefined. */
export function sessionCookieOf(res: HttpResult): string | undefined {
  const set = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  return set.find((c) => /^(__Host-)?zgw-auth-console=[^;]+/.test(c));
}

export function csrfOf(html: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(html);
  assert.ok(m, 'page has a CSRF field');
  return m[1]!;
}

/** Signs in through the console's form and reads the form token from the first page. */
export async function consoleSignIn(
  ts: TestServer,
  clientId = ts.admin.clientId,
  secret = ts.admin.secret,
): Promise<ConsoleClient> {
  const res = await postForm(
    `${ts.url}/console/sign-in`,
    { client_id: clientId, client_secret: secret },
    { origin: ts.url },
  );
  assert.equal(res.status, 303, res.text);
  const set = sessionCookieOf(res);
  assert.ok(set, 'a session cookie is set');
  const cookie = set.split(';')[0]!;
  const first = await request(`${ts.url}/console/clients`, { headers: { cookie } });
  assert.equal(first.status, 200, first.text);
  const client: ConsoleClient = {
    cookie,
    csrf: csrfOf(first.text),
    get: (path) => request(`${ts.url}${path}`, { headers: { cookie } }),
    post: (path, fields, options = {}) => {
      const csrf = options.csrf === undefined ? client.csrf : options.csrf;
      const origin = options.origin === undefined ? ts.url : options.origin;
      return postForm(
        `${ts.url}${path}`,
        { ...fields, ...(csrf !== false ? { csrf } : {}) },
        { cookie, ...(origin !== false ? { origin } : {}) },
      );
    },
  };
  return client;
}
