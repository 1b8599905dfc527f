import { html, type SafeHtml } from '../html.js';
import { BASE, type PageContext } from '../layout.js';

/** The sign-in form: the admin client's id and secret, named as at the token endpoint. */
export function signInForm(ctx: PageContext, clientId: string): SafeHtml {
  const m = ctx.m;
  return html`<p class="utrecht-paragraph">${m.signInIntro}</p>
    <form class="utrecht-form" method="post" action="${BASE}/sign-in">
      <div class="utrecht-form-field utrecht-form-field--text">
        <div class="utrecht-form-field__label"><label class="utrecht-form-label" for="client_id">${m.clientIdLabel}</label></div>
        <div class="utrecht-form-field__input">
          <input class="utrecht-textbox utrecht-textbox--html-input" id="client_id" name="client_id" type="text" autocomplete="username" required maxlength="1024" value="${clientId}" />
        </div>
      </div>
      <div class="utrecht-form-field utrecht-form-field--text">
        <div class="utrecht-form-field__label"><label class="utrecht-form-label" for="client_secret">${m.clientSecretLabel}</label></div>
        <div class="utrecht-form-field__input">
          <input class="utrecht-textbox utrecht-textbox--html-input" id="client_secret" name="client_secret" type="password" autocomplete="current-password" required maxlength="1024" />
        </div>
      </div>
      <p class="utrecht-paragraph"><button class="utrecht-button utrecht-button--primary-action" type="submit">${m.signInButton}</button></p>
    </form>`;
}
