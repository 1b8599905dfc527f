import { ValidationError } from '../errors.js';

/**
 * Readers for a migration file's JSON that check each value they hand out: a file of the wrong
 * shape is refused with the path of the first wrong value, never read as something else.
 */
export type JsonObject = Record<string, unknown>;

function wrong(path: string, expected: string, value: unknown): ValidationError {
  const got =
    value === null
      ? 'null'
      : Array.isArray(value)
        ? 'an array'
        : typeof value === 'object'
          ? 'an object'
          : typeof value;
  return new ValidationError(`${path}: expected ${expected}, got ${got}`);
}

export function asObject(value: unknown, path: string): JsonObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw wrong(path, 'an object', value);
  return value as JsonObject;
}

export function asArray(value: unknown, path: string, max: number): unknown[] {
  if (!Array.isArray(value)) throw wrong(path, 'an array', value);
  if (value.length > max) throw new ValidationError(`${path}: more than ${max} entries`);
  return value;
}

export function asString(value: unknown, path: string, max: number): string {
  if (typeof value !== 'string') throw wrong(path, 'a string', value);
  if (value.length > max) throw new ValidationError(`${path}: longer than ${max} characters`);
  return value;
}

/** A field that may be absent (or null); when present, of the given kind. */
export function optString(o: JsonObject, key: string, path: string, max: number): string | undefined {
  return o[key] == null ? undefined : asString(o[key], `${path}.${key}`, max);
}

export function optBoolean(o: JsonObject, key: string, path: string): boolean | undefined {
  const v = o[key];
  if (v == null) return undefined;
  if (typeof v !== 'boolean') throw wrong(`${path}.${key}`, 'true or false', v);
  return v;
}

/** An object whose values are all strings, as Keycloak writes attributes and mapper config. */
export function optStringMap(
  o: JsonObject,
  key: string,
  path: string,
  maxEntries: number,
  maxLength: number,
): Record<string, string> {
  const v = o[key];
  if (v == null) return {};
  const map = asObject(v, `${path}.${key}`);
  const entries = Object.entries(map);
  if (entries.length > maxEntries) throw new ValidationError(`${path}.${key}: more than ${maxEntries} entries`);
  // fromEntries defines own properties: a "__proto__" key stays a plain key.
  return Object.fromEntries(
    entries.map(([k, value]) => [k, asString(value, `${path}.${key}[${JSON.stringify(k.slice(0, 60))}]`, maxLength)]),
  );
}
