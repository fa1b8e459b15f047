/**
 * The profile viewer: a time-weighted flame graph of a JuiceFS node's profile (canvas, zoom,
 * search with the matched share, hover details), the sandwich of a selected function, the
 * differential flame graph against a base profile, and the latency histograms (per layer, FUSE
 * per opcode with its queue and daemon phases). It owns the panel's DOM and the trees it builds
 * from the host's FlameData with core's pure modules (flame.ts, sandwich.ts, diff.ts,
 * histogram.ts): the rules live there, this file only wires views to them. State arrives by
 * postMessage after `ready`: `load` (a profile, optionally a base to compare with), `live`
 * (histograms while a profile runs), `error`. Export, import, compare and open-source are
 * asked of the host.
 * Timings are User Timing entries: `profile:load` (from the `load` message to the frame after
 * the first draw), `profile:decode`, `profile:tree` (the first picture's tree),
 * `profile:draw`, `profile:tree-full` (the full tree, after that paint), `profile:warm-up` (at
 * start-up, before `ready`) and `profile:zoom` (from a click to the frame after its draw,
 * recorded by FlameView).
 */

import {
  STACK_KIND_CODES,
  type LatencyHistogram,
  type OffOnFigures,
  type ProfileExportFormat,
  type ProfilePanelProfile,
  type ProfilePanelRequest,
  type ProfilePanelUpdate,
} from '@dfs/protocol';
import {
  buildTree,
  dominantKind,
  flameFromWire,
  KIND_COUNT,
  matchedWeight,
  matchFrames,
  nodeName,
  pathTo,
  type ChildOrder,
  type FlameData,
  type FlameTree,
  warmUpTree,
} from '@dfs/core/profile/flame';
import { diffIntensity, diffOf, diffTree } from '@dfs/core/profile/diff';
import { sandwich } from '@dfs/core/profile/sandwich';
import { formatMs, formatNs, thousands } from '@dfs/core/profile/histogram';
import { el } from '../components/dom';
import { channel } from '../vscodeApi';
import { diffColour, kindColour, makePalette, nameHash, ROOT_COLOUR, type Palette } from '../profile/colours';
import { FlameView, fitLabel } from '../profile/flameView';
import { renderHistograms } from '../profile/histogramView';
import '../components/page.css';
import './profile.css';

type Tab = 'flame' | 'sandwich' | 'diff' | 'histograms';

interface Loaded {
  wire: ProfilePanelProfile;
  data: FlameData;
  withSource: Set<string>;
}

const KERNEL_SUFFIX = '_[k]';
const KIND_LABELS = ['on-CPU', 'off-CPU', 'slow requests'];

const pct = (part: number, whole: number): string => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '–');

/** Per-node palette colours by kind (kernel frames apart). */
function kindColours(t: FlameTree): Uint8Array {
  const hash = t.names.map(nameHash);
  const kernel = t.names.map((n) => n.endsWith(KERNEL_SUFFIX));
  const out = new Uint8Array(t.size);
  for (let i = 0; i < t.size; i++) {
    const f = t.frame[i]!;
    out[i] = f < 0 ? ROOT_COLOUR : kindColour(dominantKind(t, i), kernel[f]!, hash[f]!);
  }
  return out;
}

function diffColours(t: FlameTree): Uint8Array {
  const out = new Uint8Array(t.size);
  for (let i = 0; i < t.size; i++) {
    const d = diffOf(t, i);
    out[i] = diffColour(diffIntensity(d.a, d.b));
  }
  return out;
}

