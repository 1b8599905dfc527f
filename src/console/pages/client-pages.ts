import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  ADMIN_SCOPE,
  type Client,
  CLIENT_AUTH_METHODS,
  type ClientAuthMethod,
  type ClientKey,
  ORG_ADMIN_SCOPE,
  SECRET_AUTH_METHODS,
  type SecretInfo,
  TLS_SUBJECT_FIELDS,
  usesSecrets,
} from '../../clients/model.js';
import type { CredentialKind } from '../../clients/credential-expiry.js';
import { AdminApiProblem } from '../admin-api.js';
import {
  applicatieOf,
  type AutorisatieFormState,
  autorisatiesSection,
  registerAutorisatiePages,
} from './autorisatie-pages.js';
import { type ConsoleTools, formOf, type FormFields, refuseIncompleteForm } from '../console-tools.js';
import { checkbox, checkboxGroup, selectField, submitButton, textArea, textField } from '../form-fields.js';
import { formatTime, startOfDutchDay } from '../format.js';
import { dataTable } from '../data-table.js';
import { html, type SafeHtml } from '../html.js';
import { alert, BASE, csrfField, isGlobalAdmin, type PageContext } from '../layout.js';
import { fill, type Messages } from '../messages.js';
import { organisationLabel, organisationNames } from '../organisation-names.js';
import { apiFieldErrors, checkClientForm, checkLabel, errorSummary, type FieldErrors } from '../form-errors.js';

const PAGE_SIZE = 25;

type ListQuery = { q?: string; rsin?: string; enabled?: string; selfSigned?: string; sort?: string; page?: string };
type IdParams = { clientId: string };

const str = (v: unknown, max = 200) => (typeof v === 'string' ? v.slice(0, max) : '');
const bool = (v: string) => (v === 'true' ? true : v === 'false' ? false : undefined);
const clientPath = (clientId: string) => `${BASE}/clients/${encodeURIComponent(clientId)}`;

