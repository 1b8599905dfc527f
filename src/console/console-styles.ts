/**
 * The console's own styles, on top of the NL Design System components: page layout, navigation,
 * the activity chart, and a focus ring that is always visible (WCAG 2.4.7). Served in the one
 * stylesheet (console-stylesheet.ts); pages carry no inline styles, which the CSP would refuse.
 */
export const CONSOLE_STYLES = `
html { background: var(--utrecht-document-background-color, #fff); }
body.console { margin: 0; min-height: 100vh; display: flex; flex-direction: column; }
.console-header { background: #24578f; color: #fff; padding: 0.75rem 1.5rem; display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1.5rem; }
.console-header a, .console-header .console-header__who { color: #fff; }
.console-brand { font-weight: 700; font-size: 1.25rem; color: #fff; text-decoration: none; margin-inline-end: auto; }
.console-nav { background: #e8eef5; padding: 0 1.5rem; border-block-end: 1px solid #b7c7da; }
.console-nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: 0 1.5rem; margin: 0; padding: 0; }
.console-nav a { display: inline-block; padding: 0.75rem 0; color: #1a3f6b; }
.console-nav a[aria-current="page"] { font-weight: 700; text-decoration-thickness: 3px; }
.console-main { flex: 1; padding: 1.5rem; max-width: 78rem; width: 100%; box-sizing: border-box; }
.console-footer { padding: 1rem 1.5rem; background: #f3f3f3; font-size: 0.875rem; }
.console-inline-form { display: inline; margin: 0; }
.console-header .utrecht-button { --utrecht-button-min-block-size: 2rem; }
.console-filters { display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; align-items: flex-end; margin-block-end: 1rem; }
.console-filters .utrecht-form-field { margin: 0; }
.console-actions { display: flex; flex-wrap: wrap; gap: 0.75rem; align-items: center; margin-block: 1rem; }
.console-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(22rem, 100%), 1fr)); gap: 1.5rem; }
.console-secret { font-family: monospace; font-size: 1.125rem; word-break: break-all; background: #fff; border: 2px solid #24578f; padding: 0.75rem; display: block; margin-block: 0.5rem; }
.console-muted { color: #555; }
.console-danger { border: 2px solid #b40020; padding: 1rem; margin-block: 1.5rem; }
.console-warning { border-inline-start: 4px solid #a35f00; padding-inline-start: 0.75rem; }
.console-table-wrap { overflow-x: auto; }
.console-pre { white-space: pre-wrap; word-break: break-all; font-family: monospace; background: #f5f5f5; padding: 0.75rem; margin: 0; }
.console-chart { width: 100%; max-width: 60rem; height: auto; border: 1px solid #ccc; background: #fff; }
.console-chart .issued { fill: #24578f; }
.console-chart .failed { fill: #b40020; }
.console-chart .axis { stroke: #555; stroke-width: 1; }
.console-chart text { font-size: 11px; fill: #333; }
.console-legend { display: flex; gap: 1.5rem; list-style: none; padding: 0; }
.console-legend span { display: inline-block; width: 0.9rem; height: 0.9rem; margin-inline-end: 0.4rem; vertical-align: middle; }
.console-legend .issued { background: #24578f; }
.console-legend .failed { background: #b40020; }
.console-verdict-ok { border-inline-start: 6px solid #2a7a2a; padding-inline-start: 0.75rem; }
.console-verdict-bad { border-inline-start: 6px solid #b40020; padding-inline-start: 0.75rem; }
.console-main .utrecht-form-field { margin-block: 0 1.25rem; }
.console-filters .utrecht-form-field { margin-block: 0; }
.console-main .utrecht-heading-2 { margin-block: 2rem 0.75rem; }
.console-main .utrecht-heading-3 { margin-block: 1.5rem 0.5rem; }
.console-main .utrecht-data-list__item { display: grid; grid-template-columns: 12rem 1fr; gap: 1rem; margin-block: 0.25rem; }
.console-main .utrecht-data-list__item-value { margin: 0; }
.console-figure { margin: 1rem 0; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.console-rsin { color: #555; white-space: nowrap; }
.utrecht-alert__message .utrecht-paragraph + .utrecht-paragraph { margin-block-start: 0.75rem; }
.console-error-list { margin: 0.25rem 0 0; padding-inline-start: 1.25rem; }
.console-changes { margin: 0.25rem 0; padding-inline-start: 1.25rem; }
.console-changes del { text-decoration: line-through; color: #5c1010; }
.console-changes ins { text-decoration: none; font-weight: 700; }
.console-change-field { font-weight: 700; }
.console-event { margin: 0; }
.console-raw summary { cursor: pointer; color: #1a3f6b; text-decoration: underline; }
.console-raw .console-pre { max-block-size: 20rem; overflow: auto; font-size: 0.8125rem; }
.console-chart .day-short { display: none; }
/* Reflow (WCAG 1.4.10): long ids, scopes and key ids wrap instead of widening the page. */
.console-main, .console-header { overflow-wrap: break-word; }
.utrecht-data-list__item-value, .utrecht-code, .utrecht-heading-1, .utrecht-alert__message { overflow-wrap: anywhere; min-inline-size: 0; }
/* Field labels name RFC metadata (tls_client_certificate_bound_access_tokens); a fieldset would otherwise be as wide as its longest word. */
.console-main .utrecht-form-label, .console-main .utrecht-form-field-description, .console-main .utrecht-form-field__label { overflow-wrap: anywhere; min-inline-size: 0; }
.console-main .utrecht-form-fieldset { min-inline-size: 0; margin-inline: 0; margin-block: 0 1.25rem; padding: 0; border: 0; }
.console-main .utrecht-form-fieldset__legend { font-weight: 700; padding: 0; margin-block-end: 0.5rem; }
.console-main input, .console-main select, .console-main textarea { max-inline-size: 100%; box-sizing: border-box; }
@media (max-width: 40rem) {
  .console-header, .console-nav, .console-footer { padding-inline: 1rem; }
  .console-main { padding: 1rem; }
  .console-main .utrecht-data-list__item { grid-template-columns: 1fr; gap: 0; }
  .console-filters > * { flex: 1 1 100%; }
  /* Tables as blocks of "header: value" lines: no column behind sideways scrolling. */
  .console-stack, .console-stack tbody, .console-stack tr, .console-stack th[scope=row], .console-stack td { display: block; }
  .console-stack thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
  .console-stack tr { border-block-end: 1px solid #b7c7da; padding-block: 0.5rem; }
  .console-stack th[scope=row], .console-stack td { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 3fr); gap: 0 0.75rem; block-size: auto; padding: 0.2rem 0; border: 0; text-align: start; overflow-wrap: anywhere; }
  /* The header on the left over all lines; a cell's text and elements (a name and its RSIN) stack on the right. */
  .console-stack th[scope=row]::before, .console-stack td::before { content: attr(data-label); font-weight: 700; grid-column: 1; grid-row: 1 / span 8; }
  .console-stack caption { display: block; text-align: start; }
  /* The chart is scaled to the screen: its day labels become short and large enough to read. */
  .console-chart .day-long { display: none; }
  .console-chart .day-short { display: inline; font-size: 38px; }
  .console-chart .chart-max { font-size: 38px; }
  .console-legend { flex-wrap: wrap; gap: 0.5rem 1.5rem; }
}
:focus-visible { outline: 3px solid #000; outline-offset: 2px; box-shadow: 0 0 0 5px #ffbf47; }
.console-header :focus-visible { outline-color: #fff; }
`;
