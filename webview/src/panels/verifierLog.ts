/**
 * The verifier log explorer: one program's verifier log (virtualized, a million lines stay
 * smooth) beside its C source, with the register/stack state at the selected instruction and
 * a search that runs in slices so the UI never stalls. It owns the panel's DOM, built once on
 * the first `load` and refilled on every later one; logs arrive gzipped and are decoded once
 * per program. Lines are read with core's lines.ts (never re-classified here) and rendered with
 * DOM APIs and textContent only. Where a log line is in the source is never worked out here:
 * each program arrives with core's line → source table (parse.ts LineSources, the rule the
 * diagnostics use), and the panel only draws it. Clicking an instruction posts `reveal` so the
 * extension opens the source at that line.
 * Timings are User Timing entries: `verifierLog:first-render` (from the `load` message), and
 * `verifierLog:decode` (gunzip and split into lines).
 */

import {
  lineIndexFromBytes,
  type LogLineKind,
  type SourceLocation,
  type VerifierLogPanelRequest,
  type VerifierLogPanelUpdate,
  type VerifierLogProgram,
} from '@dfs/protocol';
import { classifyLine, parseInsnLine, parseSourceLine } from '@dfs/core/verifier/lines';
import { sourceOfLine, type LineSources } from '@dfs/core/verifier/parse';
import { FULL_STATE, stateAt, stateEntries } from '@dfs/core/verifier/states';
import { LineSearch } from '../components/lineSearch';
import { badge, registerComponents } from '../components/toolkit';
import { VirtualList } from '../components/virtualList';
import { channel } from '../vscodeApi';
import { el, marked } from '../components/dom';
import './verifierLog.css';

registerComponents();
const app = document.getElementById('app') as HTMLElement;
app.append(el('p', 'Waiting for the verifier log…', 'placeholder'));

