import type { FastifyInstance } from 'fastify';
import { AdminApiProblem } from '../admin-api.js';
import { type ConsoleTools, formOf } from '../console-tools.js';
import { submitButton, textArea } from '../form-fields.js';
import { formatDuration, formatTime } from '../format.js';
import { html, type SafeHtml } from '../html.js';
import { BASE, csrfField, type PageContext } from '../layout.js';
import { fill, type Messages } from '../messages.js';

interface Inspection {
  header: Record<string, unknown> | null;
  payload: Record<string, unknown> | null;
  times: { claim: 'iat' | 'nbf' | 'exp'; at: number; secondsFromNow: number }[];
  verdict: { valid: boolean; code?: string; message?: string; kind?: string; clientId?: string; expiresAt?: number };
}

/** The token inspector: a pasted token's header, claims and zgw-auth's verdict in plain words. */
export function registerInspectorPages(app: FastifyInstance, tools: ConsoleTools): void {
  const form = (ctx: PageContext, token: string, error?: string) =>
    html`<p class="utrecht-paragraph">${ctx.m.inspectIntro}</p>
      <form method="post" action="${BASE}/inspect">
        ${csrfField(ctx)} ${textArea('token', ctx.m.tokenLabel, token, { maxlength: 8192, error })}
        <div class="console-actions">${submitButton(ctx.m.inspectButton)}</div>
      </form>`;

  app.get('/inspect', async (request, reply) => {
    const ctx = tools.ctx(request);
    return tools.send(reply, request, ctx.m.inspectTitle, form(ctx, ''));
  });

  app.post('/inspect', async (request, reply) => {
    const ctx = tools.ctx(request);
    const m = ctx.m;
    const token = (formOf(request).token ?? '').trim();
    let result: Inspection;
    try {
      result = await tools.api(request).call('POST', '/tokens/inspect', { token });
    } catch (err) {
      if (!(err instanceof AdminApiProblem) || err.status !== 400) throw err;
      // The API refuses only an empty or an over-long token here: said in the page's language, next to the field.
      const refusal = token ? m.reason_token_too_large : m.reason_missing_token;
      return tools.send(
        reply,
        request,
        m.inspectTitle,
        form(ctx, '', refusal.charAt(0).toUpperCase() + refusal.slice(1)),
        400,
      );
    }
    return tools.send(reply, request, m.inspectTitle, html`${inspection(ctx, result)}${form(ctx, '')}`);
  });
}

/** The verdict first, in words, then the times, the header and the claims. */
function inspection(ctx: PageContext, r: Inspection): SafeHtml {
  const m = ctx.m;
  const v = r.verdict;
  const words = v.valid
    ? fill(m.verdictValid, {
        kind: v.kind === 'self-signed' ? m.kindSelfSigned : m.kindOauth2,
        id: v.clientId ?? '',
        until: formatTime(ctx.lang, (v.expiresAt ?? 0) * 1000),
      })
    : r.header === null
      ? fill(m.verdictUndecodable, { reason: v.message ?? '' })
      : fill(m.verdictInvalid, { reason: reason(ctx, r) });
  return html`<h2 class="utrecht-heading-2">${m.verdict}</h2>
    <div class="${v.valid ? 'console-verdict-ok' : 'console-verdict-bad'}" role="status">
      <p class="utrecht-paragraph" id="verdict">${words}</p>
      ${!v.valid && v.message && r.header !== null ? html`<p class="utrecht-paragraph console-muted">${v.code}: ${v.message}</p>` : ''}
    </div>
    ${
      r.times.length
        ? html`<h2 class="utrecht-heading-2">${m.tokenTimes}</h2>
            <ul>
              ${r.times.map(
                (t) =>
                  html`<li>
                    ${m[`claim_${t.claim}`]}: ${formatTime(ctx.lang, t.at * 1000)} (${fill(t.secondsFromNow >= 0 ? m.timeIn : m.timeAgo, { d: formatDuration(ctx.lang, t.secondsFromNow) })})
                  </li>`,
              )}
            </ul>`
        : ''
    }
    ${
      r.header
        ? html`<h2 class="utrecht-heading-2">${m.tokenHeader}</h2>
            <pre class="console-pre">${JSON.stringify(r.header, null, 2)}</pre>`
        : ''
    }
    ${
      r.payload
        ? html`<h2 class="utrecht-heading-2">${m.tokenClaims}</h2>
            <pre class="console-pre">${JSON.stringify(r.payload, null, 2)}</pre>`
        : ''
    }`;
}

/** The refusal in plain words, with the times that explain it ("expired 4 minutes ago"). */
function reason(ctx: PageContext, r: Inspection): string {
  const m = ctx.m;
  const code = r.verdict.code ?? '';
  const key = `reason_${code}` as keyof Messages;
  const time = (claim: string) => r.times.find((t) => t.claim === claim)?.secondsFromNow ?? 0;
  const template = key in m ? m[key] : (r.verdict.message ?? code);
  return fill(template, {
    ago: fill(m.timeAgo, { d: formatDuration(ctx.lang, time('exp')) }),
    in: fill(m.timeIn, { d: formatDuration(ctx.lang, time('nbf')) }),
    detail: r.verdict.message ?? '',
  });
}
