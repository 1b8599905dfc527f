import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';

/** An Ajv validate function as Fastify calls it: `errors` after a refusal, `schemaEnv` to pass the parent. */
interface Validate {
  (data: unknown, context?: unknown): unknown;
  errors?: unknown;
  schemaEnv?: unknown;
}
type ValidatorCompiler = (route: { schema?: unknown; httpPart?: string; method?: string; url?: string }) => Validate;
type ValidatorFactory = (externalSchemas: unknown, options: unknown) => ValidatorCompiler;
type Serialize = (data: unknown) => string;
type SerializerCompiler = (route: { schema?: unknown }) => Serialize;
type SerializerFactory = (externalSchemas: unknown, options: unknown) => SerializerCompiler;

/** What Fastify's default compilers deferred: how many schemas were compiled so far, and how many wait for a first request. */
export interface DeferredSchemas {
  /** For Fastify's schemaController.compilersFactory: validators (Fastify's Ajv) and serializers (fast-json-stringify) compiled on first use. */
  compilersFactory: NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
  counts(): { compiled: number; waiting: number };
  /** Compiles every schema not compiled yet: a schema that cannot be compiled throws here. */
  compileAll(): void;
}

/**
 * Fastify compiles every route's request and response schemas when the server gets ready: ~0.4 s
 * of CPU at each start, for some 40 schemas of which a server may use a handful (a token server
 * answers /token and the discovery documents; the admin API's schemas serve its callers only).
 * Here each is compiled on its first request instead, by the compilers Fastify would use (loaded
 * from Fastify's own dependencies, with the server's ajv and serializerOpts options), and those
 * compilers and Ajv itself are loaded and made only then: a start loads neither.
 */
export function deferredSchemas(): DeferredSchemas {
  const waiting = new Set<() => unknown>();
  let compiled = 0;
  /** `compile` once, on the first call of the returned function. */
  const onFirstUse = <F>(compile: () => F): (() => F) => {
    let done: F | undefined;
    const get = () => {
      if (done === undefined) {
        done = compile();
        waiting.delete(get);
        compiled++;
      }
      return done;
    };
    waiting.add(get);
    return get;
  };
  // Fastify's own defaults, as it would load them (not dependencies of ours, so not imported by name).
  const fromFastify = <T>(name: string) => createRequire(import.meta.resolve('fastify'))(name) as () => T;
  let validatorFactory: ValidatorFactory | undefined;
  let serializerFactory: SerializerFactory | undefined;
  const compilersFactory: { buildValidator: ValidatorFactory; buildSerializer: SerializerFactory } = {
    buildValidator(externalSchemas, options) {
      let compiler: ValidatorCompiler | undefined;
      return (route) => {
        // With a compiler of its own Fastify passes header schemas as written, not lower-cased as
        // Node gives the headers: refused at start rather than never matching a header.
        if (route.httpPart === 'headers')
          throw new Error(`${route.method} ${route.url}: no header schemas (they would not be lower-cased)`);
        const get = onFirstUse(() => {
          validatorFactory ??= fromFastify<ValidatorFactory>('@fastify/ajv-compiler')();
          compiler ??= validatorFactory(externalSchemas, options);
          return compiler(route);
        });
        const validate: Validate = (data, context) => {
          const real = get();
          const ok = real(data, context);
          validate.errors = real.errors;
          return ok;
        };
        // Fastify reads it before each call: with it, Ajv may replace the request part it coerced.
        Object.defineProperty(validate, 'schemaEnv', { get: () => get().schemaEnv });
        return validate;
      };
    },
    buildSerializer(externalSchemas, options) {
      return (route) => {
        const get = onFirstUse(() => {
          serializerFactory ??= fromFastify<SerializerFactory>('@fastify/fast-json-stringify-compiler')();
          return serializerFactory(externalSchemas, options)(route);
        });
        return (data) => get()(data);
      };
    },
  };
  return {
    // Fastify's types describe Ajv's function; Fastify itself calls it as Validate says.
    compilersFactory: compilersFactory as unknown as DeferredSchemas['compilersFactory'],
    counts: () => ({ compiled, waiting: waiting.size }),
    compileAll() {
      for (const get of [...waiting]) get();
    },
  };
}
