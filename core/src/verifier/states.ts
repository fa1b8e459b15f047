/**
 * Register and stack state in a verifier log, pure (the log explorer webview imports it):
 * which state holds at a log line, and a state split into its register/stack entries.
 * Level 1 prints after each instruction only the registers it changed; a full state appears
 * at a path's start ("12: R0=... R10=fp0", or a resumed jump's tail) and at level 2 everywhere.
 */

import { parseInsnLine } from './lines';

/** A full-state line, "12: R0=... R10=fp0" or "from 8 to 12: R0=...". */
export const FULL_STATE = /^(?:from \d+ to )?(\d+): ((?:frame\d+: )?R\d.*)$/;
/** How far back stateAt looks for a full-state line of the same instruction. */
const STATE_LOOKBACK = 20_000;
/** State entries are separated by spaces outside parentheses (nested two deep). */
const STATE_TOKEN = /(?:[^\s()]+|\((?:[^()]|\([^()]*\))*\))+/g;

/**
 * The state at log line `i`: its own (after an instruction, or a full-state line), else a
 * full state of the same instruction above, else the last state printed above it on this
 * path. Returns [state, where it came from, for people].
 */
export function stateAt(lines: readonly string[], i: number): [string, string] {
  const line = lines[i] ?? '';
  const own = parseInsnLine(line);
  if (own?.state) return [own.state, 'after this instruction'];
  const full = FULL_STATE.exec(line);
  if (full) return [full[2] ?? '', `at insn ${full[1]}`];
  const insn = own?.insn;
  let fallback: [string, string] | null = null;
  for (let j = i - 1; j >= Math.max(0, i - STATE_LOOKBACK); j--) {
    const l = lines[j] ?? '';
    const resume = /^\d+: \(/.test(l) ? parseInsnLine(l)?.resume : null;
    const f = resume ? [l, String(resume.insn), resume.state] : FULL_STATE.exec(l);
    if (f && Number(f[1]) === insn) return [f[2] ?? '', `before insn ${insn} (full state, log line ${j + 1})`];
    // A full state of another insn starts this path: older states belong to other paths.
    if (f) return fallback ?? [f[2] ?? '', `at insn ${f[1]} (log line ${j + 1}), where this path starts`];
    if (!fallback) {
      const p = parseInsnLine(l);
      if (p?.state) fallback = [p.state, `after insn ${p.insn} (log line ${j + 1}); only changed registers`];
    }
  }
  return fallback ?? ['', 'no state printed'];
}

/** "R0=map_value(map=m,ks=4) R1=scalar(smin=0,var_off=(0x0; 0xf))" → its entries. */
export function stateEntries(state: string): { name: string; value: string }[] {
  return (state.match(STATE_TOKEN) ?? []).map((t) => {
    const eq = t.indexOf('=');
    return eq > 0 ? { name: t.slice(0, eq), value: t.slice(eq + 1) } : { name: '', value: t };
  });
}