class ProfileViewer {
  private readonly post = channel<ProfilePanelUpdate, ProfilePanelRequest>((m) => this.receive(m));
  private palette: Palette = makePalette();
  private readonly tooltip = el('div', undefined, 'tooltip');
  private readonly tabs = new Map<Tab, HTMLButtonElement>();
  private readonly panes = new Map<Tab, HTMLElement>();
  private readonly orderSelect = el('select');
  private readonly kindSelect = el('select');
  private readonly searchBox = el('input');
  private readonly searchInfo = el('span', '', 'search-info');
  private readonly meta = el('div', '', 'meta');
  private readonly figures = el('div', '', 'figures');
  private readonly live = el('div', '', 'live');
  private readonly errorBar = el('div', '', 'error-bar');
  private readonly crumbs = el('nav', undefined, 'crumbs');
  private readonly sandwichTitle = el('div', '', 'pane-title');
  private readonly diffTitle = el('div', '', 'pane-title');
  private readonly histograms = el('div', undefined, 'histograms');
  private readonly announce = el('div', '', 'sr-only');
  private readonly flame: FlameView;
  private readonly callers: FlameView;
  private readonly callees: FlameView;
  private readonly diff: FlameView;
  private tab: Tab = 'flame';
  private order: ChildOrder = 'weight';
  private kinds = (1 << KIND_COUNT) - 1;
  private profile: Loaded | null = null;
  private base: Loaded | null = null;
  private tree: FlameTree | null = null;
  private diffT: FlameTree | null = null;
  private sandwichFrame: string | null = null;
  private sandwichTrees: { callers: FlameTree; callees: FlameTree; total: number; self: number } | null = null;
  private liveHistograms: LatencyHistogram[] | null = null;
  private debounce: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly app: HTMLElement) {
    this.tooltip.hidden = true;
    this.tooltip.setAttribute('role', 'tooltip');
    this.flame = new FlameView(
      {
        ariaLabel: 'Flame graph',
        tooltip: this.tooltip,
        describe: (i) => this.describe(this.tree, i),
        onZoom: () => this.updateCrumbs(),
        onSelect: (i) => this.say(this.describe(this.tree, i).join(', ')),
        onOpen: (i) => this.openSource(this.tree, i),
        onSandwich: (i) => this.showSandwich(this.tree, i),
        beforeInput: () => this.completeTree(),
      },
      this.palette,
    );
    const sandwichOptions = (
      inverted: boolean,
      which: () => FlameTree | null,
    ): ConstructorParameters<typeof FlameView>[0] => ({
      ariaLabel: inverted ? 'Callers' : 'Callees',
      inverted,
      hideRoot: true,
      tooltip: this.tooltip,
      describe: (i) => this.describe(which(), i),
      onOpen: (i) => this.openSource(which(), i),
      onSandwich: (i) => this.showSandwich(which(), i),
    });
    this.callers = new FlameView(
      sandwichOptions(true, () => this.sandwichTrees?.callers ?? null),
      this.palette,
    );
    this.callees = new FlameView(
      sandwichOptions(false, () => this.sandwichTrees?.callees ?? null),
      this.palette,
    );
    this.diff = new FlameView(
      {
        ariaLabel: 'Differential flame graph',
        tooltip: this.tooltip,
        describe: (i) => this.describeDiff(i),
        onZoom: () => this.updateCrumbs(),
        onOpen: (i) => this.openSource(this.diffT, i),
        onSandwich: (i) => this.showSandwich(this.diffT, i),
      },
      this.palette,
    );
    this.layout();
    // Before `ready`: the host is still preparing the profile (see warmUpTree).
    const warm = performance.now();
    warmUpTree();
    performance.measure('profile:warm-up', { start: warm });
    new MutationObserver(() => this.themeChanged()).observe(document.body, {
      attributes: true,
      attributeFilter: ['class'],
    });
    this.post({ type: 'ready' });
  }

  // ---------------------------------------------------------------------------------------
  // Layout

  private layout(): void {
    this.figures.hidden = true;
    const bar = el('header', undefined, 'toolbar');
    const tablist = el('div', undefined, 'tabs');
    tablist.setAttribute('role', 'tablist');
    const tabNames: [Tab, string][] = [
      ['flame', 'Flame graph'],
      ['sandwich', 'Sandwich'],
      ['diff', 'Diff'],
      ['histograms', 'Histograms'],
    ];
    for (const [tab, label] of tabNames) {
      const b = el('button', label, 'tab');
      b.id = `tab-${tab}`;
      b.setAttribute('role', 'tab');
      b.addEventListener('click', () => this.show(tab));
      this.tabs.set(tab, b);
      tablist.append(b);
    }
    // Arrow keys move between tabs (only the selected tab is in the Tab order).
    tablist.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
      const enabled = tabNames.map(([t]) => t).filter((t) => !this.tabs.get(t)!.disabled);
      const at = enabled.indexOf(this.tab);
      const next = enabled[(at + (e.key === 'ArrowRight' ? 1 : enabled.length - 1)) % enabled.length]!;
      e.preventDefault();
      this.show(next);
      this.tabs.get(next)!.focus();
    });
    for (const [value, label] of [
      ['weight', 'Left heavy'],
      ['name', 'By name'],
    ]) {
      const o = el('option', label);
      o.value = value!;
      this.orderSelect.append(o);
    }
    this.orderSelect.id = 'order';
    this.orderSelect.title = 'Order of callees: heaviest first, or alphabetical';
    this.orderSelect.addEventListener('change', () => {
      this.order = this.orderSelect.value === 'name' ? 'name' : 'weight';
      this.rebuild();
    });
    const kindOptions: [string, string][] = [
      [String((1 << KIND_COUNT) - 1), 'All stacks'],
      ...STACK_KIND_CODES.map((_, k): [string, string] => [String(1 << k), KIND_LABELS[k]!]),
    ];
    for (const [value, label] of kindOptions) {
      const o = el('option', label);
      o.value = value;
      this.kindSelect.append(o);
    }
    this.kindSelect.id = 'kinds';
    this.kindSelect.title = 'Which stacks: on-CPU, off-CPU (blocked), or slow FUSE requests';
    this.kindSelect.addEventListener('change', () => {
      this.kinds = Number(this.kindSelect.value);
      this.rebuild();
    });
    this.searchBox.id = 'search';
    this.searchBox.type = 'search';
    this.searchBox.placeholder = 'Search frames ( / )';
    this.searchBox.setAttribute('aria-label', 'Search frames');
    this.searchBox.addEventListener('input', () => {
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => this.search(), 120);
    });
    this.searchInfo.id = 'search-info';
    this.searchInfo.setAttribute('aria-live', 'polite');
    const reset = el('button', 'Reset zoom', 'plain');
    reset.id = 'reset';
    reset.addEventListener('click', () => {
      this.activeView()?.zoomTo(0);
      this.activeView()?.focus();
    });
    const exportSelect = el('select');
    exportSelect.id = 'export';
    exportSelect.setAttribute('aria-label', 'Export');
    for (const [value, label] of [
      ['', 'Export…'],
      ['json', 'Profile JSON'],
      ['folded', 'Folded stacks'],
      ['speedscope', 'speedscope'],
    ]) {
      const o = el('option', label);
      o.value = value!;
      exportSelect.append(o);
    }
    exportSelect.addEventListener('change', () => {
      const format = exportSelect.value as ProfileExportFormat | '';
      exportSelect.value = '';
      if (format) this.post({ type: 'export', format });
    });
    const importButton = el('button', 'Import…', 'plain');
    importButton.id = 'import';
    importButton.addEventListener('click', () => this.post({ type: 'import' }));
    const compareButton = el('button', 'Compare…', 'plain');
    compareButton.id = 'compare';
    compareButton.addEventListener('click', () => this.post({ type: 'compare' }));
    const controls = el('div', undefined, 'controls');
    controls.append(this.orderSelect, this.kindSelect, this.searchBox, reset);
    const actions = el('div', undefined, 'actions');
    actions.append(exportSelect, importButton, compareButton);
    bar.append(tablist, controls, actions);

    const flamePane = el('section', undefined, 'pane');
    flamePane.append(this.flame.element);
    const sandwichPane = el('section', undefined, 'pane sandwich');
    const callersBox = el('div', undefined, 'sandwich-half callers');
    callersBox.append(el('div', 'Callers ↑', 'half-title'), this.callers.element);
    const calleesBox = el('div', undefined, 'sandwich-half callees');
    calleesBox.append(el('div', 'Callees ↓', 'half-title'), this.callees.element);
    sandwichPane.append(this.sandwichTitle, callersBox, calleesBox);
    const diffPane = el('section', undefined, 'pane');
    diffPane.append(this.diffTitle, this.diff.element);
    const histPane = el('section', undefined, 'pane');
    histPane.append(this.histograms);
    for (const [tab, pane] of [
      ['flame', flamePane],
      ['sandwich', sandwichPane],
      ['diff', diffPane],
      ['histograms', histPane],
    ] as [Tab, HTMLElement][]) {
      pane.id = `pane-${tab}`;
      pane.setAttribute('role', 'tabpanel');
      pane.setAttribute('aria-labelledby', `tab-${tab}`);
      this.panes.set(tab, pane);
    }
    this.announce.setAttribute('aria-live', 'polite');
    this.errorBar.hidden = true;
    this.errorBar.setAttribute('role', 'alert');
    const views = el('div', undefined, 'views');
    views.append(flamePane, sandwichPane, diffPane, histPane);
    // The breadcrumb row also holds the search result, so the toolbar never reflows on a search.
    const crumbRow = el('div', undefined, 'crumb-row');
    crumbRow.append(this.crumbs, this.searchInfo);
    this.app.replaceChildren(
      bar,
      this.meta,
      this.figures,
      this.live,
      this.errorBar,
      crumbRow,
      views,
      this.tooltip,
      this.announce,
    );
    this.live.hidden = true;
    this.meta.append(el('span', 'Waiting for a profile…', 'placeholder'));
    document.addEventListener('keydown', (e) => {
      if (e.key === '/' && document.activeElement !== this.searchBox) {
        e.preventDefault();
        this.searchBox.focus();
      }
    });
    this.show('flame');
  }

  /** Shows `tab`, redrawing its views unless the caller just drew them. */
  private show(tab: Tab, redraw = true): void {
    this.tab = tab;
    for (const [t, b] of this.tabs) {
      b.setAttribute('aria-selected', String(t === tab));
      b.tabIndex = t === tab ? 0 : -1;
    }
    for (const [t, p] of this.panes) p.hidden = t !== tab;
    this.tabs.get('diff')!.disabled = !this.base;
    this.crumbs.hidden = tab === 'histograms';
    if (tab === 'flame' && redraw) this.flame.draw();
    if (tab === 'diff') this.ensureDiff();
    if (tab === 'sandwich') {
      this.callers.draw();
      this.callees.draw();
    }
    if (tab === 'histograms') this.drawHistograms();
    this.updateCrumbs();
    this.search();
  }

  private activeView(): FlameView | null {
    return this.tab === 'flame' ? this.flame : this.tab === 'diff' ? this.diff : null;
  }

  private activeTree(): FlameTree | null {
    return this.tab === 'flame' ? this.tree : this.tab === 'diff' ? this.diffT : null;
  }

  // ---------------------------------------------------------------------------------------
  // Messages

  private receive(m: ProfilePanelUpdate): void {
    const t0 = performance.now();
    try {
      if (m.type === 'load') {
        this.showFigures(m.figures ?? null);
        this.load(m.profile, m.base ?? null, t0);
      } else if (m.type === 'live') this.showLive(m);
      else if (m.type === 'error') this.fail(m.message);
    } catch (err) {
      this.fail(err instanceof Error ? err.message : String(err));
    }
  }

  private load(profile: ProfilePanelProfile, base: ProfilePanelProfile | null, t0: number): void {
    this.errorBar.hidden = true;
    const decode = (p: ProfilePanelProfile): Loaded => ({
      wire: p,
      data: flameFromWire(p.flame),
      withSource: new Set(p.withSource),
    });
    this.profile = decode(profile);
    this.base = base ? decode(base) : null;
    const t1 = performance.now();
    performance.measure('profile:decode', { start: t0, end: t1 });
    this.diffT = null;
    this.sandwichFrame = null;
    this.sandwichTrees = null;
    this.liveHistograms = null;
    this.live.hidden = true;
    // First picture: the tree without the children of frames narrower than half a pixel of
    // the whole width (never drawn); the full tree follows right after the paint, or at once
    // when the user acts first (completeTree).
    const width = Math.max(200, this.flame.element.clientWidth || window.innerWidth);
    this.tree = buildTree(this.profile.data, { order: this.order, kinds: this.kinds, minShare: 0.5 / width });
    const t2 = performance.now();
    performance.measure('profile:tree', { start: t1, end: t2 });
    this.flame.setTree(this.tree, kindColours(this.tree));
    performance.measure('profile:draw', { start: t2 });
    this.showMeta();
    this.sandwichTitle.textContent =
      'Select a frame in the flame graph, then press S (or choose Sandwich) to see its callers and callees.';
    this.show(this.tab === 'diff' && !this.base ? 'flame' : this.tab, false);
    requestAnimationFrame(() => {
      performance.measure('profile:load', { start: t0 });
      // After this frame is painted.
      setTimeout(() => this.completeTree(), 0);
    });
  }

  /** Replaces a first-picture tree by the full one (before any interaction needs it). */
  private completeTree(): void {
    if (!this.profile || !this.tree || this.tree.complete) return;
    const t0 = performance.now();
    this.tree = buildTree(this.profile.data, { order: this.order, kinds: this.kinds });
    this.flame.setTree(this.tree, kindColours(this.tree));
    performance.measure('profile:tree-full', { start: t0 });
    if (this.searchBox.value.trim()) this.search();
    this.updateCrumbs();
  }

  private rebuild(): void {
    if (!this.profile) return;
    this.tree = buildTree(this.profile.data, { order: this.order, kinds: this.kinds });
    this.flame.setTree(this.tree, kindColours(this.tree));
    this.diffT = null;
    if (this.sandwichFrame) this.buildSandwich(this.sandwichFrame);
    this.show(this.tab);
  }

  /** "Profile bypass off vs on": the workload's own figures above the views. */
  private showFigures(f: OffOnFigures | null): void {
    this.figures.hidden = f === null;
    if (!f) return;
    const v = (x: number): string => x.toLocaleString('en-US', { maximumFractionDigits: 1 });
    const better = f.ratio >= 1;
    this.figures.replaceChildren(
      el('strong', f.workload),
      el('span', ` (${f.description}): `),
      el('span', `bypass off ${v(f.off.value)} ${f.unit} in ${f.off.seconds.toFixed(2)} s`, 'side-off'),
      el('span', ' → '),
      el('span', `on ${v(f.on.value)} ${f.unit} in ${f.on.seconds.toFixed(2)} s`, 'side-on'),
      el('span', ` = ${f.ratio.toFixed(2)}x ${better ? 'faster' : 'slower'}`, better ? 'ratio-better' : 'ratio-worse'),
      el('span', `, ${f.redirected_msgs.toLocaleString('en-US')} messages redirected`),
    );
  }

  private showMeta(): void {
    const p = this.profile;
    if (!p) return;
    const m = p.wire.meta;
    const total = this.tree ? this.tree.total[0]! : 0;
    const stacks = p.data.offsets.length - 1;
    this.meta.replaceChildren();
    const parts = [
      m.label || m.node,
      m.mountpoint,
      m.juicefs ? `JuiceFS ${m.juicefs}` : '',
      `${m.duration_s} s${m.started_at ? ` from ${m.started_at}` : ''}`,
      `${thousands(stacks)} stacks, ${formatMs(total)}`,
    ].filter(Boolean);
    this.meta.append(el('span', parts.join(' · ')));
    const d = m.drops;
    if (d.events + d.stacks + d.inflight > 0) {
      this.meta.append(
        el('span', ` · dropped: ${d.events} events, ${d.stacks} stacks, ${d.inflight} in-flight`, 'drops'),
      );
    }
    if (m.cost.length > 0) {
      const runs = m.cost.reduce((s, c) => s + c.run_cnt, 0);
      const ns = m.cost.reduce((s, c) => s + c.run_time_ns, 0);
      this.meta.append(
        el(
          'span',
          ` · BPF cost: ${formatNs(ns)} in ${thousands(runs)} runs (${runs ? formatNs(ns / runs) : '–'} each)${m.cost_sampled_s !== undefined ? `, counted over ${m.cost_sampled_s.toFixed(1)} of ${m.duration_s.toFixed(1)} s` : ''}`,
          'cost',
        ),
      );
    }
    if (this.base)
      this.meta.append(el('span', ` · base: ${this.base.wire.meta.label || this.base.wire.meta.node}`, 'base'));
  }

  private showLive(m: Extract<ProfilePanelUpdate, { type: 'live' }>): void {
    this.liveHistograms = m.histograms;
    this.live.hidden = false;
    const d = m.drops;
    const drops =
      d.events + d.stacks + d.inflight > 0
        ? `, dropped ${d.events} events / ${d.stacks} stacks / ${d.inflight} in-flight`
        : '';
    this.live.textContent = m.ended
      ? `Profile ended: ${m.ended}`
      : `Profiling: ${m.elapsed_s.toFixed(0)} s, ${thousands(m.stacks)} stacks so far${drops}`;
    if (!this.profile && this.tab !== 'histograms') this.show('histograms');
    else if (this.tab === 'histograms') this.drawHistograms();
  }

  private fail(message: string): void {
    this.errorBar.textContent = message;
    this.errorBar.hidden = false;
  }

  private themeChanged(): void {
    this.palette = makePalette();
    for (const v of [this.flame, this.callers, this.callees, this.diff]) v.setPalette(this.palette);
    this.show(this.tab);
  }

  // ---------------------------------------------------------------------------------------
  // Views

  private describe(t: FlameTree | null, i: number): string[] {
    if (!t || i < 0) return [];
    const root = this.tree ? this.tree.total[0]! : t.total[0]!;
    const name = nodeName(t, i);
    const lines = [
      name,
      `${formatMs(t.total[i]!)} · ${pct(t.total[i]!, root)} of total`,
      `self ${formatMs(t.self[i]!)} · ${thousands(t.count[i]!)} samples/events`,
    ];
    const split = STACK_KIND_CODES.map((_, k) => t.kindTotal[i * KIND_COUNT + k]!)
      .map((w, k) => (w > 0 ? `${KIND_LABELS[k]} ${pct(w, t.total[i]!)}` : ''))
      .filter(Boolean);
    if (split.length > 1) lines.push(split.join(' · '));
    if (this.profile?.withSource.has(name)) lines.push('Ctrl+click or O: open source');
    return lines;
  }

  private describeDiff(i: number): string[] {
    const t = this.diffT;
    if (!t || i < 0) return [];
    const d = diffOf(t, i);
    const change =
      d.change === Number.POSITIVE_INFINITY ? 'new in B' : `${d.change >= 0 ? '+' : ''}${(d.change * 100).toFixed(1)}%`;
    return [
      nodeName(t, i),
      `A ${formatMs(d.a)} → B ${formatMs(d.b)}`,
      `Δ ${d.delta >= 0 ? '+' : '−'}${formatMs(Math.abs(d.delta))} (${change})`,
    ];
  }

  private openSource(t: FlameTree | null, i: number): void {
    if (!t || i <= 0) return;
    const name = nodeName(t, i);
    if (this.profile?.withSource.has(name)) this.post({ type: 'openSource', frame: name });
    else this.say(`No source location for ${name}`);
  }

  private showSandwich(t: FlameTree | null, i: number): void {
    if (!t || i <= 0) return;
    this.buildSandwich(nodeName(t, i));
    this.show('sandwich');
    this.callees.focus();
  }

  private buildSandwich(frame: string): void {
    if (!this.profile) return;
    this.sandwichFrame = frame;
    const s = sandwich(this.profile.data, frame, this.order, this.kinds);
    this.sandwichTrees = s;
    if (!s) {
      this.sandwichTitle.textContent = `${frame}: not in the selected stacks`;
      return;
    }
    const root = this.tree ? this.tree.total[0]! : s.total;
    this.sandwichTitle.textContent = `${frame} — ${formatMs(s.total)} (${pct(s.total, root)} of total), self ${formatMs(s.self)}`;
    this.callers.setTree(s.callers, kindColours(s.callers));
    this.callees.setTree(s.callees, kindColours(s.callees));
  }

  private ensureDiff(): void {
    if (!this.profile || !this.base) return;
    if (!this.diffT) {
      const a = this.base.wire.meta.duration_s;
      const b = this.profile.wire.meta.duration_s;
      const scaleA = a > 0 && b > 0 ? b / a : 1;
      this.diffT = diffTree(this.base.data, this.profile.data, { scaleA, order: this.order, kinds: this.kinds });
      this.diff.setTree(this.diffT, diffColours(this.diffT));
      const scaled = scaleA !== 1 ? `; A scaled ×${scaleA.toFixed(2)} to B's duration` : '';
      this.diffTitle.replaceChildren(
        el('span', 'Red: grew (slower) in B · ', 'legend-red'),
        el('span', 'blue: shrank (faster) · ', 'legend-blue'),
        el('span', `width: A + B. A = ${this.base.wire.meta.label}, B = ${this.profile.wire.meta.label}${scaled}`),
      );
    } else this.diff.draw();
  }

  private drawHistograms(): void {
    const hs = this.liveHistograms ?? this.profile?.wire.histograms ?? [];
    renderHistograms(this.histograms, hs, this.liveHistograms ? null : (this.base?.wire.histograms ?? null));
  }

  private search(): void {
    const q = this.searchBox.value.trim();
    // The matched share needs every frame (not the first picture's tree).
    if (q) this.completeTree();
    const view = this.activeView();
    const t = this.activeTree();
    if (!view || !t) {
      this.searchInfo.textContent = '';
      return;
    }
    if (!q) {
      view.setMarks(null);
      this.searchInfo.textContent = '';
      return;
    }
    const marks = matchFrames(t.names, q);
    const m = matchedWeight(t, marks);
    view.setMarks(marks);
    this.searchInfo.textContent = m.nodes
      ? `${pct(m.weight, t.total[0]!)} of total (${formatMs(m.weight)}, ${thousands(m.nodes)} frames)`
      : 'no match';
  }

  private updateCrumbs(): void {
    const view = this.activeView();
    const t = this.activeTree();
    this.crumbs.replaceChildren();
    if (!view || !t) return;
    const path = pathTo(t, view.zoomed);
    path.forEach((i, k) => {
      if (k > 0) this.crumbs.append(el('span', '›', 'crumb-sep'));
      const b = el('button', fitLabel(nodeName(t, i), 40), 'crumb');
      b.title = nodeName(t, i);
      if (k === path.length - 1) b.setAttribute('aria-current', 'true');
      b.addEventListener('click', () => view.zoomTo(i));
      this.crumbs.append(b);
    });
  }

  private say(text: string): void {
    this.announce.textContent = text;
  }
}

new ProfileViewer(document.getElementById('app') as HTMLElement);