const isInsn = (line: string): boolean => /^\d+: \(/.test(line) && classifyLine(line) === 'insn';

/** A program's log, decoded: its lines and where each one is in the source. */
interface DecodedLog {
  lines: string[];
  sources: LineSources;
}

/** gunzip in the browser. */
function gunzip(gz: Uint8Array): Response {
  // The message's bytes own their ArrayBuffer (structured clone), never a shared one.
  const bytes = gz as Uint8Array<ArrayBuffer>;
  return new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip')));
}

class Explorer {
  private readonly post = channel<VerifierLogPanelUpdate, VerifierLogPanelRequest>((m) => {
    try {
      this.load(m);
    } catch (err) {
      this.fail(err);
    }
  });
  private readonly rowHeight = rowHeight();
  private readonly header = el('header', undefined, 'toolbar');
  private readonly program = el('select');
  private readonly title = el('span', undefined, 'title');
  private readonly summary = el('span', undefined, 'summary');
  private readonly verdict = el('span', undefined, 'verdict');
  private readonly errorLine = el('p', undefined, 'error-message');
  private readonly searchBox = el('input');
  private readonly searchCount = el('span', '', 'search-count');
  private readonly sourceTitle = el('span', '', 'pane-detail');
  private readonly stateTitle = el('span', '', 'pane-detail');
  private readonly state = el('div', undefined, 'state');
  private readonly log: VirtualList;
  private readonly source: VirtualList;
  private programs: VerifierLogProgram[] = [];
  /** Each program's log, decoded once (a promise, so concurrent asks share the work). */
  private readonly split = new Map<number, Promise<DecodedLog>>();
  private showing = 0;
  private current = 0;
  private lines: string[] = [];
  private sources: LineSources = { locations: [], at: new Int32Array(0) };
  private failing: number | null = null;
  private sourceName = '';
  private sourceLines: string[] = [];
  private failingSource: number | null = null;
  private readonly search = new LineSearch(() => this.updateCount());
  /** Index into search.matches of the match the selection is on, or -1. */
  private matchAt = -1;
  private debounce: ReturnType<typeof setTimeout> | undefined;

  constructor() {
    this.log = new VirtualList({
      rowHeight: this.rowHeight,
      ariaLabel: 'Verifier log',
      renderRow: (row, i) => this.renderLogRow(row, i),
      onSelect: (i) => this.showContext(i),
      onActivate: (i) => this.reveal(this.locationAt(i)),
    });
    this.log.element.id = 'log-list';
    this.source = new VirtualList({
      rowHeight: this.rowHeight,
      ariaLabel: 'C source',
      renderRow: (row, i) => this.renderSourceRow(row, i),
      onActivate: (i) => this.reveal({ file: this.sourceName, line: i + 1 }),
    });
    this.source.element.id = 'source-list';
    this.state.id = 'state';
    this.program.id = 'program';
    this.program.addEventListener('change', () => {
      const index = Number(this.program.value);
      this.showProgram(index).catch((err: unknown) => this.fail(err));
      this.post({ type: 'selectProgram', index });
    });
    this.searchBox.id = 'search';
    this.searchBox.type = 'search';
    this.searchBox.placeholder = 'Search (Enter: next, Shift+Enter: previous)';
    this.searchBox.addEventListener('input', () => {
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => {
        if (this.searchBox.value !== this.search.query) this.startSearch(this.searchBox.value);
      }, 200);
    });
    this.searchBox.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter') return;
      e.preventDefault();
      clearTimeout(this.debounce);
      if (this.searchBox.value !== this.search.query) this.startSearch(this.searchBox.value);
      this.search.seek(this.log.selection, e.shiftKey ? -1 : 1, (k) => this.goToMatch(k));
    });
    this.searchCount.id = 'search-count';
    this.post({ type: 'ready' });
  }

  private layout(): void {
    const search = el('div', undefined, 'search');
    search.append(this.searchBox, this.searchCount);
    const left = el('div', undefined, 'program');
    this.verdict.id = 'verdict';
    left.append(this.program, this.title, this.verdict, this.summary);
    this.header.append(left, search);
    this.errorLine.id = 'error-message';
    const pane = (cls: string, name: string, detail: HTMLElement, body: HTMLElement): HTMLElement => {
      const s = el('section', undefined, `pane ${cls}`);
      const h = el('h2', name);
      h.append(detail);
      s.append(h, body);
      return s;
    };
    const panes = el('div', undefined, 'panes');
    panes.append(
      pane('log-pane', 'Instructions', el('span', '', 'pane-detail'), this.log.element),
      pane('source-pane', 'Source', this.sourceTitle, this.source.element),
      pane('state-pane', 'State', this.stateTitle, this.state),
    );
    app.replaceChildren(this.header, this.errorLine, panes);
  }

  private load(m: VerifierLogPanelUpdate): void {
    if ((m as Partial<VerifierLogPanelUpdate> | null)?.type !== 'load') return;
    performance.mark('verifierLog:load-received');
    if (!this.header.isConnected) this.layout();
    this.programs = m.programs;
    this.split.clear();
    this.program.replaceChildren(
      ...m.programs.map((p, i) => {
        const o = el('option', `${p.verdict.name}: ${p.verdict.verdict}`);
        o.value = String(i);
        return o;
      }),
    );
    this.program.hidden = m.programs.length < 2;
    this.sourceName = m.source?.name ?? '';
    this.sourceLines = m.source ? m.source.text.replace(/\r?\n$/, '').split(/\r?\n/) : [];
    this.source.element.style.setProperty('--gutter', `${String(this.sourceLines.length).length + 1}ch`);
    this.source.reset(this.sourceLines.length);
    this.showProgram(Math.max(0, Math.min(m.programs.length - 1, m.selected)))
      .then(() =>
        requestAnimationFrame(() =>
          setTimeout(() => performance.measure('verifierLog:first-render', 'verifierLog:load-received')),
        ),
      )
      .catch((err: unknown) => this.fail(err));
  }

  /** Said in the panel, where the user looks: the webview has no other log. */
  private fail(err: unknown): void {
    app.replaceChildren(el('p', `Cannot show this log: ${String(err)}`, 'error-message'));
  }

  private decode(index: number, p: VerifierLogProgram): Promise<DecodedLog> {
    let decoded = this.split.get(index);
    if (!decoded) {
      decoded = (async () => {
        performance.mark('verifierLog:decode-start');
        const [text, table] = await Promise.all([gunzip(p.logGz).text(), gunzip(p.lineLocationsGz).arrayBuffer()]);
        // Split as core did ('\n'), so line i here is line i of core's table.
        const lines = text.split('\n');
        if (lines.at(-1) === '') lines.pop();
        if (text.includes('\r')) for (let i = 0; i < lines.length; i++) lines[i] = (lines[i] ?? '').replace(/\r$/, '');
        performance.measure('verifierLog:decode', 'verifierLog:decode-start');
        return { lines, sources: { locations: p.locations, at: lineIndexFromBytes(new Uint8Array(table)) } };
      })();
      this.split.set(index, decoded);
    }
    return decoded;
  }

  private async showProgram(index: number): Promise<void> {
    const p = this.programs[index];
    const shown = ++this.showing;
    if (!p) {
      this.log.reset(0);
      this.title.textContent = 'No programs in this log';
      return;
    }
    this.program.value = String(index);
    const { lines, sources } = await this.decode(index, p);
    if (shown !== this.showing) return; // another program was asked for meanwhile
    this.current = index;
    this.lines = lines;
    this.sources = sources;
    const v = p.verdict;
    this.failing = v.error ? Math.min(v.error.logLine, lines.length - 1) : null;
    const loc = this.failing === null ? null : sourceOfLine(sources, this.failing);
    this.failingSource = loc && loc.file === this.sourceName ? loc.line - 1 : null;
    this.title.textContent = v.section ? `${v.name} (${v.section})` : v.name;
    this.verdict.replaceChildren(badge(v.verdict));
    this.verdict.dataset.verdict = v.verdict;
    const facts = [`${lines.length.toLocaleString('en-US')} lines`];
    if (v.insnsProcessed !== null) facts.push(`${v.insnsProcessed.toLocaleString('en-US')} insns processed`);
    if (v.states !== null) facts.push(`${v.states.toLocaleString('en-US')} states`);
    this.summary.textContent = facts.join(' · ');
    this.errorLine.textContent = v.error
      ? `${v.error.insn !== null ? `insn ${v.error.insn}: ` : ''}${v.error.message}${loc ? ` (${loc.file}:${loc.line})` : ''}`
      : '';
    this.errorLine.hidden = !v.error;
    this.source.refresh();
    this.log.element.style.setProperty('--gutter', `${String(lines.length).length + 1}ch`);
    this.log.reset(lines.length);
    this.startSearch(this.search.query);
    if (this.failing !== null) this.log.select(this.failing, { center: true });
    else this.showContext(-1);
  }

  private renderLogRow(row: HTMLElement, i: number): void {
    const text = this.lines[i] ?? '';
    let kind: LogLineKind = classifyLine(text);
    if (kind === 'other' && this.failing !== null && i > this.failing) kind = 'error';
    row.classList.add(`k-${kind}`);
    if (i === this.failing) row.classList.add('failing');
    if (this.matchAt >= 0 && this.search.matches[this.matchAt] === i) row.classList.add('current-match');
    row.title = text;
    // Spaces between the columns keep the row's text (copy, screen readers) readable.
    row.append(el('span', String(i + 1), 'ln'), ' ');
    const q = this.search.query;
    const insn = kind === 'insn' ? parseInsnLine(text) : null;
    if (insn) {
      row.append(el('span', `${insn.insn}:`, 'ix'), ' ');
      marked(row, insn.text, 'dis', q);
      const state = insn.resume ? `${insn.resume.insn}: ${insn.resume.state}` : insn.state;
      if (state) {
        row.append('  ');
        marked(row, state, 'st', q);
      }
      return;
    }
    const src = kind === 'source' ? parseSourceLine(text) : null;
    if (src?.file) {
      marked(row, `; ${src.text}`, 'tx', q);
      row.append(' ', el('span', `@ ${src.file}:${src.line}`, 'at'));
      return;
    }
    marked(row, text, 'tx', q);
  }

  private renderSourceRow(row: HTMLElement, i: number): void {
    if (i === this.failingSource) row.classList.add('failing');
    row.append(el('span', String(i + 1), 'ln'), ' ', el('span', this.sourceLines[i] ?? '', 'tx'));
  }

  /** Where log line `i` is in the source, as core decided (never re-derived here). */
  private locationAt(i: number): SourceLocation | null {
    return sourceOfLine(this.sources, i);
  }

  /** The instruction line that line `i` is about: itself, the next one after a source
   *  annotation, else the nearest one above (error lines belong to the failing insn). */
  private insnLineFor(i: number): number | null {
    const kind = classifyLine(this.lines[i] ?? '');
    if (kind === 'source') {
      for (let j = i + 1; j < Math.min(this.lines.length, i + 64); j++) if (isInsn(this.lines[j] ?? '')) return j;
    }
    for (let j = i; j >= 0; j--) if (isInsn(this.lines[j] ?? '')) return j;
    return null;
  }

  private showContext(i: number): void {
    const full = i < 0 ? null : FULL_STATE.exec(this.lines[i] ?? '');
    const at = i < 0 || full ? null : this.insnLineFor(i);
    const insn = at === null ? null : parseInsnLine(this.lines[at] ?? '');
    const [state, from] = i < 0 ? ['', ''] : stateAt(this.lines, at ?? i);
    this.stateTitle.textContent = insn ? `insn ${insn.insn}: ${insn.text}` : full ? `insn ${full[1]}` : '';
    const rows: HTMLElement[] = [el('div', from, 'state-from')];
    const error = this.programs[this.current]?.verdict.error;
    if (error && at !== null && at === this.failing) rows.push(el('div', error.message, 'state-error'));
    const table = el('table');
    for (const { name, value } of stateEntries(state)) {
      const tr = el('tr');
      if (name) tr.append(el('th', name), el('td', value));
      else tr.append(el('td', value));
      table.append(tr);
    }
    rows.push(table);
    this.state.replaceChildren(...rows);
    if (i < 0) {
      this.state.replaceChildren(el('div', 'Select an instruction to see its state.', 'state-from'));
      this.sourceTitle.textContent = this.sourceName;
      this.source.select(-1);
    } else this.showSource(this.locationAt(i));
    this.updateCount();
  }

  private showSource(loc: SourceLocation | null): void {
    if (!loc) {
      this.sourceTitle.textContent = this.sourceName
        ? `${this.sourceName}: no source line for this log line`
        : 'no source';
      this.source.select(-1);
      return;
    }
    if (loc.file !== this.sourceName || loc.line > this.sourceLines.length) {
      this.sourceTitle.textContent = `${loc.file}:${loc.line} (not shown)`;
      this.source.select(-1);
      return;
    }
    this.sourceTitle.textContent = `${loc.file}:${loc.line}`;
    const row = loc.line - 1;
    if (!this.source.isVisible(row)) this.source.scrollToIndex(row, true);
    this.source.select(row, { scroll: false });
  }

  private reveal(loc: Pick<SourceLocation, 'file' | 'line'> | null): void {
    if (loc) this.post({ type: 'reveal', file: loc.file, line: loc.line });
  }

  private startSearch(query: string): void {
    this.matchAt = -1;
    this.search.start(this.lines, query);
    this.log.refresh();
    this.updateCount();
  }

  private goToMatch(k: number): void {
    const line = this.search.matches[k];
    if (line === undefined) return;
    this.matchAt = k;
    const visible = this.log.isVisible(line);
    this.log.select(line, { center: !visible, scroll: !visible });
    this.log.refresh();
  }

  /** "k of n" when the selection is on a match, else the count; "+" while still searching. */
  private updateCount(): void {
    const { query, matches, running } = this.search;
    const more = running ? '+' : '';
    const at = this.matchAt >= 0 && matches[this.matchAt] === this.log.selection ? this.matchAt : -1;
    if (at < 0 && this.matchAt >= 0) {
      this.matchAt = -1;
      this.log.refresh();
    }
    this.searchCount.textContent = !query
      ? ''
      : at >= 0
        ? `${at + 1} of ${matches.length}${more}`
        : matches.length === 0 && !running
          ? 'No results'
          : `${matches.length}${more} results`;
  }
}

/** One row per editor line: 1.5 × the editor font size, at least 16 px. */
function rowHeight(): number {
  const px = parseFloat(getComputedStyle(document.documentElement).getPropertyValue('--vscode-editor-font-size'));
  return Math.max(16, Math.round((Number.isFinite(px) && px > 0 ? px : 13) * 1.5));
}

new Explorer();
