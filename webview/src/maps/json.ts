/**
 * Re-indents the JSON text of a key or value for reading and editing, WITHOUT JSON.parse:
 * numbers keep their exact text (a u64 counter such as 18446744073709551615 would be rounded by
 * a double), strings keep their escapes. Containers of scalars that fit on a line stay on one
 * line, longer ones are packed several items per line; anything that is not JSON comes back as
 * it was.
 */

type Node = { raw: string } | { items: Node[] } | { entries: [string, Node][] };

const WIDTH = 72;

class Reader {
  at = 0;
  constructor(readonly s: string) {}

  skip(): void {
    while (this.at < this.s.length && ' \t\r\n'.includes(this.s[this.at]!)) this.at++;
  }

  value(): Node {
    this.skip();
    const c = this.s[this.at];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return { raw: this.string() };
    const m = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(this.s.slice(this.at, this.at + 400));
    if (!m) throw new Error('not JSON');
    this.at += m[0].length;
    return { raw: m[0] };
  }

  string(): string {
    const start = this.at++;
    while (this.at < this.s.length) {
      const c = this.s[this.at++];
      if (c === '\\') this.at++;
      else if (c === '"') return this.s.slice(start, this.at);
    }
    throw new Error('unterminated string');
  }

  expect(c: string): void {
    this.skip();
    if (this.s[this.at] !== c) throw new Error(`expected ${c}`);
    this.at++;
  }

  /** Whether the next character closes the container (consumed if so). */
  closes(c: string): boolean {
    this.skip();
    if (this.s[this.at] !== c) return false;
    this.at++;
    return true;
  }

  array(): Node {
    this.at++;
    const items: Node[] = [];
    if (this.closes(']')) return { items };
    for (;;) {
      items.push(this.value());
      if (this.closes(']')) return { items };
      this.expect(',');
    }
  }

  object(): Node {
    this.at++;
    const entries: [string, Node][] = [];
    if (this.closes('}')) return { entries };
    for (;;) {
      this.skip();
      if (this.s[this.at] !== '"') throw new Error('expected a name');
      const name = this.string();
      this.expect(':');
      entries.push([name, this.value()]);
      if (this.closes('}')) return { entries };
      this.expect(',');
    }
  }
}

const isScalar = (n: Node): n is { raw: string } => 'raw' in n;

function print(n: Node, indent: string): string {
  if (isScalar(n)) return n.raw;
  const inner = indent + '  ';
  if ('items' in n) {
    if (n.items.length === 0) return '[]';
    if (n.items.every(isScalar)) {
      const flat = `[${n.items.map((i) => i.raw).join(', ')}]`;
      if (indent.length + flat.length <= WIDTH) return flat;
      // Pack the scalars: as many per line as fit.
      const lines: string[] = [];
      let line = '';
      for (const { raw } of n.items) {
        if (line && inner.length + line.length + raw.length + 2 > WIDTH) {
          lines.push(line);
          line = '';
        }
        line += (line ? ' ' : '') + raw + ',';
      }
      lines.push(line.slice(0, -1));
      return `[\n${lines.map((l) => inner + l).join('\n')}\n${indent}]`;
    }
    return `[\n${n.items.map((i) => inner + print(i, inner)).join(',\n')}\n${indent}]`;
  }
  if (n.entries.length === 0) return '{}';
  if (n.entries.every(([, v]) => isScalar(v))) {
    const flat = `{ ${n.entries.map(([k, v]) => `${k}: ${print(v, '')}`).join(', ')} }`;
    if (indent.length + flat.length <= WIDTH) return flat;
  }
  return `{\n${n.entries.map(([k, v]) => `${inner}${k}: ${print(v, inner)}`).join(',\n')}\n${indent}}`;
}

export function prettyJson(text: string): string {
  try {
    const r = new Reader(text);
    const node = r.value();
    r.skip();
    if (r.at !== text.length) return text;
    return print(node, '');
  } catch {
    // Not JSON (the host sends JSON; show whatever came rather than nothing).
    return text;
  }
}