/** Clients: the searchable list, a new client, the client page with its secrets. */
export function registerClientPages(
  app: FastifyInstance,
  tools: ConsoleTools,
  options: {
    /** The methods new registrations may use (ZGW_AUTH_NEW_CLIENT_AUTH_METHODS): what a new client's form starts with. */
    newClientMethods?: readonly ClientAuthMethod[] | undefined;
  } = {},
): void {
  const startWith = newClientAuth(options.newClientMethods);
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
    let filterErrors: FieldErrors = {};
    try {
      list = await tools.api(request).get('/clients', {
        q: f.q,
        rsin: f.rsin,
        enabled: bool(f.enabled),
        selfSignedAllowed: bool(f.selfSigned),
        sort: f.sort === 'lastToken' || f.sort === 'expiry' ? f.sort : undefined,
        limit: PAGE_SIZE,
        offset: (pageNo - 1) * PAGE_SIZE,
      });
    } catch (err) {
      if (!(err instanceof AdminApiProblem) || err.status !== 400) throw err;
      filterErrors = apiFieldErrors(m, err, ['q', 'rsin']);
    }
    const pages = Math.max(1, Math.ceil(list.total / PAGE_SIZE));
    const link = (p: number) => {
      const q = new URLSearchParams(Object.entries(f).filter(([, v]) => v !== ''));
      if (p > 1) q.set('page', String(p));
      return `${BASE}/clients${q.size ? `?${q}` : ''}`;
    };
    const filters = html`<form class="console-filters" method="get" action="${BASE}/clients" role="search">
      ${textField('q', m.searchLabel, f.q, { type: 'search', maxlength: 100, error: filterErrors.q })}
      ${textField('rsin', m.filterOrganisation, f.rsin, { maxlength: 9, inputmode: 'numeric', error: filterErrors.rsin })}
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
        ['expiry', m.sortExpiry],
      ])}
      <div>${submitButton(m.applyFilters, 'secondary')}</div>
    </form>`;
    const names = await organisationNames(
      tools.api(request),
      list.items.map((c) => c.rsin),
    );
    // Clients with a secret, key or certificate that expires within ZGW_AUTH_EXPIRY_WARNING get a
    // badge naming the soonest (the list is soonest first), its time in the title.
    const expiring = new Map<string, { kind: CredentialKind; expiresAt: number }>();
    for (const c of (
      await tools
        .api(request)
        .get<{ items: { clientId: string; kind: CredentialKind; expiresAt: number }[] }>('/credentials/expiring')
    ).items)
      if (!expiring.has(c.clientId)) expiring.set(c.clientId, c);
    const badgeOf = { secret: m.secretExpiringBadge, key: m.keyExpiringBadge, certificate: m.certificateExpiringBadge };
    const rows = list.items.map((c) => {
      const soonest = expiring.get(c.clientId);
      return [
        html`<a class="utrecht-link" href="${clientPath(c.clientId)}">${c.clientId}</a>${
          soonest
            ? html` <span class="utrecht-status-badge utrecht-status-badge--warning" title="${formatTime(ctx.lang, soonest.expiresAt)}">${badgeOf[soonest.kind]}</span>`
            : ''
        }`,
        c.name,
        organisationLabel(names, c.rsin),
        c.enabled ? m.statusEnabled : m.statusDisabled,
        c.selfSignedAllowed ? m.yes : m.no,
        formatTime(ctx.lang, c.lastTokenAt, m.never),
      ];
    });
    const table = list.items.length
      ? dataTable(
          m.clientsTitle,
          [m.colClientId, m.colName, m.colOrganisation, m.colStatus, m.colSelfSigned, m.colLastToken],
          rows,
          fill(m.results, { total: list.total }),
        )
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
        ${errorSummary(m, filterErrors)}${filters}${table}${paging}`,
    );
  });

  app.get('/clients/new', async (request, reply) => {
    const ctx = tools.ctx(request);
    return tools.send(
      reply,
      request,
      ctx.m.newClientTitle,
      newClientForm(ctx, { rsin: isGlobalAdmin(ctx.session) ? '' : (ctx.session?.rsin ?? '') }, startWith),
    );
  });

  app.post('/clients', async (request, reply) => {
    const ctx = tools.ctx(request);
    const m = ctx.m;
    const fields = formOf(request);
    const { body, errors } = checkClientForm(m, fields, { creating: true, rsinField: true, ownRsin: ownRsinOf(ctx) });
    if (Object.keys(errors).length)
      return tools.send(reply, request, m.newClientTitle, newClientForm(ctx, fields, startWith, errors), 400);
    let created: { client: Client; secret?: { value: string } };
    try {
      created = await tools.api(request).call('POST', '/clients', {
        ...(fields.clientId ? { clientId: fields.clientId } : {}),
        rsin: fields.rsin ?? '',
        ...body,
        // The form's authentication fields, when it has them (a form of before sends none: the defaults).
        ...(fields.authForm === '1' ? authBodyOf(fields) : {}),
      });
    } catch (err) {
      if (!(err instanceof AdminApiProblem) || err.status >= 500 || err.status === 401 || err.status === 404) throw err;
      return tools.send(
        reply,
        request,
        m.newClientTitle,
        newClientForm(ctx, fields, startWith, authFieldErrors(m, err, ['clientId', ...CLIENT_FORM_FIELDS])),
        err.status,
      );
    }
    // A client of keys or certificates only has no secret to show: its page, to register its keys.
    if (!created.secret)
      return tools.redirect(reply, request, clientPath(created.client.clientId), {
        kind: 'ok',
        text: fill(m.createdWithoutSecret, { id: created.client.clientId }),
      });
    return tools.send(
      reply,
      request,
      fill(m.clientCreatedTitle, { id: created.client.clientId }),
      secretShown(ctx, created.client.clientId, created.secret.value),
    );
  });

  app.get<{ Params: IdParams }>('/clients/:clientId', async (request, reply) =>
    clientPage(tools, request, reply, request.params.clientId),
  );

  registerAutorisatiePages(app, tools, (request, reply, clientId, acState) =>
    clientPage(tools, request, reply, clientId, { acState }),
  );

  app.post<{ Params: IdParams }>('/clients/:clientId', async (request, reply) => {
    const ctx = tools.ctx(request);
    const m = ctx.m;
    const { clientId } = request.params;
    const fields = formOf(request);
    const incomplete = refuseIncompleteForm(tools, reply, request, fields, EDIT_FORM_FIELDS);
    if (incomplete) return incomplete;
    const global = isGlobalAdmin(ctx.session);
    const checked = checkClientForm(m, fields, { creating: false, rsinField: global, ownRsin: ownRsinOf(ctx) });
    if (Object.keys(checked.errors).length)
      return clientPage(tools, request, reply, clientId, { values: fields, errors: checked.errors });
    const body = { ...checked.body, ...(global && fields.rsin ? { rsin: fields.rsin } : {}) };
    if (fields.confirmed !== 'yes') {
      const confirm = await lockoutConfirmation(tools, request, clientId, {
        verb: 'edit',
        fields,
        allowedScopes: checked.body.allowedScopes as string[],
        rsin: body.rsin,
      });
      if (confirm) return tools.send(reply, request, m.confirmTitle, confirm);
    }
    let result: { warnings: string[] };
    try {
      result = await tools.api(request).call('PATCH', `/clients/${encodeURIComponent(clientId)}`, body);
    } catch (err) {
      if (!(err instanceof AdminApiProblem) || (err.status !== 400 && err.status !== 403)) throw err;
      return clientPage(tools, request, reply, clientId, {
        values: fields,
        errors: apiFieldErrors(m, err, CLIENT_FORM_FIELDS),
      });
    }
    const text = [m.saved, ...result.warnings.map((w) => fill(m.warning, { text: w }))].join(' ');
    return tools.redirect(reply, request, clientPath(clientId), { kind: 'ok', text });
  });

  app.post<{ Params: IdParams }>('/clients/:clientId/authentication', async (request, reply) => {
    const ctx = tools.ctx(request);
    const m = ctx.m;
    const { clientId } = request.params;
    const fields = formOf(request);
    const incomplete = refuseIncompleteForm(tools, reply, request, fields, AUTH_FORM_FIELDS);
    if (incomplete) return incomplete;
    let result: { warnings: string[] };
    try {
      // The rules are the admin API's (ClientService): the console only reads the form.
      result = await tools.api(request).call('PATCH', `/clients/${encodeURIComponent(clientId)}`, authBodyOf(fields));
    } catch (err) {
      if (!(err instanceof AdminApiProblem) || (err.status !== 400 && err.status !== 403)) throw err;
      return clientPage(tools, request, reply, clientId, {
        authValues: fields,
        authErrors: authFieldErrors(m, err, AUTH_API_FIELDS),
      });
    }
    const text = [m.authSaved, ...result.warnings.map((w) => fill(m.warning, { text: w }))].join(' ');
    return tools.redirect(reply, request, clientPath(clientId), { kind: 'ok', text });
  });

  for (const verb of ['enable', 'disable'] as const) {
    app.post<{ Params: IdParams }>(`/clients/:clientId/${verb}`, async (request, reply) => {
      const m = tools.ctx(request).m;
      if (verb === 'disable' && formOf(request).confirmed !== 'yes') {
        const confirm = await lockoutConfirmation(tools, request, request.params.clientId, { verb: 'disable' });
        if (confirm) return tools.send(reply, request, m.confirmTitle, confirm);
      }
      await tools.api(request).call('POST', `/clients/${encodeURIComponent(request.params.clientId)}/${verb}`);
      return tools.redirect(reply, request, clientPath(request.params.clientId), {
        kind: 'ok',
        text: verb === 'enable' ? m.enabledNotice : m.disabledNotice,
      });
    });
  }

  app.post<{ Params: IdParams }>('/clients/:clientId/delete', async (request, reply) => {
    const m = tools.ctx(request).m;
    const { clientId } = request.params;
    if (formOf(request).clientId !== clientId)
      return tools.redirect(reply, request, clientPath(clientId), { kind: 'error', text: m.deleteMismatch });
    if (formOf(request).confirmed !== 'yes') {
      const confirm = await lockoutConfirmation(tools, request, clientId, { verb: 'delete' });
      if (confirm) return tools.send(reply, request, m.confirmTitle, confirm);
    }
    await tools.api(request).call('DELETE', `/clients/${encodeURIComponent(clientId)}`);
    return tools.redirect(reply, request, `${BASE}/clients`, { kind: 'ok', text: fill(m.deleted, { id: clientId }) });
  });

  app.post<{ Params: IdParams }>('/clients/:clientId/secrets', async (request, reply) => {
    const ctx = tools.ctx(request);
    const m = ctx.m;
    const { clientId } = request.params;
    const fields = formOf(request);
    const secretErrors: FieldErrors = {};
    const labelError = checkLabel(m, fields.label ?? '');
    if (labelError) secretErrors.label = labelError;
    let expiresAt: number | undefined;
    if (fields.expiresAt) {
      expiresAt = startOfDutchDay(fields.expiresAt);
      if (expiresAt === undefined || expiresAt <= ctx.now) secretErrors.expiresAt = m.expiresInvalid;
    }
    if (Object.keys(secretErrors).length)
      return clientPage(tools, request, reply, clientId, { secretValues: fields, secretErrors });
    let created: { value: string };
    try {
      created = await tools.api(request).call('POST', `/clients/${encodeURIComponent(clientId)}/secrets`, {
        label: fields.label ?? '',
        ...(expiresAt !== undefined ? { expiresAt } : {}),
      });
    } catch (err) {
      if (!(err instanceof AdminApiProblem) || err.status !== 400) throw err;
      return clientPage(tools, request, reply, clientId, {
        secretValues: fields,
        secretErrors: apiFieldErrors(m, err, ['label', 'expiresAt']),
      });
    }
    return tools.send(
      reply,
      request,
      fill(m.secretCreatedTitle, { id: clientId }),
      secretShown(ctx, clientId, created.value),
    );
  });

  app.post<{ Params: IdParams }>('/clients/:clientId/keys', async (request, reply) => {
    const m = tools.ctx(request).m;
    const { clientId } = request.params;
    const fields = formOf(request);
    const pasted = (fields.keys ?? '').trim();
    let body: Record<string, unknown> | undefined;
    if (pasted.startsWith('-----BEGIN')) body = { pem: pasted };
    else {
      try {
        const parsed = JSON.parse(pasted) as unknown;
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
          body = 'keys' in parsed ? { jwks: parsed } : { jwk: parsed };
      } catch {
        body = undefined;
      }
    }
    if (!body)
      return clientPage(tools, request, reply, clientId, { keyValues: fields, keyErrors: { keys: m.keysHint } });
    let added: { items: ClientKey[] };
    try {
      added = await tools.api(request).call('POST', `/clients/${encodeURIComponent(clientId)}/keys`, body);
    } catch (err) {
      if (!(err instanceof AdminApiProblem) || (err.status !== 400 && err.status !== 409)) throw err;
      return clientPage(tools, request, reply, clientId, {
        keyValues: fields,
        keyErrors: { keys: err.detail || m.keysHint },
      });
    }
    return tools.redirect(reply, request, clientPath(clientId), {
      kind: 'ok',
      text: fill(m.keysAdded, { count: added.items.length, id: clientId }),
    });
  });

  app.post<{ Params: IdParams & { kid: string } }>('/clients/:clientId/keys/:kid/remove', async (request, reply) => {
    const m = tools.ctx(request).m;
    const { clientId, kid } = request.params;
    await tools.api(request).call('DELETE', `/clients/${encodeURIComponent(clientId)}/keys/${encodeURIComponent(kid)}`);
    return tools.redirect(reply, request, clientPath(clientId), { kind: 'ok', text: fill(m.keyRemoved, { kid }) });
  });

  app.get<{ Params: IdParams & { secretId: string } }>(
    '/clients/:clientId/secrets/:secretId/revoke',
    async (request, reply) => {
      const ctx = tools.ctx(request);
      const m = ctx.m;
      const { clientId, secretId } = request.params;
      const secrets = await tools
        .api(request)
        .call<SecretInfo[]>('GET', `/clients/${encodeURIComponent(clientId)}/secrets`);
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
    },
  );

  app.post<{ Params: IdParams & { secretId: string } }>(
    '/clients/:clientId/secrets/:secretId/revoke',
    async (request, reply) => {
      const m = tools.ctx(request).m;
      const { clientId, secretId } = request.params;
      await tools
        .api(request)
        .call('DELETE', `/clients/${encodeURIComponent(clientId)}/secrets/${encodeURIComponent(secretId)}`);
      return tools.redirect(reply, request, clientPath(clientId), {
        kind: 'ok',
        text: fill(m.revoked, { secret: secretId }),
      });
    },
  );
}

const LIST_MAX = 1000;
const LIST_PAGES_MAX = 20;

/** The enabled clients of an organisation (all organisations: undefined) holding `scope`, other than `except`; undefined when there are too many to tell. */
async function otherEnabledHolders(
  tools: ConsoleTools,
  request: FastifyRequest,
  rsin: string | undefined,
  scope: string,
  except: string,
): Promise<number | undefined> {
  let found = 0;
  for (let page = 0; page < LIST_PAGES_MAX; page++) {
    const list = await tools.api(request).get<{ items: Client[]; total: number }>('/clients', {
      rsin,
      enabled: true,
      limit: LIST_MAX,
      offset: page * LIST_MAX,
    });
    found += list.items.filter((c) => c.clientId !== except && c.allowedScopes.includes(scope)).length;
    if (found > 0 || (page + 1) * LIST_MAX >= list.total) return found;
  }
  return undefined;
}

/** A change that may lock administrators out; an edit names the scopes and organisation it saves. */
type LockoutChange =
  { verb: 'disable' | 'delete' } | { verb: 'edit'; fields: FormFields; allowedScopes: string[]; rsin: unknown };

/**
 * Disabling or deleting the client of the session, or the last enabled administrator of an
 * organisation (or of the platform), locks people out until someone else steps in; so does an edit
 * that takes the administrator scope away from such a client (or moves the last administrator out
 * of its organisation): such a change first shows what it will do and asks to confirm it. Undefined
 * when the change locks nobody out.
 */
async function lockoutConfirmation(
  tools: ConsoleTools,
  request: FastifyRequest,
  clientId: string,
  change: LockoutChange,
): Promise<SafeHtml | undefined> {
  const ctx = tools.ctx(request);
  const m = ctx.m;
  const { verb } = change;
  const client = await tools.api(request).call<Client>('GET', `/clients/${encodeURIComponent(clientId)}`);
  const held = [ADMIN_SCOPE, ORG_ADMIN_SCOPE].filter((s) => client.allowedScopes.includes(s));
  // The administrator scopes the client no longer holds after the change (where it holds them now).
  const lost =
    change.verb === 'edit'
      ? held.filter(
          (s) =>
            !change.allowedScopes.includes(s) ||
            (s === ORG_ADMIN_SCOPE && typeof change.rsin === 'string' && change.rsin !== client.rsin),
        )
      : held;
  const consequences: string[] = [];
  const self = client.clientId === ctx.session?.clientId;
  if (self && change.verb !== 'edit')
    consequences.push(fill(verb === 'disable' ? m.confirmDisableSelf : m.confirmDeleteSelf, { id: clientId }));
  const scope = ctx.session?.scope ?? '';
  if (self && change.verb === 'edit' && !change.allowedScopes.includes(scope) && held.includes(scope))
    consequences.push(fill(m.confirmScopeSelf, { id: clientId, scope }));
  // None other found (or too many clients to look through): this one is the last.
  const last = async (rsin: string | undefined, scope: string) =>
    ((await otherEnabledHolders(tools, request, rsin, scope, clientId)) ?? 0) === 0;
  if (client.enabled && lost.includes(ORG_ADMIN_SCOPE) && (await last(client.rsin, ORG_ADMIN_SCOPE))) {
    const name = (await organisationNames(tools.api(request), [client.rsin])).get(client.rsin);
    consequences.push(
      fill(m.confirmLastOrgAdmin, {
        id: clientId,
        org: name ? fill(m.orgWithRsin, { name, rsin: client.rsin }) : client.rsin,
      }),
    );
  }
  if (client.enabled && lost.includes(ADMIN_SCOPE) && (await last(undefined, ADMIN_SCOPE)))
    consequences.push(fill(m.confirmLastPlatformAdmin, { id: clientId }));
  if (!consequences.length) return undefined;
  // An edit is sent again as it was, field for field, with the confirmation.
  const resent =
    change.verb === 'edit'
      ? Object.entries(change.fields)
          .filter(([name]) => name !== 'csrf' && name !== 'confirmed')
          .map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}" />`)
      : verb === 'delete'
        ? html`<input type="hidden" name="clientId" value="${clientId}" />`
        : '';
  const button =
    verb === 'disable' ? m.confirmDisableButton : verb === 'delete' ? m.confirmDeleteButton : m.confirmSaveButton;
  return html`<div class="utrecht-alert utrecht-alert--warning" role="alert">
      <div class="utrecht-alert__message">${consequences.map((c) => html`<p class="utrecht-paragraph">${c}</p>`)}</div>
    </div>
    <p class="utrecht-paragraph">${m.confirmQuestion}</p>
    <form method="post" action="${verb === 'edit' ? clientPath(clientId) : `${clientPath(clientId)}/${verb}`}" class="console-actions">
      ${csrfField(ctx)}<input type="hidden" name="confirmed" value="yes" />${resent} ${submitButton(button, 'danger')}
      <a class="utrecht-link" href="${clientPath(clientId)}">${m.cancel}</a>
    </form>`;
}

