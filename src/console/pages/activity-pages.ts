import type { FastifyInstance } from 'fastify';
import type { ActivityReport } from '../../audit/activity-report.js';
import { AdminApiProblem } from '../admin-api.js';
import type { ConsoleTools } from '../console-tools.js';
import { submitButton, textField } from '../form-fields.js';
import { formatDay } from '../format.js';
import { html, type SafeHtml } from '../html.js';
import { BASE, isGlobalAdmin, type PageContext } from '../layout.js';
import { type ActivityDay, activityDays, dutchDay } from '../activity-days.js';
import { dataTable } from '../data-table.js';
import { apiFieldErrors, errorSummary, type FieldErrors } from '../form-errors.js';
import { organisationLabel, type OrganisationNames, organisationNames } from '../organisation-names.js';
import { fill } from '../messages.js';

const str = (v: unknown, max: number) => (typeof v === 'string' ? v.slice(0, max) : '');

/** Activity: a chart of tokens issued and failed authentications per hour, and who they were. */
export function registerActivityPages(app: FastifyInstance, tools: ConsoleTools): void {
  app.get<{ Querystring: { client?: string; organisation?: string } }>('/activity', async (request, reply) => {
    const ctx = tools.ctx(request);
    const m = ctx.m;
    const f = { client: str(request.query.client, 100), organisation: str(request.query.organisation, 9) };
    let report: ActivityReport | undefined;
    let filterErrors: FieldErrors = {};
    try {
      report = await tools.api(request).get<ActivityReport>('/activity', { clientId: f.client, rsin: f.organisation });
    } catch (err) {
      if (!(err instanceof AdminApiProblem) || err.status !== 400) throw err;
      // The API's names of the filter fields, as the form names them.
      filterErrors = Object.fromEntries(
        Object.entries(apiFieldErrors(m, err, ['clientId', 'rsin'])).map(([k, v]) => [
          k === 'clientId' ? 'client' : k === 'rsin' ? 'organisation' : k,
          v,
        ]),
      );
    }
    const names = report
      ? await organisationNames(
          tools.api(request),
          report.organisations.map((o) => o.rsin),
        )
      : new Map<string, string>();
    const content = html`<p class="utrecht-paragraph">${m.activityIntro}</p>
      <form class="console-filters" method="get" action="${BASE}/activity" role="search">
        ${textField('client', m.filterClient, f.client, { maxlength: 100, error: filterErrors.client })}
        ${isGlobalAdmin(ctx.session) ? textField('organisation', m.filterOrganisation, f.organisation, { maxlength: 9, inputmode: 'numeric', error: filterErrors.organisation }) : ''}
        <div>${submitButton(m.applyFilters, 'secondary')}</div>
        ${f.client || f.organisation ? html`<a class="utrecht-link" href="${BASE}/activity">${m.showAll}</a>` : ''}
      </form>
      ${errorSummary(m, filterErrors)}${report ? reportView(ctx, report, names) : ''}`;
    return tools.send(reply, request, m.activityTitle, content);
  });
}

const W = 840;
const H = 220;
const TOP = 10;
const BOTTOM = 30;
// Made on first use: making it loads the time zone data, ~15 ms of CPU at every server start.
let hourMinuteFormat: Intl.DateTimeFormat | undefined;
const hourMinute = (ms: number) =>
  (hourMinuteFormat ??= new Intl.DateTimeFormat('nl-NL', {
    timeZone: 'Europe/Amsterdam',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  })).format(ms);

/**
 * The hours as an SVG bar chart (no script: it is part of the page), with tables of the same
 * figures. Days are calendar days in Dutch time, the pages' time zone: a day line at each Dutch
 * midnight, and per-day sums over the hours of that day (23 or 25 on the days the clocks change).
 * Each day line has a long and a short label; the stylesheet shows the short one, larger, on a
 * narrow screen, where the chart is scaled down.
 */
