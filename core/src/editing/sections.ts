/**
 * SEC() names as libbpf 1.7 reads them, for the editor (per keystroke, so pure and cheap): which
 * section_defs[] entry a name matches and what program it makes (matchSection), near misses for
 * a name libbpf does not know (suggestSections), and the non-program sections libbpf handles
 * itself (isSpecialSection) or refuses (unsupportedSection).
 *
 * The rules are libbpf.c's, not ours:
 *   - find_sec_def: the FIRST entry of section_defs[] that matches wins (table order, data.ts);
 *   - sec_def_matches: "name+" matches "name" alone or "name/<anything>"; "name/" is a plain
 *     prefix; any other entry matches only exactly (so "xdp/foo", "tc/foo" and "sk_msg/x" match
 *     nothing); sleepable and multi variants ("uprobe.s+", "kprobe.multi+") are entries of their own;
 *   - bpf_object__add_programs: a leading "?" only turns autoload off and is dropped before matching;
 *   - bpf_object__elf_collect: the fixed names of data, map, BTF and extern sections.
 * A program section that matches nothing is not refused at open; libbpf leaves the program
 * without a type and loading it fails ("unrecognized ELF section name" at debug level).
 */

import { SECTIONS, type SectionDef } from './data';

/** What libbpf makes of a program's section name. */
export interface SectionMatch {
  /** The section_defs[] entry libbpf picks. */
  readonly def: SectionDef;
  /** libbpf's program type name, e.g. `sk_msg`, `tracing`. */
  readonly progType: string;
  /** The expected attach type (BPF_*), or null. */
  readonly attachType: string | null;
  /**
   * What follows the entry's prefix and its `/`: `syscalls/sys_enter_read` for
   * `tracepoint/syscalls/sys_enter_read`, `/usr/bin/x:func` for `uprobe//usr/bin/x:func`; empty
   * for `kprobe/` (libbpf accepts the name, its attach step will not); null when there is none.
   */
  readonly target: string | null;
  /** False for `SEC("?...")`: libbpf opens the program with autoload off. */
  readonly autoload: boolean;
}

/** libbpf's sec_def_matches(); returns the target (see SectionMatch), or undefined for no match. */
function matchDef(defName: string, name: string): string | null | undefined {
  if (defName.endsWith('/')) return name.startsWith(defName) ? name.slice(defName.length) : undefined;
  if (defName.endsWith('+')) {
    const base = defName.slice(0, -1);
    if (!name.startsWith(base)) return undefined;
    if (name.length === base.length) return null;
    return name[base.length] === '/' ? name.slice(base.length + 1) : undefined;
  }
  return name === defName ? null : undefined;
}

/** The entry libbpf 1.7 picks for `SEC(name)` (libbpf's find_sec_def), or null when none matches. */
export function matchSection(name: string): SectionMatch | null {
  const autoload = !name.startsWith('?');
  const bare = autoload ? name : name.slice(1);
  for (const def of SECTIONS) {
    const target = matchDef(def.name, bare);
    if (target !== undefined) return { def, progType: def.progType, attachType: def.attachType, target, autoload };
  }
  return null;
}

/** Sections libbpf's bpf_object__elf_collect and its extern collection recognise by exact name. */
const SPECIAL_EXACT: ReadonlySet<string> = new Set([
  'license', // char LICENSE[] SEC("license")
  'version', // the kernel version of old kprobe objects
  '.maps', // BTF-defined maps
  '.BTF',
  '.BTF.ext',
  '.text', // subprograms (global and static functions)
  '.data',
  '.rodata', // const volatile tunables
  '.bss',
  '.kconfig', // extern __kconfig variables
  '.ksyms', // extern __ksym variables and kfuncs
  '.struct_ops', // struct_ops maps (the value), "?" = not auto-created
  '.struct_ops.link',
  '?.struct_ops',
  '?.struct_ops.link',
  '.addr_space.1', // __arena globals
  '.jumptables',
]);
/** Data sections that may carry a suffix: `.data.counters`, `.rodata.str1.1`, `.bss.x`. */
const SPECIAL_PREFIXES = ['.data.', '.rodata.', '.bss.'] as const;

/**
 * A section libbpf handles itself rather than as a program: license, version, maps, BTF,
 * global data, externs, struct_ops maps, arena. Not `maps`: see unsupportedSection.
 */
export function isSpecialSection(name: string): boolean {
  return SPECIAL_EXACT.has(name) || SPECIAL_PREFIXES.some((p) => name.startsWith(p));
}

/** Why libbpf refuses to open an object with this section (its own message), or null. */
export function unsupportedSection(name: string): string | null {
  return name === 'maps' ? "legacy map definitions in 'maps' section are not supported by libbpf v1.0+" : null;
}

/** Optimal-string-alignment distance (Levenshtein plus adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}

/** How many edits still count as a near miss of `word`: 1 up to 5 characters, then 2, then 3 from 9. */
export function tolerance(word: string): number {
  return word.length <= 5 ? 1 : word.length <= 8 ? 2 : 3;
}

/**
 * Up to `max` section names close to `name`, best first, for a name that libbpf does not know
 * (empty when it does, or when it is a special section). Compares the part before the first
 * `/` with each entry's prefix and keeps the user's `/target` on entries that take one
 * (`tracepiont/syscalls/x` → `tracepoint/syscalls/x`); entries that are exact names
 * (`sk_msg`, `cgroup/connect4`) are compared whole, and suggested without a target that
 * libbpf would refuse (`sk_msg/x` → `sk_msg`). A leading `?` is kept.
 */
export function suggestSections(name: string, max = 3): string[] {
  if (matchSection(name) !== null || isSpecialSection(name)) return [];
  const mark = name.startsWith('?') ? '?' : '';
  const bare = name.slice(mark.length);
  const slash = bare.indexOf('/');
  const prefix = slash < 0 ? bare : bare.slice(0, slash);
  const tail = slash < 0 ? '' : bare.slice(slash);

  // `rank` orders the near misses: their distance, plus one when the suggestion drops the target.
  const scored: { name: string; rank: number; order: number }[] = [];
  const consider = (suggestion: string, distance: number, word: string, dropsTarget = false): void => {
    if (distance <= tolerance(word))
      scored.push({ name: suggestion, rank: distance + (dropsTarget ? 1 : 0), order: scored.length });
  };
  for (const def of SECTIONS) {
    if (def.name.endsWith('+') || def.name.endsWith('/')) {
      const base = def.name.slice(0, -1).replace(/\/$/, '');
      consider(mark + base + (def.name.endsWith('/') && tail === '' ? '/' : tail), editDistance(prefix, base), base);
    } else if (def.name.includes('/')) {
      // `cgroup/connect4`: the whole name; or the right prefix with the required target missing.
      consider(mark + def.name, editDistance(bare, def.name), def.name);
      const defPrefix = def.name.slice(0, def.name.indexOf('/'));
      if (tail === '') consider(mark + def.name, editDistance(prefix, defPrefix) + 1, defPrefix);
    } else {
      consider(mark + def.name, editDistance(prefix, def.name), def.name, tail !== '');
    }
  }
  if (mark === '') {
    for (const special of SPECIAL_EXACT) consider(special, editDistance(bare, special), special);
  }

  const out: string[] = [];
  for (const s of scored.sort((a, b) => a.rank - b.rank || a.order - b.order)) {
    if (out.length >= max) break;
    if (s.name !== name && !out.includes(s.name)) out.push(s.name);
  }
  return out;
}
