import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Client, SecretInfo } from '../../clients/model.js';
import { AdminApiProblem } from '../admin-api.js';
import { type ConsoleTools, formOf, type FormFields } from '../console-tools.js';
import { checkbox, selectField, submitButton, textArea, textField } from '../form-fields.js';
import { formatTime, startOfDutchDay } from '../format.js';
import { dataTable } from '../data-table.js';
import { html, type SafeHtml } from '../html.js';
import { alert, BASE, csrfField, isGlobalAdmin, type PageContext } from '../layout.js';
import { fill } from '../messages.js';

const PAGE_SIZE = 25;

type ListQuery = { q?: string; rsin?: string; enabled?: string; selfSigned?: string; sort?: string; page?: string };
type IdParams = { clientId: string };

const str = (v: unknown, max = 200) => (typeof v === 'string' ? v.slice(0, max) : '');
const bool = (v: string) => (v === 'true' ? true : v === 'false' ? false : undefined);
const clientPath = (clientId: string) => `${BASE}/clients/${encodeURIComponent(clientId)}`;

/** Clients: the searchable list, a new client, the client page with its secrets. */
export function registerClientPages(app: FastifyInstance, tools: ConsoleTools): void {
  app.get<{ Querystring: ListQuery }>('/clients', async (request, reply) => {
    const ctx = tools.ctx(request);
    const m = ctx.m;
    const f = {
      q: str(request.query.q, 100),
      rsin: str(request.query.rsin, 9),
      enabled: str(request.query.enabled, 5),
      selfSigned: str(request.query.selfSigned, 5),
      sort: str(request.query.sort, 20),
    };
    const pageNo = Math.max(1, Math.min(400_000, Number.parseInt(str(request.query.page, 7), 10) || 1));
    let list: { items: Client[]; total: number } = { items: [], total: 0 };
    let problem: SafeHtml | string = '';
    try {
      list = await tools.api(request).get('/clients', {
        q: f.q,
        rsin: f.rsin,
        enabled: bool(f.enabled),
        selfSignedAllowed: bool(f.selfSigned),
        sort: f.sort === 'lastToken' ? 'lastToken' : undefined,
        limit: PAGE_SIZE,
        offset: (pageNo - 1) * PAGE_SIZE,
      });
    } catch (err) {
      if (!(err instanceof AdminApiProblem) || err.status !== 400) throw err;
      problem = alert('error', fill(m.apiSays, { detail: err.detail }));
    }
    const pages = Math.max(1, Math.ceil(list.total / PAGE_SIZE));
    const link = (p: number) => {
      const q = new URLSearchParams(Object.entries(f).filter(([, v]) => v !== ''));
      if (p > 1) q.set('page', String(p));
      return `${BASE}/clients${q.size ? `?${q}` : ''}`;
    };
    const filters = html`<form class="console-filters" method="get" action="${BASE}/clients" role="search">
      ${textField('q', m.searchLabel, f.q, { type: 'search', maxlength: 100 })} ${textField('rsin', m.filterOrganisation, f.rsin, { maxlength: 9, inputmode: 'numeric' })}
      ${selectField('enabled', m.filterEnabled, f.enabled, [
        ['', m.any],
        ['true', m.enabledOnly],
        ['false', m.disabledOnly],
      ])}
      ${selectField('selfSigned', m.filterSelfSigned, f.selfSigned, [
        ['', m.any],
        ['true', m.selfSignedYes],
        ['false', m.selfSignedNo],
      ])}
      ${selectField('sort', m.sortLabel, f.sort, [
        ['', m.sortId],
        ['lastToken', m.sortLastToken],
      ])}
      <div>${submitButton(m.applyFilters, 'secondary')}</div>
    </form>`;
    const rows = list.items.map(
      (c) =>
        html`<tr class="utrecht-table__row">
          <td class="utrecht-table__cell"><a class="utrecht-link" href="${clientPath(c.clientId)}">${c.clientId}</a></td>
          <td class="utrecht-table__cell">${c.name}</td>
          <td class="utrecht-table__cell">${c.rsin}</td>
          <td class="utrecht-table__cell">${c.enabled ? m.statusEnabled : m.statusDisabled}</td>
          <td class="utrecht-table__cell">${c.selfSignedAllowed ? m.yes : m.no}</td>
          <td class="utrecht-table__cell">${formatTime(ctx.lang, c.lastTokenAt, m.never)}</td>
        </tr>`,
    );
    const table = list.items.length
      ? html`<div class="console-table-wrap" tabindex="0" role="region" aria-label="${m.clientsTitle}">
          <table class="utrecht-table">
            <caption class="utrecht-table__caption">
              ${fill(m.results, { total: list.total })}
            </caption>
            <thead class="utrecht-table__header">
              <tr class="utrecht-table__row">
                <th class="utrecht-table__header-cell" scope="col">${m.colClientId}</th>
                <th class="utrecht-table__header-cell" scope="col">${m.colName}</th>
                <th class="utrecht-table__header-cell" scope="col">${m.colOrganisation}</th>
                <th class="utrecht-table__header-cell" scope="col">${m.colStatus}</th>
                <th class="utrecht-table__header-cell" scope="col">${m.colSelfSigned}</th>
                <th class="utrecht-table__header-cell" scope="col">${m.colLastToken}</th>
              </tr>
            </thead>
            <tbody class="utrecht-table__body">
              ${rows}
            </tbody>
          </table>
        </div>`
      : html`<p class="utrecht-paragraph">${m.noClients}</p>`;
    const paging = html`<nav class="console-actions" aria-label="${m.pagination}">
      ${pageNo > 1 ? html`<a class="utrecht-link" rel="prev" href="${link(pageNo - 1)}">${m.previous}</a>` : ''}
      <span>${fill(m.pageOf, { page: pageNo, pages })}</span>
      ${pageNo < pages ? html`<a class="utrecht-link" rel="next" href="${link(pageNo + 1)}">${m.next}</a>` : ''}
    </nav>`;
    return tools.send(
      reply,
      request,
      m.clientsTitle,
      html`<p class="utrecht-paragraph"><a class="utrecht-link" href="${BASE}/clients/new">${m.newClient}</a></p>
        ${filters}${problem}${table}${paging}`,
    );
  });

  app.get('/clients/new', async (request, reply) => {
    const ctx = tools.ctx(request);
    return tools.send(reply, request, ctx.m.newClientTitle, newClientForm(ctx, { rsin: isGlobalAdmin(ctx.session) ? '' : (ctx.session?.rsin ?? '') }));
  });

  app.post('/clients', async (request, reply) => {
    const ctx = tools.ctx(request);
    const m = ctx.m;
    const fields = formOf(request);
    const parsed = clientFields(ctx, fields, true);
    if ('error' in parsed) return tools.send(reply, request, m.newClientTitle, newClientForm(ctx, fields, parsed.error), 400);
    let created: { client: Client; secret: { value: string } };
    try {
      created = await tools.api(request).call('POST', '/clients', { ...(fields.clientId ? { clientId: fields.clientId } : {}), rsin: fields.rsin ?? '', ...parsed.body });
    } catch (err) {
      if (!(err instanceof AdminApiProblem) || err.status >= 500 || err.status === 401 || err.status === 404) throw err;
      return tools.send(reply, request, m.newClientTitle, newClientForm(ctx, fields, { field: err.field, text: fill(m.apiSays, { detail: err.detail }) }), err.status);
    }
    return tools.send(reply, request, fill(m.clientCreatedTitle, { id: created.client.clientId }), secretShown(ctx, created.client.clientId, created.secret.value));
  });

  app.get<{ Params: IdParams }>('/clients/:clientId', async (request, reply) => clientPage(tools, request, reply, request.params.clientId));

  app.post<{ Params: IdParams }>('/clients/:clientId', async (request, reply) => {
    const ctx = tools.ctx(request);
    const m = ctx.m;
    const { clientId } = request.params;
    const fields = formOf(request);
    const parsed = clientFields(ctx, fields, false);
    if ('error' in parsed) return clientPage(tools, request, reply, clientId, { values: fields, error: parsed.error });
    const body = { ...parsed.body, ...(isGlobalAdmin(ctx.session) && fields.rsin ? { rsin: fields.rsin } : {}) };
    let result: { warnings: string[] };
    try {
      result = await tools.api(request).call('PATCH', `/clients/${encodeURIComponent(clientId)}`, body);
    } catch (err) {
      if (!(err instanceof AdminApiProblem) || err.status !== 400) throw err;
      return clientPage(tools, request, reply, clientId, { values: fields, error: { field: err.field, text: fill(m.apiSays, { detail: err.detail }) } });
    }
    const text = [m.saved, ...result.warnings.map((w) => fill(m.warning, { text: w }))].join(' ');
    return tools.redirect(reply, request, clientPath(clientId), { kind: 'ok', text });
  });

  for (const verb of ['enable', 'disable'] as const) {
    app.post<{ Params: IdParams }>(`/clients/:clientId/${verb}`, async (request, reply) => {
      const m = tools.ctx(request).m;
      await tools.api(request).call('POST', `/clients/${encodeURIComponent(request.params.clientId)}/${verb}`);
      return tools.redirect(reply, request, clientPath(request.params.clientId), { kind: 'ok', text: verb === 'enable' ? m.enabledNotice : m.disabledNotice });
    });
  }

  app.post<{ Params: IdParams }>('/clients/:clientId/delete', async (request, reply) => {
    const m = tools.ctx(request).m;
    const { clientId } = request.params;
    if (formOf(request).clientId !== clientId) return tools.redirect(reply, request, clientPath(clientId), { kind: 'error', text: m.deleteMismatch });
    await tools.api(request).call('DELETE', `/clients/${encodeURIComponent(clientId)}`);
    return tools.redirect(reply, request, `${BASE}/clients`, { kind: 'ok', text: fill(m.deleted, { id: clientId }) });
  });

  app.post<{ Params: IdParams }>('/clients/:clientId/secrets', async (request, reply) => {
    const ctx = tools.ctx(request);
    const m = ctx.m;
    const { clientId } = request.params;
    const fields = formOf(request);
    let expiresAt: number | undefined;
    if (fields.expiresAt) {
      expiresAt = startOfDutchDay(fields.expiresAt);
      if (expiresAt === undefined || expiresAt <= ctx.now) return clientPage(tools, request, reply, clientId, { secretValues: fields, secretError: { field: 'expiresAt', text: m.expiresInvalid } });
    }
    let created: { value: string };
    try {
      created = await tools.api(request).call('POST', `/clients/${encodeURIComponent(clientId)}/secrets`, { label: fields.label ?? '', ...(expiresAt !== undefined ? { expiresAt } : {}) });
    } catch (err) {
      if (!(err instanceof AdminApiProblem) || err.status !== 400) throw err;
      return clientPage(tools, request, reply, clientId, { secretValues: fields, secretError: { field: err.field, text: fill(m.apiSays, { detail: err.detail }) } });
    }
    return tools.send(reply, request, fill(m.secretCreatedTitle, { id: clientId }), secretShown(ctx, clientId, created.value));
  });

  app.get<{ Params: IdParams & { secretId: string } }>('/clients/:clientId/secrets/:secretId/revoke', async (request, reply) => {
    const ctx = tools.ctx(request);
    const m = ctx.m;
    const { clientId, secretId } = request.params;
    const secrets = await tools.api(request).call<SecretInfo[]>('GET', `/clients/${encodeURIComponent(clientId)}/secrets`);
    const secret = secrets.find((s) => s.secretId === secretId);
    if (!secret) throw new AdminApiProblem(404, 'not_found', 'no such secret', undefined);
    return tools.send(
      reply,
      request,
      m.revokeTitle,
      html`<p class="utrecht-paragraph">${fill(m.revokeConfirm, { secret: secretId, label: secret.label || '—', id: clientId })}</p>
        <form method="post" action="${clientPath(clientId)}/secrets/${encodeURIComponent(secretId)}/revoke" class="console-actions">
          ${csrfField(ctx)}${submitButton(m.revokeButton, 'danger')} <a class="utrecht-link" href="${clientPath(clientId)}">${m.cancel}</a>
        </form>`,
    );
  });

  app.post<{ Params: IdParams & { secretId: string } }>('/clients/:clientId/secrets/:secretId/revoke', async (request, reply) => {
    const m = tools.ctx(request).m;
    const { clientId, secretId } = request.params;
    await tools.api(request).call('DELETE', `/clients/${encodeURIComponent(clientId)}/secrets/${encodeURIComponent(secretId)}`);
    return tools.redirect(reply, request, clientPath(clientId), { kind: 'ok', text: fill(m.revoked, { secret: secretId }) });
  });
}