/**
 * The fields the client edit form always sends. Its checkbox is absent when unticked, and an
 * organisation administrator's form has no RSIN (an empty one keeps the organisation as it is).
 */
const EDIT_FORM_FIELDS = ['name', 'description', 'allowedScopes', 'defaultScopes', 'staticClaims', 'tokenLifetime'];

/** The fields of the client form that the admin API may name in a refusal. */
const CLIENT_FORM_FIELDS = [
  'rsin',
  'name',
  'description',
  'allowedScopes',
  'defaultScopes',
  'staticClaims',
  'tokenLifetime',
  'selfSignedAllowed',
];

/** The fields the authentication form always sends (its checkboxes are absent when unticked). */
const AUTH_FORM_FIELDS = ['jwksUri', 'tlsSubjectField', 'tlsSubjectValue', 'oin'];
/** The fields of the authentication form the admin API may name in a refusal. */
const AUTH_API_FIELDS = ['authMethods', 'jwksUri', 'tlsSubject', 'oin'];

const METHOD_LABELS: Record<ClientAuthMethod, (m: Messages) => string> = {
  client_secret_basic: (m) => m.methodClientSecretBasic,
  client_secret_post: (m) => m.methodClientSecretPost,
  private_key_jwt: (m) => m.methodPrivateKeyJwt,
  tls_client_auth: (m) => m.methodTlsClientAuth,
  self_signed_tls_client_auth: (m) => m.methodSelfSignedTlsClientAuth,
};
const methodField = (method: ClientAuthMethod) => `authMethods.${method}`;

