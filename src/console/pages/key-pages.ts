import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { KeyInfo } from '../../keys/key-ring.js';
import type { KeyRotation } from '../../keys/rotate-key.js';
import { AdminApiProblem } from '../admin-api.js';
import { type ConsoleTools, formOf } from '../console-tools.js';
import { checkbox, submitButton, textField } from '../form-fields.js';
import { formatDuration, formatTime } from '../format.js';
import { dataTable } from '../data-table.js';
import { html } from '../html.js';
import { BASE, csrfField } from '../layout.js';
import { apiFieldErrors, errorSummary, type FieldErrors } from '../form-errors.js';
import { fill, type Messages } from '../messages.js';

const STATE: Record<KeyInfo['state'], keyof Messages> = {
  pending: 'keyPending',
  active: 'keyActive',
  published: 'keyPublished',
  superseded: 'keySuperseded',
  retired: 'keyRetired',
};

/** Signing keys: the key plan (state, signing window, retirement), and a rotation with what its publish delay means. */
export function registerKeyPages(app: FastifyInstance, tools: ConsoleTools): void {
  app.get('/keys', async (request, reply) => keysPage(tools, request, reply));

  app.post('/keys/rotate', async (request, reply) => {
    const ctx = tools.ctx(request);
    const m = ctx.m;
    const f = formOf(request);
    const body: Record<string, unknown> = {};
    if (f.now === 'true') body.now = true;
    else if (f.publishDelay) {
      if (!/^\d{1,6}$/.test(f.publishDelay.trim()))
        return keysPage(tools, request, reply, { publishDelay: m.errPublishDelay });
      body.publishDelay = Number(f.publishDelay);
    }
    let rotation: KeyRotation;
    try {
      rotation = await tools.api(request).call('POST', '/keys/rotate', body);
    } catch (err) {
      if (!(err instanceof AdminApiProblem) || err.status !== 400) throw err;
      return keysPage(tools, request, reply, apiFieldErrors(m, err, ['publishDelay', 'now']));
    }
    return tools.redirect(reply, request, `${BASE}/keys`, {
      kind: 'ok',
      text: fill(m.rotated, {
        kid: rotation.kid,
        at: formatTime(ctx.lang, rotation.activatesAt),
        until: formatTime(ctx.lang, rotation.previousRetireAt),
      }),
    });
  });
}

/** The keys, and the rotation form with its refusals when it was refused. */
async function keysPage(tools: ConsoleTools, request: FastifyRequest, reply: FastifyReply, errors: FieldErrors = {}) {
  const ctx = tools.ctx(request);
  const m = ctx.m;
  const { items } = await tools.api(request).get<{ items: KeyInfo[] }>('/keys');
  const now = ctx.now;
  const rows = items.map((k) => [
    html`<code class="utrecht-code">${k.kid}</code>`,
    k.alg,
    m[STATE[k.state]],
    formatDuration(ctx.lang, (now - k.createdAt) / 1000),
    formatTime(ctx.lang, k.supersededAt === null ? k.activatesAt : null),
    formatTime(ctx.lang, k.signsUntil),
    formatTime(ctx.lang, k.retiresAt),
  ]);
  return tools.send(
    reply,
    request,
    m.keysTitle,
    html`<p class="utrecht-paragraph">${m.keysIntro}</p>
      ${dataTable(m.keysTitle, [m.colKid, m.colAlg, m.colState, m.colAge, m.colActivates, m.colSignsUntil, m.colRetires], rows)}
      <h2 class="utrecht-heading-2">${m.rotateTitle}</h2>
      ${errorSummary(m, errors)}
      <p class="utrecht-paragraph">${m.publishDelayExplain}</p>
      <form method="post" action="${BASE}/keys/rotate">
        ${csrfField(ctx)}
        ${textField('publishDelay', m.publishDelayLabel, formOf(request).publishDelay ?? '', { hint: m.publishDelayDefault, inputmode: 'numeric', maxlength: 6, error: errors.publishDelay })}
        ${checkbox('now', m.rotateNow, false)}
        <div class="console-actions">${submitButton(m.rotateButton)}</div>
      </form>`,
    Object.keys(errors).length ? 400 : 200,
  );
}
