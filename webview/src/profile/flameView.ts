/**
 * One canvas flame graph (icicle: root on top; or inverted, root at the bottom, for callers)
 * over a FlameTree from core/src/profile/flame.ts. It owns its two canvases (the frames, and an
 * overlay for hover and selection outlines so hovering never repaints the frames), its zoom,
 * selection and search marks, and the mouse and keyboard handling; the panel owns the data.
 *
 * Drawing is one preorder scan of the tree that skips whole subtrees that are narrower than
 * half a pixel or outside the zoomed range (the tree's [i, end[i]) layout makes a skip O(1)),
 * so its cost follows what is visible, not the profile's size; rectangles are grouped by
 * palette colour and each group is filled as one path. The canvas is sized in device pixels
 * (devicePixelRatio). Keyboard: arrows move the selection (parent, heaviest child, siblings),
 * Enter zooms to it, Escape zooms out to the root, Backspace one level; `s` asks for the
 * selected function's sandwich and `o` for its source (through the callbacks).
 */

import { childrenOf, nodeName, type FlameTree } from '@dfs/core/profile/flame';
import { DIM_COLOUR, type Palette } from './colours';

export const ROW = 18;
/** Canvas height limit (px); deeper rows are not drawn (browsers cap canvases near 32k). */
const MAX_CANVAS_PX = 30_000;

export interface FlameViewOptions {
  ariaLabel: string;
  /** Root at the bottom, callers above (the sandwich's callers). */
  inverted?: boolean;
  /** Do not draw the synthetic root (sandwich trees start at the function). */
  hideRoot?: boolean;
  /** Tooltip lines of node i. */
  describe(i: number): string[];
  onSelect?(i: number): void;
  onZoom?(i: number): void;
  onOpen?(i: number): void;
  onSandwich?(i: number): void;
  /** Called before a click or key acts on the tree (the panel may swap in a fuller tree). */
  beforeInput?(): void;
  tooltip: HTMLElement;
}

export class FlameView {
  readonly element: HTMLDivElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly overlay: HTMLCanvasElement;
  private tree: FlameTree | null = null;
  private colours: Uint8Array = new Uint8Array(0);
  private marks: Uint8Array | null = null;
  private palette: Palette;
  private zoom = 0;
  private selected = -1;
  private hovered = -1;
  private width = 0;
  private rows = 0;
  private visible = new Int32Array(4096);
  private charWidth = 7;
  private font = '12px monospace';
  /** Frames drawn by the last draw() (for the bench and tests). */
  drawn = 0;

  constructor(
    private readonly options: FlameViewOptions,
    palette: Palette,
  ) {
    this.palette = palette;
    this.element = document.createElement('div');
    this.element.className = 'flame-view';
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'flame-canvas';
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', options.ariaLabel);
    this.overlay = document.createElement('canvas');
    this.overlay.className = 'flame-overlay';
    this.overlay.setAttribute('aria-hidden', 'true');
    // The canvases sit in one positioned box, so the overlay stays on the frames wherever the
    // box is (an inverted view keeps it at the bottom of its scroll area).
    const stack = document.createElement('div');
    stack.className = 'flame-stack';
    stack.append(this.canvas, this.overlay);
    this.element.append(stack);
    const editorFont = getComputedStyle(document.body).getPropertyValue('--vscode-editor-font-family').trim();
    this.font = `12px ${editorFont || 'monospace'}`;
    this.canvas.addEventListener('mousemove', (e) => this.hover(e));
    this.canvas.addEventListener('mouseleave', () => this.setHover(-1, null));
    this.canvas.addEventListener('click', (e) => this.click(e));
    this.canvas.addEventListener('keydown', (e) => this.key(e));
    new ResizeObserver(() => {
      if (this.tree && this.element.clientWidth !== this.width) this.draw();
    }).observe(this.element);
  }

  /** Shows `tree` with per-node palette colours `colours`, zoomed out. */
  setTree(tree: FlameTree, colours: Uint8Array): void {
    this.tree = tree;
    this.colours = colours;
    this.zoom = 0;
    this.selected = -1;
    this.hovered = -1;
    this.draw();
  }

