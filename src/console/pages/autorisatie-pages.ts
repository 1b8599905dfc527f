import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  type Autorisatie,
  COMPONENT_FIELDS,
  COMPONENT_SCOPES,
  COMPONENTS,
  type Component,
  VERTROUWELIJKHEIDAANDUIDINGEN,
} from '../../autorisaties/model.js';
import { AdminApiProblem } from '../admin-api.js';
import { autorisatieWords, COMPONENT_WORDS, LEVEL_WORDS, scopeWords, typeFieldOf } from '../autorisatie-words.js';
import { type ConsoleTools, formOf, type FormFields } from '../console-tools.js';
import { checkbox, checkboxGroup, selectField, submitButton, textField } from '../form-fields.js';
import { errorSummary, type FieldErrors } from '../form-errors.js';
import { html, type SafeHtml } from '../html.js';
import { BASE, csrfField, isGlobalAdmin, type PageContext } from '../layout.js';
import { fill, type Messages } from '../messages.js';

/** A client's applicatie as the admin API gives it. */
export interface ClientApplicatie {
  uuid: string;
  clientIds: string[];
  heeftAlleAutorisaties: boolean;
  autorisaties: Autorisatie[];
  alleenIsGereedVoorPublicatie: boolean;
}

/** What the add form held and what was wrong with it, to show again next to its fields. */
export interface AutorisatieFormState {
  values: FormFields;
  errors: FieldErrors;
}

type IdParams = { clientId: string };

const clientPath = (clientId: string) => `${BASE}/clients/${encodeURIComponent(clientId)}`;
const isComponent = (v: unknown): v is Component =>
  typeof v === 'string' && (COMPONENTS as readonly string[]).includes(v);

/** The client's applicatie, or undefined when it is in none (404 from the admin API). */
export async function applicatieOf(tools: ConsoleTools, request: FastifyRequest, clientId: string) {
  try {
    return await tools
      .api(request)
      .call<ClientApplicatie>('GET', `/clients/${encodeURIComponent(clientId)}/applicatie`);
  } catch (err) {
    if (err instanceof AdminApiProblem && err.status === 404) return undefined;
    throw err;
  }
}

/**
 * The refusal of the admin API (the Autorisaties API's rules, coded per field) in words, next to
 * the field it names: the type URL, the scopes, the maximum level, or the form as a whole.
 */
function acFieldErrors(m: Messages, err: AdminApiProblem, component: Component): FieldErrors {
  const field = err.field ?? '';
  const type = typeFieldOf(component) ?? '';
  if (/\.(zaaktype|informatieobjecttype|besluittype)$/.test(field))
    return { 'ac-type': err.fieldCode === 'required' ? fill(m.errAcTypeRequired, { type }) : m.errAcTypeInvalid };
  if (/\.maxVertrouwelijkheidaanduiding$/.test(field)) return { 'ac-max': m.errAcMaxRequired };
  if (/\.scopes(\.\d+)?$/.test(field)) return { 'ac-scopes': m.errAcScopes };
  if (err.status === 403) return { '': m.errAcForbidden };
  return { '': m.errAcAllOrList };
}

