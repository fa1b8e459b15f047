/**
 * The flame graphs' colours: a small fixed palette (so the renderer fills all frames of one
 * colour with one path) chosen by the theme kind VS Code puts on <body> (vscode-light,
 * vscode-dark, vscode-high-contrast). Frame colours are by kind: on-CPU warm (red–orange),
 * off-CPU blue, slow-request stacks violet, and kernel frames (`_[k]`) in their own hues
 * (yellow on-CPU, teal off-CPU, pink in slow requests); a shade from the name's hash tells
 * neighbours apart. Differential colours go from blue (shrank) through grey to red (grew).
 * Chrome around the graph (text, borders, focus) comes from --vscode-* variables.
 */

export const SHADES = 6;
/** Kind families: user then kernel for each of oncpu, offcpu, slow; then the root. */
const FAMILY_HUES: [number, number][] = [
  [2, 38], // user on-CPU: red → orange
  [200, 232], // user off-CPU: blues
  [262, 290], // user slow request: violets
  [48, 62], // kernel on-CPU: yellows
  [172, 188], // kernel off-CPU: teals
  [318, 336], // kernel slow request: pinks
];
export const ROOT_COLOUR = FAMILY_HUES.length * SHADES;
export const DIM_COLOUR = ROOT_COLOUR + 1;
/** Differential buckets: DIFF_BASE + 0 (full blue) … DIFF_BASE + 2·DIFF_STEPS (full red). */
export const DIFF_STEPS = 8;
export const DIFF_BASE = DIM_COLOUR + 1;

export interface Palette {
  fills: string[];
  /** Text drawn on a frame. */
  text: string;
  /** Outline of the selected frame, of the hovered one (theme colours, read once). */
  focus: string;
  hover: string;
  dark: boolean;
}

export function themeIsDark(): boolean {
  const c = document.body.classList;
  return c.contains('vscode-dark') || c.contains('vscode-high-contrast');
}

export function makePalette(): Palette {
  const dark = themeIsDark();
  const fills: string[] = [];
  for (const [h0, h1] of FAMILY_HUES) {
    for (let s = 0; s < SHADES; s++) {
      const h = h0 + ((h1 - h0) * s) / (SHADES - 1);
      fills.push(dark ? `hsl(${h} 55% ${40 + (s % 3) * 4}%)` : `hsl(${h} 75% ${66 + (s % 3) * 4}%)`);
    }
  }
  fills.push(dark ? 'hsl(220 8% 38%)' : 'hsl(220 8% 78%)'); // root
  fills.push(dark ? 'hsl(220 5% 26%)' : 'hsl(220 5% 88%)'); // dimmed (search misses)
  for (let i = -DIFF_STEPS; i <= DIFF_STEPS; i++) {
    const t = Math.abs(i) / DIFF_STEPS;
    const hue = i < 0 ? 215 : 0;
    const sat = Math.round(8 + t * 72);
    const light = dark ? Math.round(40 - t * 2) : Math.round(80 - t * 16);
    fills.push(`hsl(${hue} ${sat}% ${light}%)`);
  }
  return {
    fills,
    text: dark ? '#f3f3f3' : '#1b1b1b',
    focus: cssVar('--vscode-focusBorder', '#0078d4'),
    hover: cssVar('--vscode-foreground', dark ? '#cccccc' : '#333333'),
    dark,
  };
}

/** A stable small hash of a frame name (FNV-1a), for its shade. */
export function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Palette index of a frame: kind family (kernel or not) and the name's shade. */
export function kindColour(kind: number, kernel: boolean, hash: number): number {
  return ((kernel ? 3 : 0) + kind) * SHADES + (hash % SHADES);
}

/** Palette index of a signed diff intensity in [-1, 1]. */
export function diffColour(intensity: number): number {
  const step = Math.round(Math.max(-1, Math.min(1, intensity)) * DIFF_STEPS);
  return DIFF_BASE + step + DIFF_STEPS;
}

/** A --vscode-* colour from the document, or a fallback. */
export function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.body).getPropertyValue(name).trim();
  return v || fallback;
}