  setPalette(p: Palette): void {
    this.palette = p;
  }

  /** Marks per frame of the tree (search), or null. Redraws when they change. */
  setMarks(marks: Uint8Array | null): void {
    if (marks === null && this.marks === null) return;
    this.marks = marks;
    this.draw();
  }

  get zoomed(): number {
    return this.zoom;
  }

  get selection(): number {
    return this.selected;
  }

  zoomTo(i: number): void {
    if (!this.tree || i < 0 || i >= this.tree.size) return;
    this.zoom = i;
    this.draw();
    this.options.onZoom?.(i);
  }

  select(i: number): void {
    this.selected = i;
    this.drawOverlay();
    if (i >= 0) {
      this.options.onSelect?.(i);
      this.canvas.setAttribute('aria-label', `${this.options.ariaLabel}: ${this.options.describe(i).join(', ')}`);
    }
  }

  focus(): void {
    this.canvas.focus();
  }

  private depthOffset(): number {
    return this.options.hideRoot ? 1 : 0;
  }

  /** Draws every visible frame; returns how many. */
  draw(): number {
    const t = this.tree;
    const dpr = window.devicePixelRatio || 1;
    const width = Math.max(1, this.element.clientWidth);
    this.width = width;
    if (!t) return 0;
    const off = this.depthOffset();
    const maxRows = Math.floor(MAX_CANVAS_PX / (ROW * dpr));
    this.rows = Math.max(1, Math.min(maxRows, t.maxDepth + 1 - off));
    const height = this.rows * ROW;
    for (const c of [this.canvas, this.overlay]) {
      const pw = Math.round(width * dpr);
      const ph = Math.round(height * dpr);
      if (c.width !== pw || c.height !== ph) {
        c.width = pw;
        c.height = ph;
        c.style.width = `${width}px`;
        c.style.height = `${height}px`;
      }
    }
    const ctx = this.canvas.getContext('2d', { alpha: true });
    if (!ctx) return 0;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = this.font;
    this.charWidth = ctx.measureText('abcdefghijklmnopqrstuvwxyz(*.)/').width / 31 || 7;

    const { x, total, end, depth, frame } = t;
    const x0 = x[this.zoom]!;
    const span = total[this.zoom]! || 1;
    const scale = width / span;
    const rows = this.rows;
    const inverted = this.options.inverted === true;
    const marks = this.marks;
    const colours = this.colours;
    let vis = this.visible;
    let n = 0;
    // Preorder scan with subtree skips (see the header).
    for (let i = off === 1 ? 1 : 0; i < t.size;) {
      const w = total[i]! * scale;
      const left = (x[i]! - x0) * scale;
      const d = depth[i]! - off;
      if (w < 0.5 || left >= width - 1e-6 || left + w <= 1e-6 || d >= rows) {
        i = end[i]!;
        continue;
      }
      if (n === vis.length) {
        const bigger = new Int32Array(vis.length * 2);
        bigger.set(vis);
        vis = this.visible = bigger;
      }
      vis[n++] = i;
      i++;
    }
    this.drawn = n;
    // Fill by colour: a counting sort of the visible frames by palette index.
    const fills = this.palette.fills;
    const perColour = new Int32Array(fills.length + 1);
    const colourOf = (i: number): number => (marks && marks[frame[i]!] !== 1 && i !== 0 ? DIM_COLOUR : colours[i]!);
    for (let k = 0; k < n; k++) {
      const c = colourOf(vis[k]!) + 1;
      perColour[c] = perColour[c]! + 1;
    }
    for (let c = 0; c < fills.length; c++) perColour[c + 1] = perColour[c + 1]! + perColour[c]!;
    const order = new Int32Array(n);
    const at = perColour.slice(0, fills.length);
    for (let k = 0; k < n; k++) {
      const c = colourOf(vis[k]!);
      order[at[c]!] = vis[k]!;
      at[c] = at[c]! + 1;
    }
    for (let c = 0; c < fills.length; c++) {
      const from = perColour[c]!;
      const to = perColour[c + 1]!;
      if (from === to) continue;
      ctx.fillStyle = fills[c]!;
      ctx.beginPath();
      for (let k = from; k < to; k++) {
        const i = order[k]!;
        const left = Math.max(0, (x[i]! - x0) * scale);
        const right = Math.min(width, (x[i]! - x0 + total[i]!) * scale);
        const d = depth[i]! - off;
        const y = (inverted ? rows - 1 - d : d) * ROW;
        const w = right - left;
        ctx.rect(left, y, w > 2 ? w - 1 : w, ROW - 1);
      }
      ctx.fill();
    }
    // Labels where at least three characters fit.
    ctx.fillStyle = this.palette.text;
    ctx.textBaseline = 'middle';
    const cw = this.charWidth;
    const minWidth = cw * 5 + 8;
    for (let k = 0; k < n; k++) {
      const i = vis[k]!;
      const left = Math.max(0, (x[i]! - x0) * scale);
      const right = Math.min(width, (x[i]! - x0 + total[i]!) * scale);
      if (right - left < minWidth) continue;
      const d = depth[i]! - off;
      const y = (inverted ? rows - 1 - d : d) * ROW;
      const label = fitLabel(nodeName(t, i), Math.floor((right - left - 8) / cw));
      if (label) ctx.fillText(label, left + 4, y + ROW / 2);
    }
    this.drawOverlay();
    return n;
  }