/** The section of a client's page: its rights in words, the remove buttons and the add form. */
export function autorisatiesSection(
  ctx: PageContext,
  clientId: string,
  applicatie: ClientApplicatie | undefined,
  chosen: string | undefined,
  state: AutorisatieFormState | undefined,
): SafeHtml {
  const m = ctx.m;
  const lang = ctx.lang;
  const list = applicatie?.autorisaties ?? [];
  const others = (applicatie?.clientIds ?? []).filter((id) => id !== clientId);
  const sentence = (a: Autorisatie) => {
    const w = autorisatieWords(lang, a);
    const [before, after] = w.text.split('{type}');
    return w.typeUrl
      ? html`${before}<a class="utrecht-link" href="${w.typeUrl}" title="${w.typeUrl}" rel="noreferrer">${w.typeName!}</a>${after ?? ''}`
      : html`${w.text}`;
  };
  const rights = applicatie?.heeftAlleAutorisaties
    ? html`<p class="utrecht-paragraph">${m.acAll}</p>`
    : list.length
      ? html`<ul class="utrecht-unordered-list console-rights">
          ${list.map(
            (a, i) => html`<li class="utrecht-unordered-list__item">
              <span>${sentence(a)}</span>
              <form method="post" action="${clientPath(clientId)}/autorisaties/remove" class="console-inline-form">
                ${csrfField(ctx)}<input type="hidden" name="index" value="${String(i)}" />
                <button type="submit" class="utrecht-button utrecht-button--subtle" aria-label="${fill(m.acRemoveLabel, { n: i + 1 })}">${m.acRemove}</button>
              </form>
            </li>`,
          )}
        </ul>`
      : html`<p class="utrecht-paragraph">${m.acNone}</p>`;

  const values = state?.values ?? {};
  const component: Component = isComponent(values.component) ? values.component : isComponent(chosen) ? chosen : 'zrc';
  const errors = state?.errors;
  const typeField = typeFieldOf(component);
  const hasMax = COMPONENT_FIELDS[component].includes('maxVertrouwelijkheidaanduiding');
  const componentChoices = COMPONENTS.map((c) => [c, COMPONENT_WORDS[c][lang]] as [string, string]);
  const chooser = html`<form method="get" action="${clientPath(clientId)}#ac-add" class="console-filters">
    ${selectField('component', m.acComponent, component, componentChoices, { id: 'ac-component' })}
    <div>${submitButton(m.acChooseComponent, 'secondary')}</div>
  </form>`;
  const addForm = html`<form method="post" action="${clientPath(clientId)}/autorisaties">
    ${csrfField(ctx)}<input type="hidden" name="component" value="${component}" />
    ${checkboxGroup(
      'ac-scopes',
      `${m.acScopes} (${COMPONENT_WORDS[component][lang]})`,
      COMPONENT_SCOPES[component].map((scope) => [
        `scope:${scope}`,
        `${scopeWords(lang, scope)} (${scope})`,
        values[`scope:${scope}`] === 'true',
      ]),
      { error: errors?.['ac-scopes'] },
    )}
    ${typeField ? textField('type', fill(m.acTypeUrl, { type: typeField }), values.type ?? '', { id: 'ac-type', maxlength: 1000, hint: m.acTypeHint, error: errors?.['ac-type'], autocomplete: 'off' }) : ''}
    ${
      hasMax
        ? selectField(
            'max',
            m.acMax,
            values.max ?? '',
            [['', '—'], ...VERTROUWELIJKHEIDAANDUIDINGEN.map((l) => [l, LEVEL_WORDS[l][lang]] as [string, string])],
            { id: 'ac-max', error: errors?.['ac-max'] },
          )
        : ''
    }
    <div class="console-actions">${submitButton(m.acAdd, 'secondary')}</div>
  </form>`;
  const allForm = isGlobalAdmin(ctx.session)
    ? html`<form method="post" action="${clientPath(clientId)}/autorisaties/all">
        ${csrfField(ctx)} ${checkbox('heeftAlleAutorisaties', m.acAllLabel, applicatie?.heeftAlleAutorisaties === true, { id: 'ac-all', hint: m.acAllHint })}
        <div class="console-actions">${submitButton(m.acSaveAll, 'secondary')}</div>
      </form>`
    : '';
  return html`<h2 class="utrecht-heading-2" id="autorisaties">${m.acTitle}</h2>
    <p class="utrecht-paragraph">${m.acIntro}</p>
    ${rights}
    ${applicatie?.alleenIsGereedVoorPublicatie ? html`<p class="utrecht-paragraph">${m.acOnlyPublishable}</p>` : ''}
    ${others.length ? html`<p class="utrecht-paragraph">${fill(m.acShared, { ids: others.join(', ') })}</p>` : ''}
    <h3 class="utrecht-heading-3" id="ac-add">${m.acAddTitle}</h3>
    ${errors ? errorSummary(m, errors) : ''} ${chooser} ${addForm} ${allForm}`;
}