function reportView(ctx: PageContext, r: ActivityReport, names: OrganisationNames): SafeHtml {
  const m = ctx.m;
  const max = Math.max(1, ...r.hours.map((h) => Math.max(h.issued, h.failed)));
  const slot = W / r.hours.length;
  const y = (n: number) => H - BOTTOM - ((H - TOP - BOTTOM) * n) / max;
  const when = (hour: number) => `${formatDay(ctx.lang, hour)} ${hourMinute(hour)}`;
  const bars = r.hours.map((h, i) => {
    const x = i * slot;
    return html`${h.issued ? html`<rect class="issued" x="${(x + 0.5).toFixed(1)}" y="${y(h.issued).toFixed(1)}" width="${(slot * 0.55).toFixed(1)}" height="${(H - BOTTOM - y(h.issued)).toFixed(1)}"><title>${when(h.hour)}: ${h.issued}</title></rect>` : ''}${
      h.failed
        ? html`<rect class="failed" x="${(x + slot * 0.55).toFixed(1)}" y="${y(h.failed).toFixed(1)}" width="${(slot * 0.4).toFixed(1)}" height="${(H - BOTTOM - y(h.failed)).toFixed(1)}"
            ><title>${when(h.hour)}: ${h.failed}</title></rect
          >`
        : ''
    }`;
  });
  const days = activityDays(r.hours);
  let offset = 0;
  const labels = days.map((d) => {
    const x = offset * slot;
    offset += d.hours.length;
    // A day covered for only a few hours has no room for its label.
    const room = d.hours.length >= 12;
    return html`<line class="axis" x1="${x.toFixed(1)}" y1="${TOP}" x2="${x.toFixed(1)}" y2="${H - BOTTOM + 4}"></line>${
      room
        ? html`<text class="day-long" x="${(x + 3).toFixed(1)}" y="${H - 10}">${formatDay(ctx.lang, d.from)}</text
              ><text class="day-short" x="${(x + 3).toFixed(1)}" y="${H - 2}">${dayNumber(d.from)}</text>`
        : ''
    }`;
  });
  const chart = html`<figure class="console-figure">
    <svg class="console-chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="chart-title">
      <title id="chart-title">${m.activityChartLabel}</title>
      <line class="axis" x1="0" y1="${H - BOTTOM}" x2="${W}" y2="${H - BOTTOM}"></line>
      ${labels}${bars}
      <text class="chart-max" x="${W - 4}" y="${TOP + 10}" text-anchor="end">${fill(m.chartMax, { n: max })}</text>
    </svg>
    <ul class="console-legend">
      <li><span class="issued"></span>${m.issued}</li>
      <li><span class="failed"></span>${m.failed}</li>
    </ul>
  </figure>`;
  const table = (label: string, first: string, rows: [SafeHtml | string, number, number][]) =>
    dataTable(label, [first, m.issued, m.failed], rows);
  const last = days.length - 1;
  const dayLabel = (d: ActivityDay, i: number) =>
    html`${formatDay(ctx.lang, d.from)}${i === 0 && d.startHour !== 0 ? html` <span class="console-muted">(${fill(m.dayFrom, { hour: hourMinute(d.from) })})</span>` : ''}${
      i === last && i > 0 ? html` <span class="console-muted">(${m.daySoFar})</span>` : ''
    }`;
  return html`${chart}
    <p class="utrecht-paragraph">${fill(m.activityDaysNote, { from: days[0] ? `${formatDay(ctx.lang, days[0].from)} ${hourMinute(days[0].from)}` : '—' })}</p>
    <div class="console-grid">
      <div>
        <h2 class="utrecht-heading-2">${m.perDay}</h2>
        ${table(
          m.perDay,
          m.colDayDutch,
          days.map((d, i) => [html`<time datetime="${d.day}">${dayLabel(d, i)}</time>`, d.issued, d.failed]),
        )}
      </div>
      <div>
        <h2 class="utrecht-heading-2">${m.perClient}</h2>
        ${
          r.clients.length
            ? table(
                m.perClient,
                m.colClientId,
                r.clients.map((c) => [
                  html`<a class="utrecht-link" href="${BASE}/activity?client=${encodeURIComponent(c.clientId)}">${c.clientId}</a>`,
                  c.issued,
                  c.failed,
                ]),
              )
            : html`<p class="utrecht-paragraph">${m.noActivity}</p>`
        }
      </div>
      <div>
        <h2 class="utrecht-heading-2">${m.perOrganisation}</h2>
        ${
          r.organisations.length
            ? table(
                m.perOrganisation,
                m.colOrganisation,
                r.organisations.map((o) => [
                  o.rsin
                    ? html`<a class="utrecht-link" href="${BASE}/activity?organisation=${o.rsin}">${organisationLabel(names, o.rsin)}</a>`
                    : m.unknownOrganisation,
                  o.issued,
                  o.failed,
                ]),
              )
            : html`<p class="utrecht-paragraph">${m.noActivity}</p>`
        }
      </div>
    </div>`;
}

/** The day of the month of a moment in Dutch time: the short chart label. */
function dayNumber(ms: number): string {
  return dutchDay(ms).slice(8).replace(/^0/, '');
}
