import { Busboy } from '#busboy';
import type { FastifyInstance } from 'fastify';
import { CONTROL_CHARACTERS } from '../control-characters.js';
import { invalidRequest } from '../errors.js';

export const FORM_BODY_LIMIT = 16 * 1024;
const MAX_FIELDS = 32;

/**
 * Parameters of an OAuth request body. RFC 6749 §3.2: empty parameters count as omitted, and a
 * parameter sent twice is an invalid_request.
 */
export class FormBody {
  private constructor(private readonly values: Map<string, string[]>) {}

  static from(pairs: Iterable<[string, string]>): FormBody {
    const values = new Map<string, string[]>();
    let count = 0;
    for (const [k, v] of pairs) {
      if (++count > MAX_FIELDS) throw invalidRequest(`too many parameters (at most ${MAX_FIELDS})`);
      if (CONTROL_CHARACTERS.test(k) || CONTROL_CHARACTERS.test(v))
        throw invalidRequest('parameters must not contain control characters');
      if (v === '') continue;
      const list = values.get(k);
      if (list) list.push(v);
      else values.set(k, [v]);
    }
    return new FormBody(values);
  }

  static empty(): FormBody {
    return new FormBody(new Map());
  }

  get(name: string): string | undefined {
    const list = this.values.get(name);
    if (!list) return undefined;
    if (list.length > 1) throw invalidRequest(`parameter "${name}" is included more than once`);
    return list[0];
  }
}

/** Registers form parsers in the calling plugin's scope (urlencoded per RFC 6749, multipart per the seed). */
export function registerFormParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT },
    (_req, body, done) => {
      formBody(new URLSearchParams(body as string), done);
    },
  );
  app.addContentTypeParser(
    'multipart/form-data',
    { parseAs: 'buffer', bodyLimit: FORM_BODY_LIMIT },
    (req, body, done) => {
      parseMultipart(req.headers, body as Buffer).then(
        (pairs) => formBody(pairs, done),
        (err: Error) => done(err),
      );
    },
  );
}

/** Every refusal reaches `done`: a throw past a parser would leave the request unanswered. */
function formBody(pairs: Iterable<[string, string]>, done: (err: Error | null, body?: FormBody) => void): void {
  let body: FormBody;
  try {
    body = FormBody.from(pairs);
  } catch (err) {
    return done(err as Error);
  }
  done(null, body);
}

function parseMultipart(
  headers: Record<string, string | string[] | undefined>,
  body: Buffer,
): Promise<Array<[string, string]>> {
  return new Promise((resolve, reject) => {
    let bb: InstanceType<typeof Busboy>;
    try {
      bb = new Busboy({
        headers: headers as { 'content-type': string },
        limits: { fields: MAX_FIELDS, fieldSize: FORM_BODY_LIMIT, files: 0, parts: MAX_FIELDS },
      });
    } catch {
      return reject(invalidRequest('malformed multipart/form-data (missing or invalid boundary)'));
    }
    const pairs: Array<[string, string]> = [];
    let failed: Error | undefined;
    let settled = false;
    const fail = (err: Error) => {
      failed ??= err;
    };
    const settle = () => {
      if (settled) return;
      settled = true;
      if (failed) reject(failed);
      else resolve(pairs);
    };
    bb.on('field', (name: string, value: string, nameTruncated: boolean, valueTruncated: boolean) => {
      if (nameTruncated || valueTruncated) fail(invalidRequest('parameter too long'));
      pairs.push([name, value]);
    });
    bb.on('file', (_name: string, stream: NodeJS.ReadableStream) => {
      stream.resume();
      fail(invalidRequest('file uploads are not accepted here'));
    });
    bb.on('filesLimit', () => fail(invalidRequest('file uploads are not accepted here')));
    bb.on('fieldsLimit', () => fail(invalidRequest(`too many parameters (at most ${MAX_FIELDS})`)));
    bb.on('partsLimit', () => fail(invalidRequest(`too many parts (at most ${MAX_FIELDS})`)));
    bb.on('error', () => {
      fail(invalidRequest('malformed multipart/form-data body'));
      settle();
    });
    bb.on('finish', settle);
    bb.end(body);
    // The whole body is in memory: a parser that has neither finished nor failed by now never will.
    setImmediate(() => {
      fail(invalidRequest('malformed multipart/form-data body'));
      settle();
    });
  });
}
