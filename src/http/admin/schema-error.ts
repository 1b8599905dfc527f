import type { FastifySchemaValidationError } from 'fastify';
import { RSIN_PATTERN, RSIN_RULE } from '../../clients/rsin.js';
import { CLIENT_ID_PATTERN, CLIENT_ID_RULE, SCOPE_PATTERN, SCOPE_RULE } from '../../clients/validate.js';
import { ValidationError } from '../../errors.js';

/** A failed pattern is told by the rule it stands for, in the registry's words, not as a regular expression. */
const PATTERN_RULES = new Map([
  [CLIENT_ID_PATTERN.source, `client id (${CLIENT_ID_RULE})`],
  [SCOPE_PATTERN.source, `scope (${SCOPE_RULE})`],
  [RSIN_PATTERN.source, `RSIN (${RSIN_RULE})`],
]);

const unescapePointer = (segment: string) => segment.replace(/~1/g, '/').replace(/~0/g, '~');

/**
 * The admin API's schema refusals as a ValidationError naming the field, so that they read like
 * the registry's own refusals: `body/clientId is not a valid client id (1-50 characters …)`.
 */
export function schemaError(errors: FastifySchemaValidationError[], dataVar: string): ValidationError {
  const error = errors[0];
  if (!error) return new ValidationError(`${dataVar} is not valid`);
  const path = error.instancePath.split('/').slice(1).map(unescapePointer);
  const where = [dataVar, ...path].join('/').slice(0, 200);
  const named =
    error.keyword === 'required'
      ? error.params.missingProperty
      : error.keyword === 'additionalProperties'
        ? error.params.additionalProperty
        : undefined;
  const field = typeof named === 'string' ? named.slice(0, 60) : path[0];
  const rule = error.keyword === 'pattern' ? PATTERN_RULES.get(String(error.params.pattern)) : undefined;
  let message = `${where} ${error.message ?? 'is not valid'}`;
  if (rule) message = `${where} is not a valid ${rule}`;
  else if (error.keyword === 'additionalProperties')
    message = `${where} must NOT have additional properties: "${field}" is not a field here`;
  return new ValidationError(message, field);
}
