import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Organisation } from '../../organisations/model.js';
import { AdminApiProblem } from '../admin-api.js';
import { type ConsoleTools, formOf, type FormFields, refuseIncompleteForm } from '../console-tools.js';
import { apiFieldErrors, checkOrganisationForm, errorSummary, type FieldErrors } from '../form-errors.js';
import { submitButton, textField } from '../form-fields.js';
import { formatTime } from '../format.js';
import { dataTable } from '../data-table.js';
import { html, type SafeHtml } from '../html.js';
import { BASE, csrfField } from '../layout.js';
import { fill } from '../messages.js';

type Listed = Organisation & { clientCount: number; enabledClientCount: number };
const PAGE_SIZE = 50;
const str = (v: unknown, max: number) => (typeof v === 'string' ? v.slice(0, max) : '');
const orgPath = (rsin: string) => `${BASE}/organisations/${encodeURIComponent(rsin)}`;

/** Organisations (global administrators; the admin API refuses anyone else). */
export function registerOrganisationPages(app: FastifyInstance, tools: ConsoleTools): void {
  app.get('/organisations', async (request, reply) => organisationsPage(tools, request, reply));

  app.post('/organisations', async (request, reply) => {
    const m = tools.ctx(request).m;
    const f = formOf(request);
    const errors = checkOrganisationForm(m, f, true);
    if (Object.keys(errors).length) return organisationsPage(tools, request, reply, f, errors);
    try {
      await tools.api(request).call('POST', '/organisations', { rsin: f.rsin ?? '', name: f.name ?? '' });
    } catch (err) {
      if (!(err instanceof AdminApiProblem) || (err.status !== 400 && err.status !== 409)) throw err;
      return organisationsPage(tools, request, reply, f, apiFieldErrors(m, err, ['rsin', 'name'], 'rsin'));
    }
    return tools.redirect(reply, request, orgPath(f.rsin ?? ''), {
      kind: 'ok',
      text: fill(m.orgCreated, { rsin: f.rsin ?? '' }),
    });
  });

  app.get<{ Params: { rsin: string } }>('/organisations/:rsin', async (request, reply) =>
    organisationPage(tools, request, reply, request.params.rsin),
  );

  app.post<{ Params: { rsin: string } }>('/organisations/:rsin', async (request, reply) => {
    const m = tools.ctx(request).m;
    const { rsin } = request.params;
    const f = formOf(request);
    const incomplete = refuseIncompleteForm(tools, reply, request, f, ['name']);
    if (incomplete) return incomplete;
    const errors = checkOrganisationForm(m, f, false);
    if (Object.keys(errors).length) return organisationPage(tools, request, reply, rsin, f, errors);
    try {
      await tools.api(request).call('PATCH', `/organisations/${encodeURIComponent(rsin)}`, { name: f.name ?? '' });
    } catch (err) {
      if (!(err instanceof AdminApiProblem) || err.status !== 400) throw err;
      return organisationPage(tools, request, reply, rsin, f, apiFieldErrors(m, err, ['name']));
    }
    return tools.redirect(reply, request, orgPath(rsin), { kind: 'ok', text: fill(m.orgRenamed, { rsin }) });
  });

  for (const verb of ['enable', 'disable'] as const) {
    app.post<{ Params: { rsin: string } }>(`/organisations/:rsin/${verb}`, async (request, reply) => {
      const m = tools.ctx(request).m;
      const { rsin } = request.params;
      await tools.api(request).call('POST', `/organisations/${encodeURIComponent(rsin)}/${verb}`);
      return tools.redirect(reply, request, orgPath(rsin), {
        kind: 'ok',
        text: fill(verb === 'enable' ? m.orgEnabled : m.orgDisabled, { rsin }),
      });
    });
  }
}

