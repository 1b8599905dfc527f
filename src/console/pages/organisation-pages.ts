import type { FastifyInstance } from 'fastify';
import type { Organisation } from '../../organisations/model.js';
import { AdminApiProblem } from '../admin-api.js';
import { type ConsoleTools, formOf } from '../console-tools.js';
import { submitButton, textField } from '../form-fields.js';
import { formatTime } from '../format.js';
import { html, type SafeHtml } from '../html.js';
import { BASE, csrfField } from '../layout.js';
import { fill } from '../messages.js';

type Listed = Organisation & { clientCount: number; enabledClientCount: number };
const PAGE_SIZE = 50;
const str = (v: unknown, max: number) => (typeof v === 'string' ? v.slice(0, max) : '');
const orgPath = (rsin: string) => `${BASE}/organisations/${encodeURIComponent(rsin)}`;

/** Organisations (global administrators; the admin API refuses anyone else). */
export function registerOrganisationPages(app: FastifyInstance, tools: ConsoleTools): void {
  app.get<{ Querystring: { q?: string; page?: string } }>('/organisations', async (request, reply) => {
    const ctx = tools.ctx(request);
    const m = ctx.m;
    const q = str(request.query.q, 100);
    const pageNo = Math.max(1, Math.min(100_000, Number.parseInt(str(request.query.page, 6), 10) || 1));
    const list = await tools.api(request).get<{ items: Listed[]; total: number }>('/organisations', { q, limit: PAGE_SIZE, offset: (pageNo - 1) * PAGE_SIZE });
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
        <form method="post" action="${BASE}/organisations">
          ${csrfField(ctx)} ${textField('rsin', m.colRsin, '', { required: true, maxlength: 9, hint: m.fieldRsinHint, inputmode: 'numeric', id: 'new-rsin' })}
          ${textField('name', m.colName, '', { required: true, maxlength: 200, id: 'new-name' })}
          <div class="console-actions">${submitButton(m.create)}</div>
        </form>`,
    );
  });

  app.post('/organisations', async (request, reply) => {
    const m = tools.ctx(request).m;
    const f = formOf(request);
    try {
      await tools.api(request).call('POST', '/organisations', { rsin: f.rsin ?? '', name: f.name ?? '' });
    } catch (err) {
      if (!(err instanceof AdminApiProblem) || (err.status !== 400 && err.status !== 409)) throw err;
      return tools.redirect(reply, request, `${BASE}/organisations`, { kind: 'error', text: fill(m.apiSays, { detail: err.detail }) });
    }
    return tools.redirect(reply, request, orgPath(f.rsin ?? ''), { kind: 'ok', text: fill(m.orgCreated, { rsin: f.rsin ?? '' }) });
  });

  app.get<{ Params: { rsin: string } }>('/organisations/:rsin', async (request, reply) => {
    const ctx = tools.ctx(request);
    const m = ctx.m;
    const o = await tools.api(request).get<Listed>(`/organisations/${encodeURIComponent(request.params.rsin)}`);
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
        <form method="post" action="${orgPath(o.rsin)}/${o.enabled ? 'disable' : 'enable'}" class="console-actions">
          ${csrfField(ctx)}${submitButton(o.enabled ? m.disable : m.enable, 'secondary')}
        </form>
        <h2 class="utrecht-heading-2">${m.rename}</h2>
        <form method="post" action="${orgPath(o.rsin)}">
          ${csrfField(ctx)} ${textField('name', fill(m.orgNameFor, { rsin: o.rsin }), o.name, { required: true, maxlength: 200 })}
          <div class="console-actions">${submitButton(m.save)}</div>
        </form>
        <p class="utrecht-paragraph">
          <a class="utrecht-link" href="${BASE}/activity?organisation=${o.rsin}">${m.navActivity}</a> · <a class="utrecht-link" href="${BASE}/organisations">${m.orgsTitle}</a>
        </p>`,
    );
  });

  app.post<{ Params: { rsin: string } }>('/organisations/:rsin', async (request, reply) => {
    const m = tools.ctx(request).m;
    const { rsin } = request.params;
    try {
      await tools.api(request).call('PATCH', `/organisations/${encodeURIComponent(rsin)}`, { name: formOf(request).name ?? '' });
    } catch (err) {
      if (!(err instanceof AdminApiProblem) || err.status !== 400) throw err;
      return tools.redirect(reply, request, orgPath(rsin), { kind: 'error', text: fill(m.apiSays, { detail: err.detail }) });
    }
    return tools.redirect(reply, request, orgPath(rsin), { kind: 'ok', text: fill(m.orgRenamed, { rsin }) });
  });

  for (const verb of ['enable', 'disable'] as const) {
    app.post<{ Params: { rsin: string } }>(`/organisations/:rsin/${verb}`, async (request, reply) => {
      const m = tools.ctx(request).m;
      const { rsin } = request.params;
      await tools.api(request).call('POST', `/organisations/${encodeURIComponent(rsin)}/${verb}`);
      return tools.redirect(reply, request, orgPath(rsin), { kind: 'ok', text: fill(verb === 'enable' ? m.orgEnabled : m.orgDisabled, { rsin }) });
    });
  }
}

function orgList(tools: ConsoleTools, request: Parameters<ConsoleTools['ctx']>[0], items: Listed[], q: string): SafeHtml {
  const ctx = tools.ctx(request);
  const m = ctx.m;
  return html`<form class="console-filters" method="get" action="${BASE}/organisations" role="search">
      ${textField('q', m.searchLabel, q, { type: 'search', maxlength: 100 })}
      <div>${submitButton(m.applyFilters, 'secondary')}</div>
    </form>
    ${
      items.length
        ? html`<div class="console-table-wrap" tabindex="0" role="region" aria-label="${m.orgsTitle}">
            <table class="utrecht-table">
              <thead class="utrecht-table__header">
                <tr class="utrecht-table__row">
                  <th class="utrecht-table__header-cell" scope="col">${m.colRsin}</th>
                  <th class="utrecht-table__header-cell" scope="col">${m.colName}</th>
                  <th class="utrecht-table__header-cell" scope="col">${m.colStatus}</th>
                  <th class="utrecht-table__header-cell" scope="col">${m.colClients}</th>
                  <th class="utrecht-table__header-cell" scope="col">${m.colEnabledClients}</th>
                </tr>
              </thead>
              <tbody class="utrecht-table__body">
                ${items.map(
                  (o) =>
                    html`<tr class="utrecht-table__row">
                      <td class="utrecht-table__cell"><a class="utrecht-link" href="${orgPath(o.rsin)}">${o.rsin}</a></td>
                      <td class="utrecht-table__cell">${o.name}</td>
                      <td class="utrecht-table__cell">${o.enabled ? m.statusEnabled : m.statusDisabled}</td>
                      <td class="utrecht-table__cell">${o.clientCount}</td>
                      <td class="utrecht-table__cell">${o.enabledClientCount}</td>
                    </tr>`,
                )}
              </tbody>
            </table>
          </div>`
        : html`<p class="utrecht-paragraph">${m.noOrgs}</p>`
    }`;
}