/**
 * The authentication fields of a form as the admin API takes them, read and nothing more: which
 * methods, jwks_uri, TLS subject and OIN are acceptable is the admin API's to say (an empty text
 * field clears its setting; an unticked box is false).
 */
function authBodyOf(f: FormFields): Record<string, unknown> {
  const text = (name: string) => (f[name] ?? '').trim();
  const subjectField = text('tlsSubjectField');
  return {
    authMethods: CLIENT_AUTH_METHODS.filter((method) => f[methodField(method)] === 'true'),
    jwksUri: text('jwksUri') || null,
    tlsSubject: subjectField ? { field: subjectField, value: text('tlsSubjectValue') } : null,
    oin: text('oin') || null,
    dpopBoundAccessTokens: f.dpopBoundAccessTokens === 'true',
    tlsClientCertificateBoundAccessTokens: f.tlsClientCertificateBoundAccessTokens === 'true',
  };
}

/**
 * A refusal next to the field it names. Taking the last secret method from a self-signing client
 * is refused by the API as a selfSignedAllowed matter: on the authentication form it belongs with
 * the methods.
 */
function authFieldErrors(m: Messages, err: AdminApiProblem, fields: readonly string[]): FieldErrors {
  if (err.status === 400 && err.field === 'selfSignedAllowed' && /secret method/.test(err.detail))
    return { authMethods: m.errAuthSelfSigned };
  return apiFieldErrors(m, err, [...fields, ...AUTH_API_FIELDS]);
}

