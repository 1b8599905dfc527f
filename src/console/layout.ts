import { isGlobalAdministrator } from '../organisations/administration-policy.js';
import type { ConsoleSession } from '../sessions/console-sessions.js';
import { html, type SafeHtml } from './html.js';
import { fill, type Lang, type Messages } from './messages.js';

/** What every page is rendered with. */
export interface PageContext {
  lang: Lang;
  m: Messages;
  session: ConsoleSession | undefined;
  /** An organisation administrator's organisation name, when the registry has it. */
  organisationName?: string | undefined;
  /** Versioned URLs of the stylesheet and the script. */
  assets: { css: string; js: string };
  /** The page's path, for the language switch and the current menu item. */
  path: string;
  /** The server's clock (epoch ms), for states such as "expired". */
  now: number;
}

export const BASE = '/console';

/** Whether the session administers everything (zgw-auth:admin) rather than one organisation. */
export const isGlobalAdmin = (session: ConsoleSession | undefined) =>
  session !== undefined &&
  isGlobalAdministrator({ clientId: session.clientId, rsin: session.rsin, scopes: [session.scope] });

/** The hidden CSRF field every form of a signed-in page carries. */
export function csrfField(ctx: PageContext): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${ctx.session?.csrf ?? ''}" />`;
}

export function alert(kind: 'ok' | 'error' | 'info', text: string | SafeHtml): SafeHtml {
  const type = kind === 'ok' ? 'ok' : kind === 'error' ? 'error' : 'info';
  return html`<div class="utrecht-alert utrecht-alert--${type}" role="${kind === 'error' ? 'alert' : 'status'}">
    <div class="utrecht-alert__message"><p class="utrecht-paragraph">${text}</p></div>
  </div>`;
}

function navigation(ctx: PageContext): SafeHtml {
  const m = ctx.m;
  const items: [string, string][] = [
    [`${BASE}/clients`, m.navClients],
    ...(isGlobalAdmin(ctx.session) ? ([[`${BASE}/organisations`, m.navOrganisations]] as [string, string][]) : []),
    [`${BASE}/activity`, m.navActivity],
    [`${BASE}/audit`, m.navAudit],
    [`${BASE}/inspect`, m.navInspector],
    ...(isGlobalAdmin(ctx.session) ? ([[`${BASE}/keys`, m.navKeys]] as [string, string][]) : []),
  ];
  return html`<nav class="console-nav" aria-label="${m.navMain}">
    <ul>
      ${items.map(([href, label]) => html`<li><a class="utrecht-link" href="${href}" ${ctx.path === href || ctx.path.startsWith(href + '/') ? html` aria-current="page"` : ''}>${label}</a></li>`)}
    </ul>
  </nav>`;
}

/** A whole page: header with the language switch and sign-out, the menu, the notice, the content. */
export function page(ctx: PageContext, title: string, content: SafeHtml): string {
  const m = ctx.m;
  const s = ctx.session;
  const flash = s?.flash;
  if (s) delete s.flash;
  const other = m.otherLanguageCode;
  return (
    '<!doctype html>' +
    html`<html lang="${ctx.lang}" class="utrecht-theme utrecht-document">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · ${m.appName}</title>
        <link rel="stylesheet" href="${ctx.assets.css}" />
        <script type="module" src="${ctx.assets.js}"></script>
      </head>
      <body class="console utrecht-page-body">
        <a class="utrecht-skip-link utrecht-skip-link--visible-on-focus" href="#main">${m.skipToContent}</a>
        <header class="console-header">
          <a class="console-brand" href="${BASE}/">${m.appName}</a>
          ${s ? html`<span class="console-header__who">${fill(m.signedInAs, { id: s.clientId })}${isGlobalAdmin(s) ? '' : html` (${ctx.organisationName ? fill(m.signedInOrgNamed, { name: ctx.organisationName, rsin: s.rsin }) : fill(m.signedInOrg, { rsin: s.rsin })})`}</span>` : ''}
          <a href="${ctx.path}?lang=${other}" lang="${other}" hreflang="${other}">${m.otherLanguage}</a>
          ${s ? html`<form class="console-inline-form" method="post" action="${BASE}/sign-out">${csrfField(ctx)}<button class="utrecht-button utrecht-button--secondary-action" type="submit">${m.signOut}</button></form>` : ''}
        </header>
        ${s ? navigation(ctx) : ''}
        <main id="main" class="console-main" tabindex="-1">
          ${flash ? alert(flash.kind, flash.text) : ''}
          <h1 class="utrecht-heading-1">${title}</h1>
          ${content}
        </main>
        <footer class="console-footer"><p class="utrecht-paragraph">${m.footer}</p></footer>
      </body>
    </html>`.value
  );
}
