/**
 * The map table's header and column widths: a line of groups ("key" over the key columns,
 * "value" over the rest) above one cell per column, each a sort button when the table sorts
 * (a numeric column's label sits on the right, like its numbers). Every cell of a column,
 * header or row, takes its width from one CSS variable on the table's scroller (`columnVar`),
 * so widening a column is a single write.
 */

import type { MapColumn } from '@dfs/protocol';
import { el } from '../components/dom';

export const STATUS_VAR = '--w-status';
export const HIST_VAR = '--w-hist';
export const SOCKET_VAR = '--w-socket';
export const columnVar = (i: number): string => `--w${i}`;
/** The histogram column: 32 slots of 4 px, a 3 px bar and a gap each. */
export const HIST_W = 128;

export interface HeadLayout {
  columns: MapColumn[];
  /** The last key column, drawn with a rule after it (-1: none). */
  lastKey: number;
  histogram: boolean;
  /** A socket map: the socket behind each value's cookie, both endpoints, as a last column. */
  socket: boolean;
  statusColumn: boolean;
}

/** The classes of column `i`'s cells (header and rows). */
export function cellClass(l: HeadLayout, i: number): string {
  const c = l.columns[i]!;
  return `${c.side}${c.numeric ? ' num' : ''}${i === l.lastKey ? ' key-last' : ''}`;
}

/** Fills `head` for the layout; `onSort` makes the column headers sort buttons. */
export function buildHead(head: HTMLElement, l: HeadLayout, onSort: ((column: number) => void) | undefined): void {
  const groups = el('div', undefined, 'mhead-groups');
  groups.setAttribute('role', 'presentation');
  const cols = el('div', undefined, 'mhead-cols');
  cols.setAttribute('role', 'row');
  const group = (text: string, vars: string[], cls: string): void => {
    if (vars.length === 0) return;
    // The label is in a span: the cell keeps the table's font, in which its width (in ch) is given.
    const g = el('div', undefined, `gcell ${cls}`);
    g.append(el('span', text, 'glabel'));
    g.style.width = `calc(${vars.map((v) => `var(${v})`).join(' + ')})`;
    groups.append(g);
  };
  if (l.statusColumn) {
    group('', [STATUS_VAR], 'status');
    cols.append(headCell('change', 'status', -1, STATUS_VAR, undefined));
  }
  const vars = l.columns.map((_, i) => columnVar(i));
  group(
    'key',
    vars.filter((_, i) => l.columns[i]!.side === 'key'),
    'key',
  );
  group(
    'value',
    [
      ...vars.filter((_, i) => l.columns[i]!.side === 'value'),
      ...(l.histogram ? [HIST_VAR] : []),
      ...(l.socket ? [SOCKET_VAR] : []),
    ],
    'value',
  );
  l.columns.forEach((c, i) => cols.append(headCell(c.path, cellClass(l, i), i, columnVar(i), onSort)));
  if (l.histogram) cols.append(headCell('histogram (log2)', 'value hist', -1, HIST_VAR, undefined));
  if (l.socket) cols.append(headCell('socket (from the cookie)', 'value socket', -1, SOCKET_VAR, undefined));
  head.replaceChildren(groups, cols);
}

function headCell(
  label: string,
  cls: string,
  column: number,
  widthVar: string,
  onSort: ((column: number) => void) | undefined,
): HTMLElement {
  const cell = el('div', undefined, `hcell ${cls}`);
  cell.style.width = `var(${widthVar})`;
  cell.setAttribute('role', 'columnheader');
  cell.title = label;
  if (column < 0 || !onSort) {
    cell.append(el('span', label, 'hlabel'));
    return cell;
  }
  cell.dataset.column = String(column);
  const b = el('button', undefined, 'sort');
  b.append(el('span', label, 'hlabel'), el('span', '', 'arrow'));
  b.title = `Sort by ${label}`;
  b.addEventListener('click', () => onSort(column));
  cell.append(b);
  return cell;
}

/** Marks the sorted column (aria-sort and an arrow); the host sorts. */
export function showSort(head: HTMLElement, sort: { column: number; desc: boolean } | null): void {
  head.querySelectorAll<HTMLElement>('[data-column]').forEach((h) => {
    const on = sort !== null && Number(h.dataset.column) === sort.column;
    h.setAttribute('aria-sort', on ? (sort.desc ? 'descending' : 'ascending') : 'none');
    const arrow = h.querySelector('.arrow');
    if (arrow) arrow.textContent = on ? (sort.desc ? '▼' : '▲') : '';
  });
}
