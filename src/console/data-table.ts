import { html, type SafeHtml } from './html.js';

export type Cell = SafeHtml | string | number;

/**
 * A keyboard-reachable NL Design System table: one for every list in the console. On a narrow
 * screen (the stylesheet's console-stack rules) each row becomes a block of "header: value" lines,
 * so that no column hides behind sideways scrolling (WCAG 1.4.10); the header of each cell comes
 * from its data-label. The first cell heads its row.
 */
export function dataTable(label: string, headers: string[], rows: Cell[][], caption?: string): SafeHtml {
  return html`<div class="console-table-wrap" tabindex="0" role="region" aria-label="${label}">
    <table class="utrecht-table console-stack">
      ${
        caption
          ? html`<caption class="utrecht-table__caption">
              ${caption}
            </caption>`
          : ''
      }
      <thead class="utrecht-table__header">
        <tr class="utrecht-table__row">
          ${headers.map((h) => html`<th class="utrecht-table__header-cell" scope="col">${h}</th>`)}
        </tr>
      </thead>
      <tbody class="utrecht-table__body">
        ${rows.map(
          (cells) =>
            html`<tr class="utrecht-table__row">
              ${cells.map((c, i) => (i === 0 ? html`<th class="utrecht-table__cell" scope="row" data-label="${headers[i] ?? ''}">${c}</th>` : html`<td class="utrecht-table__cell" data-label="${headers[i] ?? ''}">${c}</td>`))}
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}
