import fs from 'node:fs';

export interface Series {
  unit: string;
  /** One value per round. */
  values: number[];
}

export interface Target {
  id: string;
  /** What the issue asks, in words. */
  label: string;
  measured: number;
  required: number;
  /** `ratio`: measured ≥ required, as ×; `max`: measured ≤ required, in `unit`. */
  kind: 'ratio' | 'max';
  unit?: string;
  /** Why this row is shown but not checked (a reduced --quick scale, a stress reading). */
  unchecked?: string;
  pass: boolean;
}

export const median = (values: number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Median of the per-round ratios: rounds were interleaved, so round i of both ran side by side. */
export function pairedRatio(a: Series, b: Series): number {
  return median(a.values.map((v, i) => v / b.values[i]!));
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) =>
    '| ' + r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ') + ' |';
  return [
    line(rows[0]!),
    '|' + widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|',
    ...rows.slice(1).map(line),
  ].join('\n');
}

export const fmt = (n: number): string =>
  n >= 100 ? Math.round(n).toLocaleString('en-US') : n >= 10 ? n.toFixed(1) : n.toFixed(2);

export function seriesTable(series: Record<string, Series>): string {
  return table([
    ['measurement', 'median', 'unit', 'rounds'],
    ...Object.entries(series).map(([name, s]) => [name, fmt(median(s.values)), s.unit, s.values.map(fmt).join(' / ')]),
  ]);
}

export function targetsTable(targets: Target[]): string {
  return table([
    ['target', 'measured', 'required', 'result'],
    ...targets.map((t) => [
      t.label,
      t.kind === 'ratio' ? `${t.measured.toFixed(2)}×` : `${fmt(t.measured)} ${t.unit}`,
      t.kind === 'ratio' ? `≥ ${t.required}×` : `≤ ${t.required} ${t.unit}`,
      t.unchecked ? `not checked (${t.unchecked})` : t.pass ? 'met' : 'MISSED',
    ]),
  ]);
}

/** Bars of measured/required (≥ targets) or required/measured (≤ targets): 1.0 is the target. */
export function chartSvg(targets: Target[], title: string): string {
  const rowH = 26;
  const left = 430;
  const width = 900;
  // Logarithmic from ¼ to 4 times the target, so that a 20× margin does not flatten the misses.
  const [lo, hi] = [Math.log(0.25), Math.log(4)];
  const x = (v: number) => left + ((Math.min(Math.max(Math.log(v), lo), hi) - lo) / (hi - lo)) * (width - left - 190);
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const rows = targets.map((t, i) => {
    const y = 50 + i * rowH;
    const m = margin(t);
    const colour = t.unchecked ? '#9e9e9e' : t.pass ? '#2e7d32' : '#c62828';
    const value =
      t.kind === 'ratio'
        ? `${t.measured.toFixed(2)}× (≥ ${t.required}×)`
        : `${fmt(t.measured)} ${t.unit} (≤ ${t.required})`;
    return `<text x="${left - 8}" y="${y + 15}" text-anchor="end">${esc(t.label)}</text><rect x="${left}" y="${y + 3}" width="${Math.max(1, x(m) - left)}" height="${rowH - 8}" fill="${colour}"/><text x="${x(m) + 6}" y="${y + 15}">${esc(value)}</text>`;
  });
  const height = 70 + targets.length * rowH;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="10" y="38" fill="#555">bar = how far from the target, log scale ¼× … 4× (dashed line = exactly on target; right of it = met; grey = shown, not checked)</text>`,
    ...rows,
    `<line x1="${x(1)}" y1="44" x2="${x(1)}" y2="${height - 10}" stroke="#000" stroke-dasharray="4 3"/>`,
    '</svg>',
  ].join('\n');
}

function margin(t: Target): number {
  return t.kind === 'ratio' ? t.measured / t.required : t.required / Math.max(t.measured, 1e-9);
}

export function writeFileAtomic(file: string, content: string): void {
  fs.writeFileSync(`${file}.tmp`, content);
  fs.renameSync(`${file}.tmp`, file);
}
