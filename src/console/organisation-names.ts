import { AdminApiProblem, type AdminApi } from './admin-api.js';
import { html, type SafeHtml } from './html.js';

/** RSIN → organisation name, for the RSINs a page shows. */
export type OrganisationNames = ReadonlyMap<string, string>;

const MAX_LOOKUPS = 50;

/**
 * The names of the organisations of these RSINs, each read from the admin API (which lets a global
 * administrator read any and an organisation administrator its own); an RSIN it does not answer for
 * keeps no name and is shown bare.
 */
export async function organisationNames(
  api: AdminApi,
  rsins: Iterable<string | null | undefined>,
): Promise<OrganisationNames> {
  const unique = [...new Set([...rsins].filter((r): r is string => typeof r === 'string' && /^\d{9}$/.test(r)))].slice(
    0,
    MAX_LOOKUPS,
  );
  const found = await Promise.all(
    unique.map(async (rsin) => {
      try {
        return [rsin, (await api.get<{ name: string }>(`/organisations/${rsin}`)).name] as const;
      } catch (err) {
        if (err instanceof AdminApiProblem && err.status < 500) return undefined;
        throw err;
      }
    }),
  );
  return new Map(found.filter((f) => f !== undefined));
}

/** An organisation as people know it: its name, with the RSIN in a smaller line; the bare RSIN when the name is unknown. */
export function organisationLabel(names: OrganisationNames, rsin: string): SafeHtml {
  const name = names.get(rsin);
  return name && name !== rsin ? html`${name} <span class="console-rsin">(${rsin})</span>` : html`${rsin}`;
}