type FieldError = { field: string | undefined; text: string };

/** The client fields of a form as the admin API takes them; a refusal names the field. */
function clientFields(ctx: PageContext, f: FormFields, creating: boolean): { body: Record<string, unknown> } | { error: FieldError } {
  const words = (v: string | undefined) => (v ?? '').split(/\s+/).filter(Boolean);
  const body: Record<string, unknown> = {
    name: f.name ?? '',
    description: f.description ?? '',
    allowedScopes: words(f.allowedScopes),
    selfSignedAllowed: f.selfSignedAllowed === 'true',
  };
  if (!creating || f.defaultScopes) body.defaultScopes = words(f.defaultScopes);
  if (creating && !body.name) delete body.name;
  if (f.tokenLifetime) {
    const n = Number(f.tokenLifetime);
    body.tokenLifetime = Number.isInteger(n) ? n : f.tokenLifetime;
  } else if (!creating) body.tokenLifetime = null;
  if (f.staticClaims?.trim()) {
    try {
      body.staticClaims = JSON.parse(f.staticClaims) as unknown;
    } catch {
      return { error: { field: 'staticClaims', text: ctx.m.staticClaimsInvalid } };
    }
    if (body.staticClaims === null || typeof body.staticClaims !== 'object' || Array.isArray(body.staticClaims)) return { error: { field: 'staticClaims', text: ctx.m.staticClaimsInvalid } };
  } else if (!creating) body.staticClaims = {};
  return { body };
}