/** The console's writes of a client's rights: each a PUT of the admin API, so the Autorisaties API's rules decide. */
export function registerAutorisatiePages(
  app: FastifyInstance,
  tools: ConsoleTools,
  rerender: (request: FastifyRequest, reply: FastifyReply, clientId: string, state: AutorisatieFormState) => unknown,
): void {
  const save = (request: FastifyRequest, clientId: string, body: Record<string, unknown>) =>
    tools.api(request).call<ClientApplicatie>('PUT', `/clients/${encodeURIComponent(clientId)}/applicatie`, body);
  const done = (request: FastifyRequest, reply: FastifyReply, clientId: string) =>
    tools.redirect(reply, request, `${clientPath(clientId)}#autorisaties`, {
      kind: 'ok',
      text: tools.ctx(request).m.acSaved,
    });

  app.post<{ Params: IdParams }>('/clients/:clientId/autorisaties', async (request, reply) => {
    const m = tools.ctx(request).m;
    const { clientId } = request.params;
    const fields = formOf(request);
    const component = fields.component;
    if (!isComponent(component))
      return rerender(request, reply, clientId, { values: {}, errors: { '': m.errAcAllOrList } });
    const scopes = COMPONENT_SCOPES[component].filter((s) => fields[`scope:${s}`] === 'true');
    const autorisatie: Record<string, unknown> = { component, scopes };
    const typeField = typeFieldOf(component);
    if (typeField && fields.type) autorisatie[typeField] = fields.type.trim();
    if (COMPONENT_FIELDS[component].includes('maxVertrouwelijkheidaanduiding') && fields.max)
      autorisatie.maxVertrouwelijkheidaanduiding = fields.max;
    // The form names no scope: said here, as no rule of the standard refuses an empty list.
    if (!scopes.length)
      return rerender(request, reply, clientId, { values: fields, errors: { 'ac-scopes': m.errAcScopes } });
    const before = await applicatieOf(tools, request, clientId);
    try {
      await save(request, clientId, {
        autorisaties: [...(before?.autorisaties ?? []), autorisatie],
        ...(before?.heeftAlleAutorisaties ? {} : { heeftAlleAutorisaties: false }),
      });
    } catch (err) {
      if (!(err instanceof AdminApiProblem) || (err.status !== 400 && err.status !== 403)) throw err;
      return rerender(request, reply, clientId, { values: fields, errors: acFieldErrors(m, err, component) });
    }
    return done(request, reply, clientId);
  });

  app.post<{ Params: IdParams }>('/clients/:clientId/autorisaties/remove', async (request, reply) => {
    const m = tools.ctx(request).m;
    const { clientId } = request.params;
    const index = Number.parseInt(formOf(request).index ?? '', 10);
    const before = await applicatieOf(tools, request, clientId);
    if (!before || !(index >= 0 && index < before.autorisaties.length))
      return rerender(request, reply, clientId, { values: {}, errors: { '': m.formIncomplete } });
    try {
      await save(request, clientId, { autorisaties: before.autorisaties.filter((_, i) => i !== index) });
    } catch (err) {
      if (!(err instanceof AdminApiProblem) || err.status !== 400) throw err;
      return rerender(request, reply, clientId, { values: {}, errors: { '': m.errAcAllOrList } });
    }
    return done(request, reply, clientId);
  });

  app.post<{ Params: IdParams }>('/clients/:clientId/autorisaties/all', async (request, reply) => {
    const m = tools.ctx(request).m;
    const { clientId } = request.params;
    const all = formOf(request).heeftAlleAutorisaties === 'true';
    // All rights replace the list; taking them away needs rights in the list first (the standard's rule).
    try {
      await save(
        request,
        clientId,
        all ? { heeftAlleAutorisaties: true, autorisaties: [] } : { heeftAlleAutorisaties: false },
      );
    } catch (err) {
      if (!(err instanceof AdminApiProblem) || (err.status !== 400 && err.status !== 403)) throw err;
      return rerender(request, reply, clientId, {
        values: {},
        errors: { '': err.status === 403 ? m.errAcForbidden : m.errAcAllOrList },
      });
    }
    return done(request, reply, clientId);
  });
}