  /** Geometry of node i in CSS px, or null when not drawn. */
  private rectOf(i: number): { x: number; y: number; w: number } | null {
    const t = this.tree;
    if (!t || i < 0 || i >= t.size) return null;
    const x0 = t.x[this.zoom]!;
    const scale = this.width / (t.total[this.zoom]! || 1);
    const left = Math.max(0, (t.x[i]! - x0) * scale);
    const right = Math.min(this.width, (t.x[i]! - x0 + t.total[i]!) * scale);
    const d = t.depth[i]! - this.depthOffset();
    if (right - left < 0.5 || d < 0 || d >= this.rows) return null;
    const y = (this.options.inverted ? this.rows - 1 - d : d) * ROW;
    return { x: left, y, w: right - left };
  }

  private drawOverlay(): void {
    const ctx = this.overlay.getContext('2d');
    if (!ctx) return;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.overlay.width, this.overlay.height);
    const stroke = (i: number, colour: string, lw: number): void => {
      const r = this.rectOf(i);
      if (!r) return;
      ctx.strokeStyle = colour;
      ctx.lineWidth = lw;
      ctx.strokeRect(r.x + lw / 2, r.y + lw / 2, Math.max(1, r.w - lw - 1), ROW - 1 - lw);
    };
    if (this.hovered >= 0 && this.hovered !== this.selected) stroke(this.hovered, this.palette.hover, 1);
    if (this.selected >= 0) stroke(this.selected, this.palette.focus, 2);
  }

  /** The node under CSS point (mx, my), or -1. */
  hitTest(mx: number, my: number): number {
    const t = this.tree;
    if (!t) return -1;
    const row = Math.floor(my / ROW);
    if (row < 0 || row >= this.rows) return -1;
    const target = (this.options.inverted ? this.rows - 1 - row : row) + this.depthOffset();
    const x0 = t.x[this.zoom]!;
    const xv = x0 + (mx / this.width) * (t.total[this.zoom]! || 1);
    let node = 0;
    if (xv < t.x[0]! || xv >= t.x[0]! + t.total[0]!) return -1;
    for (let d = 1; d <= target; d++) {
      let next = -1;
      for (let c = node + 1; c < t.end[node]!; c = t.end[c]!) {
        if (xv >= t.x[c]! && xv < t.x[c]! + t.total[c]!) {
          next = c;
          break;
        }
      }
      if (next < 0) return -1;
      node = next;
    }
    return node;
  }

  private point(e: MouseEvent): [number, number] {
    const r = this.canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  private hover(e: MouseEvent): void {
    const [mx, my] = this.point(e);
    this.setHover(this.hitTest(mx, my), e);
  }

  private setHover(i: number, e: MouseEvent | null): void {
    const tip = this.options.tooltip;
    if (i !== this.hovered) {
      this.hovered = i;
      this.drawOverlay();
      if (i >= 0) {
        tip.replaceChildren();
        const lines = this.options.describe(i);
        lines.forEach((line, k) => {
          const div = document.createElement('div');
          div.textContent = line;
          if (k === 0) div.className = 'tip-title';
          tip.append(div);
        });
      }
    }
    if (i < 0 || !e) {
      tip.hidden = true;
      return;
    }
    tip.hidden = false;
    const pad = 14;
    const w = tip.offsetWidth;
    const h = tip.offsetHeight;
    let left = e.clientX + pad;
    let top = e.clientY + pad;
    if (left + w > window.innerWidth - 4) left = Math.max(4, e.clientX - pad - w);
    if (top + h > window.innerHeight - 4) top = Math.max(4, e.clientY - pad - h);
    tip.style.left = `${left}px`;
    tip.style.top = `${top}px`;
  }

  private click(e: MouseEvent): void {
    this.options.beforeInput?.();
    const [mx, my] = this.point(e);
    const i = this.hitTest(mx, my);
    if (i < 0) return;
    if (e.ctrlKey || e.metaKey) {
      this.options.onOpen?.(i);
      return;
    }
    const work = performance.now();
    this.select(i);
    this.zoomTo(i);
    // The handler's own work (hit test, redraw, breadcrumb), and from the click to the frame
    // after the draw, which adds the wait for that frame (the panel's header lists timings).
    performance.measure('profile:zoom-work', { start: work });
    const start = e.timeStamp;
    requestAnimationFrame(() => performance.measure('profile:zoom', { start }));
  }

  private key(e: KeyboardEvent): void {
    this.options.beforeInput?.();
    const t = this.tree;
    if (!t) return;
    const sel = this.selected >= 0 ? this.selected : this.zoom;
    const up = this.options.inverted ? 'ArrowDown' : 'ArrowUp';
    const down = this.options.inverted ? 'ArrowUp' : 'ArrowDown';
    let next = -1;
    if (e.key === up) next = t.parent[sel]!;
    else if (e.key === down) next = childrenOf(t, sel)[0] ?? -1;
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
      const p = t.parent[sel]!;
      if (p >= 0) {
        const sibs = childrenOf(t, p);
        const k = sibs.indexOf(sel) + (e.key === 'ArrowLeft' ? -1 : 1);
        next = sibs[k] ?? -1;
      }
    } else if (e.key === 'Enter') {
      if (e.ctrlKey || e.metaKey) this.options.onOpen?.(sel);
      else this.zoomTo(sel);
    } else if (e.key === 'Escape') this.zoomTo(this.options.hideRoot ? Math.min(1, t.size - 1) : 0);
    else if (e.key === 'Backspace') this.zoomTo(Math.max(this.options.hideRoot ? 1 : 0, t.parent[this.zoom]!));
    else if (e.key === 's') this.options.onSandwich?.(sel);
    else if (e.key === 'o') this.options.onOpen?.(sel);
    else return;
    e.preventDefault();
    if (next >= (this.options.hideRoot ? 1 : 0)) {
      this.select(next);
      // Keep the selection in view: zoom out to an ancestor that contains it.
      let z = this.zoom;
      while (z > 0 && !(next >= z && next < t.end[z]!) && !isAncestor(t, next, z)) z = t.parent[z]!;
      if (z !== this.zoom) this.zoomTo(z);
    }
  }
}

/** Whether node a is an ancestor of (or is) node `of`. */
function isAncestor(t: FlameTree, a: number, of: number): boolean {
  return of >= a && of < t.end[a]!;
}

/**
 * A frame name that fits `chars` characters: the whole name, else its last path element
 * (`vfs.(*VFS).Read` of `github.com/…/pkg/vfs.(*VFS).Read`), else that cut from the left
 * (Go and kernel names end with what tells them apart); nothing under five characters.
 */
export function fitLabel(name: string, chars: number): string {
  if (chars < 5) return '';
  if (name.length <= chars) return name;
  const slash = name.lastIndexOf('/');
  const short = slash >= 0 && slash < name.length - 1 ? name.slice(slash + 1) : name;
  if (short.length <= chars) return short;
  return '…' + short.slice(short.length - chars + 1);
}