const errorFor = (error: FieldError | undefined, field: string) => (error && error.field === field ? error.text : undefined);

function clientFormFields(ctx: PageContext, v: FormFields, error: FieldError | undefined, rsinEditable: boolean): SafeHtml {
  const m = ctx.m;
  return html`${rsinEditable ? textField('rsin', m.fieldRsin, v.rsin ?? '', { required: true, maxlength: 9, hint: m.fieldRsinHint, error: errorFor(error, 'rsin'), inputmode: 'numeric' }) : ''}
  ${textField('name', m.fieldName, v.name ?? '', { maxlength: 200, error: errorFor(error, 'name') })}
  ${textArea('description', m.fieldDescription, v.description ?? '', { maxlength: 2000, error: errorFor(error, 'description') })}
  ${textField('allowedScopes', m.fieldScopes, v.allowedScopes ?? '', { hint: m.scopesHint, error: errorFor(error, 'allowedScopes') })}
  ${textField('defaultScopes', m.fieldDefaultScopes, v.defaultScopes ?? '', { hint: m.defaultScopesHint, error: errorFor(error, 'defaultScopes') })}
  ${textArea('staticClaims', m.fieldStaticClaims, v.staticClaims ?? '', { hint: m.staticClaimsHint, error: errorFor(error, 'staticClaims') })}
  ${textField('tokenLifetime', m.fieldTokenLifetime, v.tokenLifetime ?? '', { hint: m.tokenLifetimeHint, inputmode: 'numeric', error: errorFor(error, 'tokenLifetime') })}
  ${checkbox('selfSignedAllowed', m.fieldSelfSigned, v.selfSignedAllowed === 'true', { hint: m.selfSignedWarning })}`;
}

