/**
 * A small, strict argv parser for the CLI: positionals plus `--flag` / `--opt value` /
 * `--opt=value`. Unknown options are errors, so a typo never silently changes behaviour.
 */

export interface OptionSpec {
  /** Takes a value (`--name X`); otherwise a boolean flag. */
  value?: boolean;
  /** May repeat; values collect into an array. */
  repeat?: boolean;
}

export interface Parsed {
  positionals: string[];
  flags: Set<string>;
  values: Map<string, string[]>;
}

export class UsageError extends Error {}

export function parseArgs(argv: string[], spec: Record<string, OptionSpec>): Parsed {
  const out: Parsed = { positionals: [], flags: new Set(), values: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (!a.startsWith('--') || a === '--') {
      out.positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name}`);
    if (!s.value) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      out.flags.add(name);
      continue;
    }
    const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (v === undefined || (eq < 0 && v.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
    const prev = out.values.get(name) ?? [];
    if (prev.length > 0 && !s.repeat) throw new UsageError(`--${name} given twice`);
    out.values.set(name, [...prev, v]);
  }
  return out;
}

export function value(p: Parsed, name: string): string | undefined {
  return p.values.get(name)?.[0];
}

export function numberValue(p: Parsed, name: string, min: number, max: number): number | undefined {
  const v = value(p, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number in ${min}..${max}`);
  return n;
}
