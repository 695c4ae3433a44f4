export interface Column {
  readonly header: string;
  /** Numbers read best right-aligned. Default 'left'. */
  readonly align?: 'left' | 'right';
}

export interface Table {
  readonly title: string;
  readonly columns: readonly Column[];
  readonly rows: ReadonlyArray<readonly string[]>;
  /** Printed under the table: what the columns mean. */
  readonly legend?: readonly string[];
}

const width = (text: string): number => [...text].length;

function pad(text: string, size: number, align: 'left' | 'right' = 'left'): string {
  const fill = ' '.repeat(Math.max(0, size - width(text)));
  return align === 'right' ? fill + text : text + fill;
}

/** Markdown-compatible, so a pasted report renders as a table. */
export function formatTable(table: Table): string {
  const sizes = table.columns.map((c, i) => Math.max(width(c.header), ...table.rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: readonly string[]): string =>
    `| ${table.columns.map((c, i) => pad(cells[i] ?? '', sizes[i]!, c.align)).join(' | ')} |`;
  const rule = `|${table.columns.map((c, i) => (c.align === 'right' ? `${'-'.repeat(sizes[i]! + 1)}:` : '-'.repeat(sizes[i]! + 2))).join('|')}|`;
  const out = [`### ${table.title}`, '', line(table.columns.map((c) => c.header)), rule, ...table.rows.map(line)];
  if (table.legend?.length) out.push('', ...table.legend.map((l) => `  ${l}`));
  return out.join('\n');
}

const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export const fmt = {
  ops: (value: number | undefined): string => (value === undefined ? '–' : grouped.format(value)),
  us: (value: number | undefined): string => (value === undefined ? '–' : value < 10 ? value.toFixed(2) : value.toFixed(1)),
  ratio: (value: number | undefined): string => (value === undefined ? '–' : `${value.toFixed(2)}×`),
  spread: (value: number | undefined): string => (value === undefined ? '–' : `±${value < 10 ? value.toFixed(1) : value.toFixed(0)}%`),
};
