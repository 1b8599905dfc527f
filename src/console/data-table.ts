import { html, type SafeHtml } from './html.js';

/** A scrollable, keyboard-reachable NL Design System table: one for every list in the console. */
export function dataTable(label: string, headers: string[], rows: SafeHtml | SafeHtml[]): SafeHtml {
  return html`<div class="console-table-wrap" tabindex="0" role="region" aria-label="${label}">
    <table class="utrecht-table">
      <thead class="utrecht-table__header">
        <tr class="utrecht-table__row">
          ${headers.map((h) => html`<th class="utrecht-table__header-cell" scope="col">${h}</th>`)}
        </tr>
      </thead>
      <tbody class="utrecht-table__body">
        ${rows}
      </tbody>
    </table>
  </div>`;
}
