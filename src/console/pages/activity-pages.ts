import type { FastifyInstance } from 'fastify';
import type { ActivityReport } from '../../audit/activity-report.js';
import { AdminApiProblem } from '../admin-api.js';
import type { ConsoleTools } from '../console-tools.js';
import { submitButton, textField } from '../form-fields.js';
import { formatDay } from '../format.js';
import { html, type SafeHtml } from '../html.js';
import { alert, BASE, isGlobalAdmin, type PageContext } from '../layout.js';
import { fill } from '../messages.js';

const str = (v: unknown, max: number) => (typeof v === 'string' ? v.slice(0, max) : '');

/** Activity: a chart of tokens issued and failed authentications per hour, and who they were. */
export function registerActivityPages(app: FastifyInstance, tools: ConsoleTools): void {
  app.get<{ Querystring: { client?: string; organisation?: string } }>('/activity', async (request, reply) => {
    const ctx = tools.ctx(request);
    const m = ctx.m;
    const f = { client: str(request.query.client, 100), organisation: str(request.query.organisation, 9) };
    let report: ActivityReport | undefined;
    let problem: SafeHtml | string = '';
    try {
      report = await tools.api(request).get<ActivityReport>('/activity', { clientId: f.client, rsin: f.organisation });
    } catch (err) {
      if (!(err instanceof AdminApiProblem) || err.status !== 400) throw err;
      problem = alert('error', fill(m.apiSays, { detail: err.detail }));
    }
    const content = html`<p class="utrecht-paragraph">${m.activityIntro}</p>
      <form class="console-filters" method="get" action="${BASE}/activity" role="search">
        ${textField('client', m.filterClient, f.client, { maxlength: 100 })}
        ${isGlobalAdmin(ctx.session) ? textField('organisation', m.filterOrganisation, f.organisation, { maxlength: 9, inputmode: 'numeric' }) : ''}
        <div>${submitButton(m.applyFilters, 'secondary')}</div>
        ${f.client || f.organisation ? html`<a class="utrecht-link" href="${BASE}/activity">${m.showAll}</a>` : ''}
      </form>
      ${problem}${report ? reportView(ctx, report) : ''}`;
    return tools.send(reply, request, m.activityTitle, content);
  });
}

const W = 840;
const H = 220;
const TOP = 10;
const BOTTOM = 30;

/** The hours as an SVG bar chart (no script: it is part of the page), with tables of the same figures. */
function reportView(ctx: PageContext, r: ActivityReport): SafeHtml {
  const m = ctx.m;
  const max = Math.max(1, ...r.hours.map((h) => Math.max(h.issued, h.failed)));
  const slot = W / r.hours.length;
  const y = (n: number) => H - BOTTOM - ((H - TOP - BOTTOM) * n) / max;
  const bars = r.hours.map((h, i) => {
    const x = i * slot;
    return html`${h.issued ? html`<rect class="issued" x="${(x + 0.5).toFixed(1)}" y="${y(h.issued).toFixed(1)}" width="${(slot * 0.55).toFixed(1)}" height="${(H - BOTTOM - y(h.issued)).toFixed(1)}"><title>${formatDay(ctx.lang, h.hour)} ${new Date(h.hour).toISOString().slice(11, 16)} UTC: ${h.issued}</title></rect>` : ''}${
      h.failed
        ? html`<rect class="failed" x="${(x + slot * 0.55).toFixed(1)}" y="${y(h.failed).toFixed(1)}" width="${(slot * 0.4).toFixed(1)}" height="${(H - BOTTOM - y(h.failed)).toFixed(1)}"
            ><title>${formatDay(ctx.lang, h.hour)} ${new Date(h.hour).toISOString().slice(11, 16)} UTC: ${h.failed}</title></rect
          >`
        : ''
    }`;
  });
  const days = r.hours.filter((_, i) => i % 24 === 0);
  const labels = days.map(
    (d, i) =>
      html`<line class="axis" x1="${i * 24 * slot}" y1="${TOP}" x2="${i * 24 * slot}" y2="${H - BOTTOM + 4}"></line><text x="${i * 24 * slot + 3}" y="${H - 10}">${formatDay(ctx.lang, d.hour)}</text>`,
  );
  const chart = html`<figure class="console-figure">
    <svg class="console-chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="chart-title">
      <title id="chart-title">${m.activityChartLabel}</title>
      <line class="axis" x1="0" y1="${H - BOTTOM}" x2="${W}" y2="${H - BOTTOM}"></line>
      ${labels}${bars}
      <text x="${W - 4}" y="${TOP + 10}" text-anchor="end">max ${max}</text>
    </svg>
    <ul class="console-legend">
      <li><span class="issued"></span>${m.issued}</li>
      <li><span class="failed"></span>${m.failed}</li>
    </ul>
  </figure>`;
  const perDay = days.map((d, i) => {
    const slice = r.hours.slice(i * 24, i * 24 + 24);
    return { day: d.hour, issued: slice.reduce((a, h) => a + h.issued, 0), failed: slice.reduce((a, h) => a + h.failed, 0) };
  });
  const head = (first: string) =>
    html`<thead class="utrecht-table__header">
      <tr class="utrecht-table__row">
        <th class="utrecht-table__header-cell" scope="col">${first}</th>
        <th class="utrecht-table__header-cell" scope="col">${m.issued}</th>
        <th class="utrecht-table__header-cell" scope="col">${m.failed}</th>
      </tr>
    </thead>`;
  const row = (first: SafeHtml | string, issued: number, failed: number) =>
    html`<tr class="utrecht-table__row">
      <th class="utrecht-table__cell" scope="row">${first}</th>
      <td class="utrecht-table__cell">${issued}</td>
      <td class="utrecht-table__cell">${failed}</td>
    </tr>`;
  return html`${chart}
    <div class="console-grid">
      <div>
        <h2 class="utrecht-heading-2">${m.perDay}</h2>
        <table class="utrecht-table">
          ${head(m.colDay)}
          <tbody class="utrecht-table__body">
            ${perDay.map((d) => row(formatDay(ctx.lang, d.day), d.issued, d.failed))}
          </tbody>
        </table>
      </div>
      <div>
        <h2 class="utrecht-heading-2">${m.perClient}</h2>
        ${
          r.clients.length
            ? html`<table class="utrecht-table">
                ${head(m.colClientId)}
                <tbody class="utrecht-table__body">
                  ${r.clients.map((c) => row(html`<a class="utrecht-link" href="${BASE}/activity?client=${encodeURIComponent(c.clientId)}">${c.clientId}</a>`, c.issued, c.failed))}
                </tbody>
              </table>`
            : html`<p class="utrecht-paragraph">${m.noActivity}</p>`
        }
      </div>
      <div>
        <h2 class="utrecht-heading-2">${m.perOrganisation}</h2>
        ${
          r.organisations.length
            ? html`<table class="utrecht-table">
                ${head(m.colOrganisation)}
                <tbody class="utrecht-table__body">
                  ${r.organisations.map((o) => row(o.rsin ? html`<a class="utrecht-link" href="${BASE}/activity?organisation=${o.rsin}">${o.rsin}</a>` : m.unknownOrganisation, o.issued, o.failed))}
                </tbody>
              </table>`
            : html`<p class="utrecht-paragraph">${m.noActivity}</p>`
        }
      </div>
    </div>`;
}
