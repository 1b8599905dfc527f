/**
 * The ZGW decision for a verified caller: its client id's applicatie, from the source the API
 * gives, and the reference's rules (decide.ts). Fails closed: without an answer from the source,
 * nothing is allowed.
 */
import type { Applicatie } from './applicatie.js';
import { type ApplicatieLookup, type ApplicatieSource, AutorisatiesUnavailable } from './applicatie-source.js';
import {
  type AutorisatieRequest,
  type Decision,
  decide,
  type RefusalReason,
  refused,
  visible,
  type Visible,
} from './decide.js';

/** Who asks: a verified principal (its `clientId`), or the client id itself. */
export type Caller = { readonly clientId: string } | string;

/**
 * A refused request. `status` 403 (`permission_denied`) when the client may not, 503 when the
 * applicaties could not be read (`unavailable`): both refuse; the second says "try again".
 */
export class AutorisatieRefused extends Error {
  readonly status: 403 | 503;

  constructor(
    readonly reason: RefusalReason,
    options?: { cause?: unknown },
  ) {
    super(
      reason === 'unavailable'
        ? 'the autorisaties cannot be read right now'
        : `no permission for this operation (${reason})`,
      options,
    );
    this.name = 'AutorisatieRefused';
    this.status = reason === 'unavailable' ? 503 : 403;
  }
}

export interface AutorisatiesOptions {
  /** `remoteApplicaties(...)` for an Autorisaties API over HTTP, or a lookup function of your own. */
  applicaties: ApplicatieSource | ApplicatieLookup;
  /** A failure of the source, for your log (the decision is a refusal meanwhile). */
  onError?: (err: unknown) => void;
}

export interface Autorisaties {
  /** Allowed or refused, with the reason; never throws (a source that cannot answer: `unavailable`). */
  decide(caller: Caller, request: AutorisatieRequest): Promise<Decision>;
  /** Resolves when allowed; rejects with AutorisatieRefused (403, or 503 when the source cannot answer). */
  check(caller: Caller, request: AutorisatieRequest): Promise<void>;
  /**
   * What the caller may see of a component with these scopes: everything, or which types up to
   * which level (for a list's query), and `allows(object)` to filter in memory. Rejects with
   * AutorisatieRefused (503) when the source cannot answer.
   */
  visible(caller: Caller, request: Pick<AutorisatieRequest, 'component' | 'scopes'>): Promise<Visible>;
}

export function createAutorisaties(options: AutorisatiesOptions): Autorisaties {
  const lookup = typeof options.applicaties === 'function' ? options.applicaties : options.applicaties.lookup;

  const report = (err: unknown) => {
    try {
      options.onError?.(err);
    } catch {
      // The host's logger; its failure must not change the decision.
    }
  };

  /** The caller's applicatie: at hand when the source answers from memory, else a promise. */
  function applicatieOf(caller: Caller): Applicatie | undefined | Promise<Applicatie | undefined> {
    const clientId = typeof caller === 'string' ? caller : caller?.clientId;
    if (typeof clientId !== 'string' || clientId === '') return undefined;
    return lookup(clientId);
  }

  /** Never throws: whatever goes wrong on the way (the source, an applicatie of the wrong shape) refuses. */
  function decideSafely(applicatie: Applicatie | undefined, request: AutorisatieRequest): Decision {
    try {
      return decide(applicatie, request);
    } catch (err) {
      report(err);
      return refused('unavailable');
    }
  }

  /** The decision: at once when the applicatie is at hand, else when the source answers. */
  function decision(caller: Caller, request: AutorisatieRequest): Decision | Promise<Decision> {
    let found: Applicatie | undefined | Promise<Applicatie | undefined>;
    try {
      found = applicatieOf(caller);
    } catch (err) {
      if (!(err instanceof AutorisatiesUnavailable)) report(err);
      return refused('unavailable');
    }
    // A lookup may answer with any thenable, not only a native promise.
    if (typeof (found as { then?: unknown } | undefined)?.then !== 'function')
      return decideSafely(found as Applicatie | undefined, request);
    return Promise.resolve(found).then(
      (applicatie) => decideSafely(applicatie, request),
      (err: unknown) => {
        if (!(err instanceof AutorisatiesUnavailable)) report(err);
        return refused('unavailable');
      },
    );
  }

  return {
    decide(caller, request) {
      // No async function around it: a decision at hand costs one resolved promise, not two.
      const d = decision(caller, request);
      return d instanceof Promise ? d : Promise.resolve(d);
    },
    async check(caller, request) {
      const d = await decision(caller, request);
      if (!d.allowed) throw new AutorisatieRefused(d.reason);
    },
    async visible(caller, request) {
      let applicatie: Applicatie | undefined;
      try {
        applicatie = await applicatieOf(caller);
      } catch (err) {
        if (!(err instanceof AutorisatiesUnavailable)) report(err);
        throw new AutorisatieRefused('unavailable', { cause: err });
      }
      try {
        return visible(applicatie, request);
      } catch (err) {
        report(err);
        throw new AutorisatieRefused('unavailable', { cause: err });
      }
    },
  };
}