function newClientForm(ctx: PageContext, values: FormFields, error?: FieldError): SafeHtml {
  const m = ctx.m;
  return html`${error ? alert('error', error.text) : ''}
    <form method="post" action="${BASE}/clients">
      ${csrfField(ctx)} ${textField('clientId', m.fieldClientId, values.clientId ?? '', { maxlength: 50, hint: m.fieldClientIdHint, error: errorFor(error, 'clientId') })}
      ${clientFormFields(ctx, values, error, true)}
      <div class="console-actions">${submitButton(m.create)}<a class="utrecht-link" href="${BASE}/clients">${m.cancel}</a></div>
    </form>`;
}

/** The page that shows a new secret's value: the only time it is ever shown. */
function secretShown(ctx: PageContext, clientId: string, value: string): SafeHtml {
  const m = ctx.m;
  return html`${alert('info', m.secretOnce)}
    <div class="utrecht-form-field utrecht-form-field--text">
      <div class="utrecht-form-field__label"><label class="utrecht-form-label" for="secret-value">${m.secretValueLabel}</label></div>
      <div class="utrecht-form-field__input">
        <input class="utrecht-textbox utrecht-textbox--html-input console-secret" id="secret-value" type="text" readonly value="${value}" autocomplete="off" spellcheck="false" />
      </div>
    </div>
    <div class="console-actions">
      <button class="utrecht-button utrecht-button--secondary-action" type="button" data-copy="secret-value" data-copy-status="copy-status" data-copied-text="${m.copied}" hidden>${m.copy}</button>
      <span id="copy-status" role="status"></span>
      <a class="utrecht-link" href="${clientPath(clientId)}">${m.toClient}</a>
    </div>`;
}