/** The form values of a client's authentication settings. */
function authValuesOf(client: Client): FormFields {
  const values: FormFields = {
    jwksUri: client.jwksUri ?? '',
    tlsSubjectField: client.tlsSubject?.field ?? '',
    tlsSubjectValue: client.tlsSubject?.value ?? '',
    oin: client.oin ?? '',
    dpopBoundAccessTokens: client.dpopBoundAccessTokens ? 'true' : '',
    tlsClientCertificateBoundAccessTokens: client.tlsClientCertificateBoundAccessTokens ? 'true' : '',
  };
  for (const method of client.authMethods) values[methodField(method)] = 'true';
  return values;
}

/** The authentication settings: methods, jwks_uri, TLS subject, OIN and the two token bindings. */
function authFormFields(ctx: PageContext, v: FormFields, error: FieldErrors | undefined): SafeHtml {
  const m = ctx.m;
  return html`${checkboxGroup(
    'authMethods',
    m.fieldAuthMethods,
    CLIENT_AUTH_METHODS.map((method) => [
      methodField(method),
      METHOD_LABELS[method](m),
      v[methodField(method)] === 'true',
    ]),
    { hint: m.authMethodsHint, error: errorFor(error, 'authMethods') },
  )}
  ${textField('jwksUri', m.fieldJwksUri, v.jwksUri ?? '', { maxlength: 2048, hint: m.jwksUriHint, error: errorFor(error, 'jwksUri'), autocomplete: 'off' })}
  ${selectField(
    'tlsSubjectField',
    m.fieldTlsSubjectField,
    v.tlsSubjectField ?? '',
    [['', m.tlsSubjectNone], ...TLS_SUBJECT_FIELDS.map((f): [string, string] => [f, f])],
    { error: errorFor(error, 'tlsSubject') },
  )}
  ${textField('tlsSubjectValue', m.fieldTlsSubjectValue, v.tlsSubjectValue ?? '', { maxlength: 1024, hint: m.tlsSubjectHint, autocomplete: 'off' })}
  ${textField('oin', m.fieldOin, v.oin ?? '', { maxlength: 20, inputmode: 'numeric', hint: m.oinHint, error: errorFor(error, 'oin') })}
  ${checkbox('dpopBoundAccessTokens', m.fieldDpopBound, v.dpopBoundAccessTokens === 'true', { hint: m.dpopBoundHint })}
  ${checkbox('tlsClientCertificateBoundAccessTokens', m.fieldCertificateBound, v.tlsClientCertificateBoundAccessTokens === 'true', { hint: m.certificateBoundHint })}`;
}

