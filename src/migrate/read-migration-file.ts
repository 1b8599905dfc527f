import fs from 'node:fs';
import { ValidationError } from '../errors.js';
import { locateJsonError } from './locate-json-error.js';

/** Realm exports with users inline can be large; anything beyond this is not a client list. */
export const MAX_MIGRATION_FILE_BYTES = 32 * 1024 * 1024;

/** Reads a migration source file as JSON: bounded, UTF-8, and every failure named with the file. */
export function readMigrationFile(file: string): unknown {
  let bytes: Buffer;
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) throw new ValidationError(`${file}: not a file`);
    if (stat.size > MAX_MIGRATION_FILE_BYTES) throw tooLarge(file);
    bytes = fs.readFileSync(file);
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw new ValidationError(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  // It may have grown between the two looks.
  if (bytes.length > MAX_MIGRATION_FILE_BYTES) throw tooLarge(file);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ValidationError(`${file}: not UTF-8 text`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // JSON.parse's message quotes the text around the fault, which may be part of a secret: the place only.
    const at = locateJsonError(text);
    throw new ValidationError(
      `${file}: not valid JSON${at ? `: ${at.problem} at line ${at.line}, column ${at.column}` : ''}`,
    );
  }
}

function tooLarge(file: string): ValidationError {
  return new ValidationError(
    `${file}: larger than ${MAX_MIGRATION_FILE_BYTES / 1024 / 1024} MiB; export the realm without its users`,
  );
}