interface ClientPageState {
  values?: FormFields;
  error?: FieldError;
  secretValues?: FormFields;
  secretError?: FieldError;
}

async function clientPage(tools: ConsoleTools, request: FastifyRequest, reply: Parameters<ConsoleTools['send']>[0], clientId: string, state: ClientPageState = {}) {
  const ctx = tools.ctx(request);
  const m = ctx.m;
  const api = tools.api(request);
  const path = `/clients/${encodeURIComponent(clientId)}`;
  const [client, secrets] = await Promise.all([api.call<Client>('GET', path), api.call<SecretInfo[]>('GET', `${path}/secrets`)]);
  const values: FormFields = state.values ?? {
    rsin: client.rsin,
    name: client.name,
    description: client.description,
    allowedScopes: client.allowedScopes.join(' '),
    defaultScopes: client.defaultScopes.join(' '),
    staticClaims: Object.keys(client.staticClaims).length ? JSON.stringify(client.staticClaims) : '',
    tokenLifetime: client.tokenLifetime === null ? '' : String(client.tokenLifetime),
    selfSignedAllowed: client.selfSignedAllowed ? 'true' : '',
  };
  const now = ctx.now;
  const stateOf = (s: SecretInfo) => (s.revokedAt !== null ? m.stateRevoked : s.expiresAt !== null && s.expiresAt <= now ? m.stateExpired : m.stateLive);
  const secretRows = secrets.map(
    (s) =>
      html`<tr class="utrecht-table__row">
        <td class="utrecht-table__cell"><code class="utrecht-code">${s.secretId}</code></td>
        <td class="utrecht-table__cell">${s.label || '—'}${s.weak ? html` <span class="utrecht-status-badge utrecht-status-badge--warning">${m.weakBadge}</span>` : ''}</td>
        <td class="utrecht-table__cell">${formatTime(ctx.lang, s.createdAt)}</td>
        <td class="utrecht-table__cell">${formatTime(ctx.lang, s.expiresAt)}</td>
        <td class="utrecht-table__cell">${formatTime(ctx.lang, s.lastUsedAt, m.never)}</td>
        <td class="utrecht-table__cell">${stateOf(s)}</td>
        <td class="utrecht-table__cell">
          ${s.revokedAt === null ? html`<a class="utrecht-link" href="${clientPath(clientId)}/secrets/${encodeURIComponent(s.secretId)}/revoke" aria-label="${fill(m.revokeLabel, { id: s.secretId })}">${m.revoke}</a>` : ''}
        </td>
      </tr>`,
  );
  const sv = state.secretValues ?? {};
  const content = html`${state.error ? alert('error', state.error.text) : ''} ${client.risks.includes('weak_secret') ? alert('error', m.riskWeak) : ''}
    <dl class="utrecht-data-list">
      <div class="utrecht-data-list__item">
        <dt class="utrecht-data-list__item-key">${m.colOrganisation}</dt>
        <dd class="utrecht-data-list__item-value">${client.rsin}</dd>
      </div>
      <div class="utrecht-data-list__item">
        <dt class="utrecht-data-list__item-key">${m.colStatus}</dt>
        <dd class="utrecht-data-list__item-value">${client.enabled ? m.statusEnabled : m.statusDisabled}</dd>
      </div>
      <div class="utrecht-data-list__item">
        <dt class="utrecht-data-list__item-key">${m.colLastToken}</dt>
        <dd class="utrecht-data-list__item-value">${formatTime(ctx.lang, client.lastTokenAt, m.never)}</dd>
      </div>
      <div class="utrecht-data-list__item">
        <dt class="utrecht-data-list__item-key">${m.created}</dt>
        <dd class="utrecht-data-list__item-value">${formatTime(ctx.lang, client.createdAt)}</dd>
      </div>
      <div class="utrecht-data-list__item">
        <dt class="utrecht-data-list__item-key">${m.updated}</dt>
        <dd class="utrecht-data-list__item-value">${formatTime(ctx.lang, client.updatedAt)}</dd>
      </div>
    </dl>
    <form method="post" action="${clientPath(clientId)}/${client.enabled ? 'disable' : 'enable'}" class="console-actions">
      ${csrfField(ctx)}${submitButton(client.enabled ? m.disable : m.enable, 'secondary')}
    </form>
    <h2 class="utrecht-heading-2">${m.secretsTitle}</h2>
    ${
      secrets.length
        ? dataTable(m.secretsTitle, [m.colSecretId, m.colLabel, m.colCreated, m.colExpires, m.colLastUsed, m.colState, m.colActions], secretRows)
        : html`<p class="utrecht-paragraph">${m.noSecrets}</p>`
    }
    <h3 class="utrecht-heading-3">${m.addSecret}</h3>
    ${state.secretError ? alert('error', state.secretError.text) : ''}
    <form method="post" action="${clientPath(clientId)}/secrets">
      ${csrfField(ctx)} ${textField('label', m.fieldLabel, sv.label ?? '', { maxlength: 200, hint: m.labelHint, error: errorFor(state.secretError, 'label') })}
      ${textField('expiresAt', m.fieldExpires, sv.expiresAt ?? '', { type: 'date', hint: m.expiresHint, error: errorFor(state.secretError, 'expiresAt') })}
      <div class="console-actions">${submitButton(m.addSecret, 'secondary')}</div>
    </form>
    <h2 class="utrecht-heading-2">${m.details}</h2>
    <form method="post" action="${clientPath(clientId)}">
      ${csrfField(ctx)} ${clientFormFields(ctx, values, state.error, isGlobalAdmin(ctx.session))}
      <div class="console-actions">${submitButton(m.save)}</div>
    </form>
    <section class="console-danger" aria-labelledby="delete-heading">
      <h2 class="utrecht-heading-2" id="delete-heading">${m.deleteTitle}</h2>
      <form method="post" action="${clientPath(clientId)}/delete">
        ${csrfField(ctx)} ${textField('clientId', m.deleteConfirmLabel, '', { id: 'delete-confirm', hint: m.deleteHint, autocomplete: 'off', maxlength: 50 })}
        <div class="console-actions">${submitButton(m.deleteButton, 'danger')}</div>
      </form>
    </section>
    <p class="utrecht-paragraph">
      <a class="utrecht-link" href="${BASE}/audit?client=${encodeURIComponent(clientId)}">${m.navAudit}</a> ·
      <a class="utrecht-link" href="${BASE}/activity?client=${encodeURIComponent(clientId)}">${m.navActivity}</a> · <a class="utrecht-link" href="${BASE}/clients">${m.backToClients}</a>
    </p>`;
  return tools.send(reply, request, client.clientId, content, state.error || state.secretError ? 400 : 200);
}