/** An organisation administrator's own RSIN; undefined for a global administrator. */
const ownRsinOf = (ctx: PageContext) => (isGlobalAdmin(ctx.session) ? undefined : ctx.session?.rsin);

const errorFor = (errors: FieldErrors | undefined, field: string) => errors?.[field];

function clientFormFields(
  ctx: PageContext,
  v: FormFields,
  error: FieldErrors | undefined,
  rsinEditable: boolean,
): SafeHtml {
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

/**
 * What a new client's form starts with: the secret methods, as the admin API defaults to; where
 * the operator allows new clients other methods only (NL GOV mode), the first of those. A default
 * only: what may be registered is the admin API's to say.
 */
function newClientAuth(allowed: readonly ClientAuthMethod[] | undefined): FormFields {
  const secrets = SECRET_AUTH_METHODS.filter((m) => !allowed || allowed.includes(m));
  const methods = secrets.length ? secrets : allowed!.slice(0, 1);
  return Object.fromEntries(methods.map((m) => [methodField(m), 'true']));
}

function newClientForm(ctx: PageContext, values: FormFields, startWith: FormFields, error?: FieldErrors): SafeHtml {
  const m = ctx.m;
  return html`${error ? errorSummary(m, error) : ''}
    <form method="post" action="${BASE}/clients">
      ${csrfField(ctx)} ${textField('clientId', m.fieldClientId, values.clientId ?? '', { maxlength: 50, hint: m.fieldClientIdHint, error: errorFor(error, 'clientId') })}
      ${clientFormFields(ctx, values, error, true)}
      <h2 class="utrecht-heading-2">${m.authMethodsTitle}</h2>
      <p class="utrecht-paragraph">${m.authIntro}</p>
      <input type="hidden" name="authForm" value="1" />
      ${authFormFields(ctx, values.authForm === '1' ? values : { ...values, ...startWith }, error)}
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
  errors?: FieldErrors;
  secretValues?: FormFields;
  secretErrors?: FieldErrors;
  keyValues?: FormFields;
  keyErrors?: FieldErrors;
  authValues?: FormFields;
  authErrors?: FieldErrors;
  /** The add form of the client's rights in the ZGW APIs, refused. */
  acState?: AutorisatieFormState;
}

async function clientPage(
  tools: ConsoleTools,
  request: FastifyRequest,
  reply: Parameters<ConsoleTools['send']>[0],
  clientId: string,
  state: ClientPageState = {},
) {
  const ctx = tools.ctx(request);
  const m = ctx.m;
  const api = tools.api(request);
  const path = `/clients/${encodeURIComponent(clientId)}`;
  const [client, secrets, keys] = await Promise.all([
    api.call<Client>('GET', path),
    api.call<SecretInfo[]>('GET', `${path}/secrets`),
    api.call<{ items: (ClientKey & { expiresSoon: boolean; expired: boolean })[] }>('GET', `${path}/keys`),
  ]);
  const names = await organisationNames(api, [client.rsin]);
  // Its secrets within ZGW_AUTH_EXPIRY_WARNING of their expiry get the badge its keys get.
  const expiringSecrets = new Set(
    (
      await api.get<{ items: { clientId: string; kind: string; id: string }[] }>('/credentials/expiring', {
        organisation: client.rsin,
      })
    ).items
      .filter((c) => c.clientId === clientId && c.kind === 'secret')
      .map((c) => c.id),
  );
  const applicatie = await applicatieOf(tools, request, clientId);
  const chosenComponent = (request.query as Record<string, unknown> | undefined)?.component;
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
  const stateOf = (s: SecretInfo) =>
    s.revokedAt !== null ? m.stateRevoked : s.expiresAt !== null && s.expiresAt <= now ? m.stateExpired : m.stateLive;
  const secretRows = secrets.map((s) => [
    html`<code class="utrecht-code">${s.secretId}</code>`,
    html`${s.label || '—'}${s.weak ? html` <span class="utrecht-status-badge utrecht-status-badge--warning">${m.weakBadge}</span>` : ''}`,
    formatTime(ctx.lang, s.createdAt),
    html`${formatTime(ctx.lang, s.expiresAt)}${
      expiringSecrets.has(s.secretId)
        ? html` <span class="utrecht-status-badge utrecht-status-badge--warning">${m.expiringBadge}</span>`
        : ''
    }`,
    formatTime(ctx.lang, s.lastUsedAt, m.never),
    stateOf(s),
    s.revokedAt === null
      ? html`<a class="utrecht-link" href="${clientPath(clientId)}/secrets/${encodeURIComponent(s.secretId)}/revoke" aria-label="${fill(m.revokeLabel, { id: s.secretId })}">${m.revoke}</a>`
      : '',
  ]);
  const keyRows = keys.items.map((k) => [
    html`<code class="utrecht-code">${k.kid}</code>`,
    html`<code class="utrecht-code">${k.thumbprint}</code>`,
    `${k.kty}${k.alg ? ` ${k.alg}` : ''}`,
    html`${formatTime(ctx.lang, k.expiresAt)}${
      k.expired
        ? html` <span class="utrecht-status-badge utrecht-status-badge--danger">${m.expiredBadge}</span>`
        : k.expiresSoon
          ? html` <span class="utrecht-status-badge utrecht-status-badge--warning">${m.expiringBadge}</span>`
          : ''
    }`,
    formatTime(ctx.lang, k.lastUsedAt, m.never),
    html`<form method="post" action="${clientPath(clientId)}/keys/${encodeURIComponent(k.kid)}/remove">
      ${csrfField(ctx)}<button type="submit" class="utrecht-button utrecht-button--subtle" aria-label="${fill(m.removeKeyLabel, { kid: k.kid })}">${m.removeKey}</button>
    </form>`,
  ]);
  const kv = state.keyValues ?? {};
  const av = state.authValues ?? authValuesOf(client);
  const withSecrets = usesSecrets(client);
  const sv = state.secretValues ?? {};
  const expiring = keys.items.filter((k) => k.expiresSoon).sort((a, b) => (a.expiresAt ?? 0) - (b.expiresAt ?? 0));
  const expiringNote = expiring.length
    ? alert(
        'info',
        fill(m.certificatesExpiring, {
          count: expiring.length,
          kid: expiring[0]!.kid,
          at: formatTime(ctx.lang, expiring[0]!.expiresAt),
        }),
      )
    : '';
  const content = html`${state.errors ? errorSummary(m, state.errors) : ''} ${client.risks.includes('weak_secret') ? alert('error', m.riskWeak) : ''} ${expiringNote}
    <dl class="utrecht-data-list">
      <div class="utrecht-data-list__item">
        <dt class="utrecht-data-list__item-key">${m.colOrganisation}</dt>
        <dd class="utrecht-data-list__item-value">${organisationLabel(names, client.rsin)}</dd>
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
    <h2 class="utrecht-heading-2" id="authentication">${m.authMethodsTitle}</h2>
    <p class="utrecht-paragraph">${client.authMethods.map((a) => html`<code class="utrecht-code">${a}</code> `)}</p>
    ${state.authErrors ? errorSummary(m, state.authErrors) : ''}
    <form method="post" action="${clientPath(clientId)}/authentication">
      ${csrfField(ctx)} ${authFormFields(ctx, av, state.authErrors)}
      <div class="console-actions">${submitButton(m.saveAuth, 'secondary')}</div>
    </form>
    ${autorisatiesSection(ctx, clientId, applicatie, typeof chosenComponent === 'string' ? chosenComponent : undefined, state.acState)}
    <h2 class="utrecht-heading-2">${m.clientKeysTitle}</h2>
    ${client.jwksUri ? html`<p class="utrecht-paragraph">${fill(m.keysAtUri, { uri: client.jwksUri })}</p>` : ''}
    ${
      keyRows.length
        ? dataTable(
            m.clientKeysTitle,
            [m.colKid, m.colThumbprint, m.colKeyType, m.colExpires, m.colLastUsed, m.colActions],
            keyRows,
          )
        : client.jwksUri
          ? ''
          : html`<p class="utrecht-paragraph">${m.noKeys}</p>`
    }
    ${
      client.jwksUri
        ? ''
        : html`<h3 class="utrecht-heading-3">${m.addKeys}</h3>
            ${state.keyErrors ? errorSummary(m, state.keyErrors) : ''}
            <form method="post" action="${clientPath(clientId)}/keys">
              ${csrfField(ctx)} ${textArea('keys', m.fieldKeys, kv.keys ?? '', { hint: m.keysHint, error: errorFor(state.keyErrors, 'keys') })}
              <div class="console-actions">${submitButton(m.addKeys, 'secondary')}</div>
            </form>`
    }
    <h2 class="utrecht-heading-2">${m.secretsTitle}</h2>
    ${
      secrets.length
        ? dataTable(
            m.secretsTitle,
            [m.colSecretId, m.colLabel, m.colCreated, m.colExpires, m.colLastUsed, m.colState, m.colActions],
            secretRows,
          )
        : html`<p class="utrecht-paragraph">${m.noSecrets}</p>`
    }
    ${
      withSecrets
        ? html`<h3 class="utrecht-heading-3">${m.addSecret}</h3>
            ${state.secretErrors ? errorSummary(m, state.secretErrors) : ''}
            <form method="post" action="${clientPath(clientId)}/secrets">
              ${csrfField(ctx)} ${textField('label', m.fieldLabel, sv.label ?? '', { maxlength: 200, hint: m.labelHint, error: errorFor(state.secretErrors, 'label') })}
              ${textField('expiresAt', m.fieldExpires, sv.expiresAt ?? '', { type: 'date', hint: m.expiresHint, error: errorFor(state.secretErrors, 'expiresAt') })}
              <div class="console-actions">${submitButton(m.addSecret, 'secondary')}</div>
            </form>`
        : html`<p class="utrecht-paragraph">${m.noSecretMethod}</p>`
    }
    <h2 class="utrecht-heading-2">${m.details}</h2>
    <form method="post" action="${clientPath(clientId)}">
      ${csrfField(ctx)} ${clientFormFields(ctx, values, state.errors, isGlobalAdmin(ctx.session))}
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
  return tools.send(
    reply,
    request,
    client.clientId,
    content,
    state.errors || state.secretErrors || state.keyErrors || state.authErrors || state.acState ? 400 : 200,
  );
}
