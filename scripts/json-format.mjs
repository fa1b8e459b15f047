// JSON text exactly as `prettier --write` leaves it (.prettierrc.json), for the generators that
// commit data under core/src/editing/data/ (editing-data.mjs, kfunc-docs.mjs): their `--check`
// compares bytes, so `npm run format` must leave the files alone.

/** Prettier's printWidth (.prettierrc.json). */
export const PRINT_WIDTH = 120;

/**
 * Objects one key a line; an array of primitives on one line when it fits in the print width,
 * else one item a line.
 */
function format(value, indent = '', prefixLen = 0, suffixLen = 0) {
  const inner = indent + '  ';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((v) => v === null || typeof v !== 'object')) {
      const flat = `[${value.map((v) => JSON.stringify(v)).join(', ')}]`;
      if (prefixLen + flat.length + suffixLen <= PRINT_WIDTH) return flat;
    }
    const items = value.map((v, i) => inner + format(v, inner, inner.length, i < value.length - 1 ? 1 : 0));
    return `[\n${items.join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return '{}';
    const items = entries.map(([k, v], i) => {
      const key = `${inner}${JSON.stringify(k)}: `;
      return key + format(v, inner, key.length, i < entries.length - 1 ? 1 : 0);
    });
    return `{\n${items.join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value);
}

/** The whole file's text for `value`, final newline included. */
export function jsonFile(value) {
  return format(value) + '\n';
}
