import { attr, html, type SafeHtml } from './html.js';

export interface FieldOptions {
  hint?: string;
  required?: boolean;
  type?: 'text' | 'date' | 'number' | 'search' | 'password';
  maxlength?: number;
  /** The refusal that names this field, shown with it. */
  error?: string | undefined;
  /** Another id than the name (two forms on one page with the same field). */
  id?: string;
  autocomplete?: string;
  inputmode?: 'numeric';
}

function described(id: string, o: FieldOptions): SafeHtml {
  const ids = [o.hint ? `${id}-hint` : '', o.error ? `${id}-error` : ''].filter(Boolean).join(' ');
  return ids ? html` aria-describedby="${ids}"` : html``;
}

function extras(id: string, o: FieldOptions): SafeHtml {
  return html`${o.hint ? html`<div class="utrecht-form-field-description" id="${id}-hint">${o.hint}</div>` : ''}${
    o.error ? html`<div class="utrecht-form-field-error-message" id="${id}-error">${o.error}</div>` : ''
  }`;
}

/** A labelled text box in the NL Design System's form-field markup. */
export function textField(name: string, label: string, value: string, o: FieldOptions = {}): SafeHtml {
  const id = o.id ?? name;
  return html`<div class="utrecht-form-field utrecht-form-field--text${o.error ? ' utrecht-form-field--invalid' : ''}">
    <div class="utrecht-form-field__label"><label class="utrecht-form-label" for="${id}">${label}</label></div>
    ${extras(id, o)}
    <div class="utrecht-form-field__input">
      <input
        class="utrecht-textbox utrecht-textbox--html-input${o.error ? ' utrecht-textbox--invalid' : ''}"
        id="${id}"
        name="${name}"
        type="${o.type ?? 'text'}"
        value="${value}"
        ${o.maxlength ? html` maxlength="${o.maxlength}"` : ''}${o.autocomplete ? html` autocomplete="${o.autocomplete}"` : ''}${o.inputmode ? html` inputmode="${o.inputmode}"` : ''}
        ${attr('required', o.required === true)}${o.error ? html` aria-invalid="true"` : ''}${described(id, o)}
      />
    </div>
  </div>`;
}

export function textArea(name: string, label: string, value: string, o: FieldOptions = {}): SafeHtml {
  const id = o.id ?? name;
  return html`<div class="utrecht-form-field utrecht-form-field--text${o.error ? ' utrecht-form-field--invalid' : ''}">
    <div class="utrecht-form-field__label"><label class="utrecht-form-label" for="${id}">${label}</label></div>
    ${extras(id, o)}
    <div class="utrecht-form-field__input">
      <textarea
        class="utrecht-textarea utrecht-textarea--html-textarea"
        id="${id}"
        name="${name}"
        rows="3"
        ${o.maxlength ? html` maxlength="${o.maxlength}"` : ''}${o.error ? html` aria-invalid="true"` : ''}${described(id, o)}
      >
${value}</textarea>
    </div>
  </div>`;
}

export function checkbox(name: string, label: string, checked: boolean, o: FieldOptions = {}): SafeHtml {
  const id = o.id ?? name;
  return html`<div class="utrecht-form-field utrecht-form-field--checkbox">
    <div class="utrecht-form-field__input">
      <input class="utrecht-checkbox utrecht-checkbox--html-input" type="checkbox" id="${id}" name="${name}" value="true" ${attr('checked', checked)}${described(id, o)} />
    </div>
    <div class="utrecht-form-field__label utrecht-form-field__label--checkbox"><label class="utrecht-form-label utrecht-form-label--checkbox" for="${id}">${label}</label></div>
    ${extras(id, o)}
  </div>`;
}

/**
 * Checkboxes of one setting (a client's authentication methods) in a fieldset whose legend names
 * it; the hint and the refusal belong to the group, so they hang on the fieldset.
 */
export function checkboxGroup(
  id: string,
  legend: string,
  boxes: [name: string, label: string, checked: boolean][],
  o: Pick<FieldOptions, 'hint' | 'error'> = {},
): SafeHtml {
  return html`<fieldset class="utrecht-form-fieldset utrecht-form-fieldset--html-fieldset${o.error ? ' utrecht-form-fieldset--invalid' : ''}" id="${id}"${described(id, o)}>
    <legend class="utrecht-form-fieldset__legend utrecht-form-fieldset__legend--html-legend">${legend}</legend>
    ${extras(id, o)}
    ${boxes.map(([name, label, checked]) => checkbox(name, label, checked))}
  </fieldset>`;
}

export function selectField(
  name: string,
  label: string,
  value: string,
  choices: [value: string, label: string][],
  o: FieldOptions = {},
): SafeHtml {
  const id = o.id ?? name;
  return html`<div class="utrecht-form-field utrecht-form-field--select">
    <div class="utrecht-form-field__label"><label class="utrecht-form-label" for="${id}">${label}</label></div>
    ${extras(id, o)}
    <div class="utrecht-form-field__input">
      <select class="utrecht-select utrecht-select--html-select" id="${id}" name="${name}" ${described(id, o)}>
        ${choices.map(([v, l]) => html`<option value="${v}" ${attr('selected', v === value)}>${l}</option>`)}
      </select>
    </div>
  </div>`;
}

export function submitButton(
  label: string,
  kind: 'primary' | 'secondary' | 'danger' = 'primary',
  extra: SafeHtml = html``,
): SafeHtml {
  const cls =
    kind === 'primary'
      ? 'utrecht-button--primary-action'
      : kind === 'secondary'
        ? 'utrecht-button--secondary-action'
        : 'utrecht-button--primary-action utrecht-button--danger';
  return html`<button class="utrecht-button ${cls}" type="submit" ${extra}>${label}</button>`;
}
