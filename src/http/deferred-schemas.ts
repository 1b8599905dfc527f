import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';

/** An Ajv validate function as Fastify calls it: `errors` after a refusal, `schemaEnv` to pass the parent. */
interface Validate {
  (data: unknown, context?: unknown): unknown;
  errors?: unknown;
  schemaEnv?: unknown;
}
type Serialize = (data: unknown) => string;
type SerializerCompiler = (route: { schema?: unknown }) => Serialize;
type SerializerFactory = (externalSchemas: unknown, options: unknown) => SerializerCompiler;

/** What Fastify's default compilers deferred: how many schemas were compiled so far, and how many wait for a first request. */
export interface DeferredSchemas {
  /** For the Fastify options: validators (Ajv, as Fastify configures it) and serializers (fast-json-stringify) compiled on first use. */
  ajv: NonNullable<FastifyServerOptions['ajv']>;
  buildSerializer: SerializerFactory;
  counts(): { compiled: number; waiting: number };
  /** Compiles every schema not compiled yet: a schema that cannot be compiled throws here. */
  compileAll(): void;
}

/**
 * Fastify compiles every route's request and response schemas when the server gets ready: ~0.4 s
 * of CPU at each start, for some 40 schemas of which a server may use a handful (a token server
 * answers /token and the discovery documents; the admin API's schemas serve its callers only).
 * Here each is compiled on its first request instead, by the same compilers with the same options:
 * validators by Fastify's Ajv (wrapped where Ajv is made, so that Fastify treats them as its own),
 * serializers by Fastify's fast-json-stringify compiler, loaded from Fastify's own dependencies.
 */
export function deferredSchemas(customOptions: Record<string, unknown>): DeferredSchemas {
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
  let serializerFactory: SerializerFactory | undefined;
  const defaultSerializerFactory = () => {
    // Fastify's own default, as it would load it (not a dependency of ours, so not imported by name).
    serializerFactory ??= (
      createRequire(import.meta.resolve('fastify'))('@fastify/fast-json-stringify-compiler') as () => SerializerFactory
    )();
    return serializerFactory;
  };
  return {
    ajv: {
      customOptions,
      onCreate(ajv) {
        const compileNow = ajv.compile.bind(ajv) as (schema: unknown) => Validate;
        ajv.compile = ((schema: unknown) => {
          const get = onFirstUse(() => compileNow(schema));
          const validate: Validate = (data, context) => {
            const real = get();
            const ok = real(data, context);
            validate.errors = real.errors;
            return ok;
          };
          // Fastify reads it before each call: with it, Ajv may replace the request part it coerced.
          Object.defineProperty(validate, 'schemaEnv', { get: () => get().schemaEnv });
          return validate;
        }) as unknown as typeof ajv.compile;
      },
    },
    buildSerializer(externalSchemas, options) {
      return (route) => {
        const get = onFirstUse(() => defaultSerializerFactory()(externalSchemas, options)(route));
        return (data) => get()(data);
      };
    },
    counts: () => ({ compiled, waiting: waiting.size }),
    compileAll() {
      for (const get of [...waiting]) get();
    },
  };
}