/** The list of organisations with the form for a new one (its values and refusals when it was refused). */
async function organisationsPage(
  tools: ConsoleTools,
  request: FastifyRequest,
  reply: FastifyReply,
  form: FormFields = {},
  errors: FieldErrors = {},
) {
  const ctx = tools.ctx(request);
  const m = ctx.m;
  const query = request.query as Record<string, unknown>;
  const q = str(query.q, 100);
  const pageNo = Math.max(1, Math.min(100_000, Number.parseInt(str(query.page, 6), 10) || 1));
  const list = await tools.api(request).get<{ items: Listed[]; total: number }>('/organisations', {
    q,
    limit: PAGE_SIZE,
    offset: (pageNo - 1) * PAGE_SIZE,
  });
  const pages = Math.max(1, Math.ceil(list.total / PAGE_SIZE));
  const link = (p: number) => `${BASE}/organisations?${new URLSearchParams({ ...(q ? { q } : {}), page: String(p) })}`;
  return tools.send(
    reply,
    request,
    m.orgsTitle,
    html`${orgList(tools, request, list.items, q)}
      <nav class="console-actions" aria-label="${m.pagination}">
        ${pageNo > 1 ? html`<a class="utrecht-link" rel="prev" href="${link(pageNo - 1)}">${m.previous}</a>` : ''}
        <span>${fill(m.pageOf, { page: pageNo, pages })}</span>
        ${pageNo < pages ? html`<a class="utrecht-link" rel="next" href="${link(pageNo + 1)}">${m.next}</a>` : ''}
      </nav>
      <h2 class="utrecht-heading-2">${m.newOrg}</h2>
      ${errorSummary(m, errors, { rsin: 'new-rsin', name: 'new-name' })}
      <form method="post" action="${BASE}/organisations">
        ${csrfField(ctx)} ${textField('rsin', m.colRsin, form.rsin ?? '', { required: true, maxlength: 9, hint: m.fieldRsinHint, inputmode: 'numeric', id: 'new-rsin', error: errors.rsin })}
        ${textField('name', m.colName, form.name ?? '', { required: true, maxlength: 200, id: 'new-name', error: errors.name })}
        <div class="console-actions">${submitButton(m.create)}</div>
      </form>`,
    Object.keys(errors).length ? 400 : 200,
  );
}

/** One organisation, with the rename form (its value and refusal when it was refused). */
async function organisationPage(
  tools: ConsoleTools,
  request: FastifyRequest,
  reply: FastifyReply,
  rsin: string,
  form?: FormFields,
  errors: FieldErrors = {},
) {
  const ctx = tools.ctx(request);
  const m = ctx.m;
  const o = await tools.api(request).get<Listed>(`/organisations/${encodeURIComponent(rsin)}`);
  return tools.send(
    reply,
    request,
    `${o.name} (${o.rsin})`,
    html`<dl class="utrecht-data-list">
        <div class="utrecht-data-list__item">
          <dt class="utrecht-data-list__item-key">${m.colStatus}</dt>
          <dd class="utrecht-data-list__item-value">${o.enabled ? m.statusEnabled : m.statusDisabled}</dd>
        </div>
        <div class="utrecht-data-list__item">
          <dt class="utrecht-data-list__item-key">${m.colClients}</dt>
          <dd class="utrecht-data-list__item-value"><a class="utrecht-link" href="${BASE}/clients?rsin=${o.rsin}">${o.clientCount}</a></dd>
        </div>
        <div class="utrecht-data-list__item">
          <dt class="utrecht-data-list__item-key">${m.colEnabledClients}</dt>
          <dd class="utrecht-data-list__item-value">${o.enabledClientCount}</dd>
        </div>
        <div class="utrecht-data-list__item">
          <dt class="utrecht-data-list__item-key">${m.created}</dt>
          <dd class="utrecht-data-list__item-value">${formatTime(ctx.lang, o.createdAt)}</dd>
        </div>
      </dl>
      <form method="post" action="${orgPath(o.rsin)}/${o.enabled ? 'disable' : 'enable'}" class="console-actions">${csrfField(ctx)}${submitButton(o.enabled ? m.disable : m.enable, 'secondary')}</form>
      <h2 class="utrecht-heading-2">${m.rename}</h2>
      ${errorSummary(m, errors)}
      <form method="post" action="${orgPath(o.rsin)}">
        ${csrfField(ctx)} ${textField('name', fill(m.orgNameFor, { rsin: o.rsin }), form?.name ?? o.name, { required: true, maxlength: 200, error: errors.name })}
        <div class="console-actions">${submitButton(m.save)}</div>
      </form>
      <p class="utrecht-paragraph">
        <a class="utrecht-link" href="${BASE}/activity?organisation=${o.rsin}">${m.navActivity}</a> · <a class="utrecht-link" href="${BASE}/organisations">${m.orgsTitle}</a>
      </p>`,
    Object.keys(errors).length ? 400 : 200,
  );
}

function orgList(
  tools: ConsoleTools,
  request: Parameters<ConsoleTools['ctx']>[0],
  items: Listed[],
  q: string,
): SafeHtml {
  const ctx = tools.ctx(request);
  const m = ctx.m;
  return html`<form class="console-filters" method="get" action="${BASE}/organisations" role="search">
      ${textField('q', m.searchLabel, q, { type: 'search', maxlength: 100 })}
      <div>${submitButton(m.applyFilters, 'secondary')}</div>
    </form>
    ${
      items.length
        ? dataTable(
            m.orgsTitle,
            [m.colRsin, m.colName, m.colStatus, m.colClients, m.colEnabledClients],
            items.map((o) => [
              html`<a class="utrecht-link" href="${orgPath(o.rsin)}">${o.rsin}</a>`,
              o.name,
              o.enabled ? m.statusEnabled : m.statusDisabled,
              o.clientCount,
              o.enabledClientCount,
            ]),
          )
        : html`<p class="utrecht-paragraph">${m.noOrgs}</p>`
    }`;
}
