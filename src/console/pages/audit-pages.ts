import type { FastifyInstance } from 'fastify';
import type { AuditEvent } from '../../audit/audit-log.js';
import { AdminApiProblem } from '../admin-api.js';
import type { ConsoleTools } from '../console-tools.js';
import { selectField, submitButton, textField } from '../form-fields.js';
import { formatTime, startOfDutchDay } from '../format.js';
import { dataTable } from '../data-table.js';
import { html } from '../html.js';
import { BASE, isGlobalAdmin } from '../layout.js';
import { actionName, AUDIT_ACTIONS } from '../messages.js';
import { describeEvent, reasonInWords } from '../audit-words.js';
import { organisationLabel, organisationNames } from '../organisation-names.js';
import { apiFieldErrors, errorSummary, type FieldErrors } from '../form-errors.js';

const PAGE_SIZE = 50;
type AuditFilter = { client?: string; organisation?: string; action?: string; since?: string; before?: string };
const str = (v: unknown, max: number) => (typeof v === 'string' ? v.slice(0, max) : '');

/** The audit trail: filter by client, organisation, event type and time; paging back from the newest. */
export function registerAuditPages(app: FastifyInstance, tools: ConsoleTools): void {
  app.get<{ Querystring: AuditFilter }>('/audit', async (request, reply) => {
    const ctx = tools.ctx(request);
    const m = ctx.m;
    const f = {
      client: str(request.query.client, 100),
      organisation: str(request.query.organisation, 9),
      action: str(request.query.action, 60),
      since: str(request.query.since, 10),
    };
    const before = Number.parseInt(str(request.query.before, 16), 10);
    const since = f.since ? startOfDutchDay(f.since) : undefined;
    let items: AuditEvent[] = [];
    let filterErrors: FieldErrors = {};
    try {
      ({ items } = await tools.api(request).get<{ items: AuditEvent[] }>('/audit', {
        target: f.client,
        organisation: f.organisation,
        action: f.action,
        since,
        before: Number.isSafeInteger(before) && before > 0 ? before : undefined,
        limit: PAGE_SIZE,
      }));
    } catch (err) {
      if (!(err instanceof AdminApiProblem) || err.status !== 400) throw err;
      // The API's names of the filter fields, as the form names them.
      filterErrors = Object.fromEntries(
        Object.entries(apiFieldErrors(m, err, ['target', 'organisation', 'action', 'since'])).map(([k, v]) => [
          k === 'target' ? 'client' : k,
          v,
        ]),
      );
    }
    const query = (extra: Record<string, string>) =>
      `${BASE}/audit?${new URLSearchParams({ ...Object.fromEntries(Object.entries(f).filter(([, v]) => v)), ...extra })}`;
    const names = await organisationNames(
      tools.api(request),
      items.flatMap((e) => [
        e.organisation,
        ...(e.action === 'client.moved' ? [String(e.details.from), String(e.details.to)] : []),
      ]),
    );
    const rows = items.map((e) => [
      formatTime(ctx.lang, e.at),
      e.actor,
      actionName(ctx.lang, e.action),
      e.target,
      e.organisation ? organisationLabel(names, e.organisation) : '—',
      e.address ?? '—',
      reasonInWords(ctx.lang, e.reason),
      describeEvent(ctx.lang, e, names, m.rawEvent),
    ]);
    const last = items.at(-1);
    const content = html`<form class="console-filters" method="get" action="${BASE}/audit" role="search">
        ${textField('client', m.filterClient, f.client, { maxlength: 100, error: filterErrors.client })}
        ${isGlobalAdmin(ctx.session) ? textField('organisation', m.filterOrganisation, f.organisation, { maxlength: 9, inputmode: 'numeric', error: filterErrors.organisation }) : ''}
        ${selectField('action', m.filterAction, f.action, [['', m.any], ...AUDIT_ACTIONS.map((a): [string, string] => [a, actionName(ctx.lang, a)])])}
        ${textField('since', m.filterSince, f.since, { type: 'date' })}
        <div>${submitButton(m.applyFilters, 'secondary')}</div>
      </form>
      ${errorSummary(m, filterErrors)}
      ${items.length ? dataTable(m.auditTitle, [m.colTime, m.colActor, m.colAction, m.colTarget, m.colOrganisation, m.colAddress, m.colReason, m.whatHappened], rows) : html`<p class="utrecht-paragraph">${m.noEvents}</p>`}
      <nav class="console-actions" aria-label="${m.pagination}">
        ${request.query.before ? html`<a class="utrecht-link" href="${query({})}">${m.newest}</a>` : ''}
        ${last && items.length === PAGE_SIZE ? html`<a class="utrecht-link" rel="next" href="${query({ before: String(last.id) })}">${m.older}</a>` : ''}
      </nav>`;
    return tools.send(reply, request, m.auditTitle, content);
  });
}
