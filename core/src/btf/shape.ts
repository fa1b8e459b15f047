/**
 * The layout of a BTF type as small serialisable data for the map inspector's webview (pure:
 * no Node, no DOM, no vscode): `shapeOf` gives kinds, C names, sizes, fields with their byte
 * and bit offsets, array lengths, enum values, and a `log2Histogram` flag; `flattenColumns`
 * turns a shape into table columns ("peer.port", "bytes[1][2]"), at most MAX_COLUMNS, and
 * `cellValue` picks a column's cell out of a decoded value (codec.ts), so the webview draws
 * cells without knowing any layout rule. Keys and paths are the decoded JSON's (codec.ts
 * `fieldKeys`, `joinPath`). A shape is a tree; a damaged or huge BTF could make it
 * exponential, so past MAX_SHAPE_NODES nodes nested types are `elided` (no fields or element).
 */

import { BtfKind, type Btf } from './parse';
import { fieldKeys, joinPath, type JsonValue } from './codec';

export type ShapeKind =
  'int' | 'bool' | 'char' | 'float' | 'pointer' | 'enum' | 'struct' | 'union' | 'array' | 'datasec';

export interface EnumValueShape {
  name: string;
  /** As decoded: signed, a number when safe, else a decimal string. */
  value: number | string;
}

export interface FieldShape {
  /** The key in the decoded object ("" for an anonymous member). */
  key: string;
  /** Byte offset from the start of the parent (of the byte holding the first bit, for a bitfield). */
  offset: number;
  bitOffset: number;
  /** Only on bitfields: their width. */
  bitSize?: number;
  shape: TypeShape;
}

export interface TypeShape {
  kind: ShapeKind;
  /** C spelling: "struct fx_record", "__u64[2][3]". */
  name: string;
  size: number;
  /** int: width and signedness; enum: signedness as decoded (bpftool's: signed). */
  bits?: number;
  signed?: boolean;
  /** struct, union: members; datasec: variables. */
  fields?: FieldShape[];
  /** array: length and element; `chars` when it decodes as a string while its text is printable. */
  length?: number;
  element?: TypeShape;
  chars?: boolean;
  values?: EnumValueShape[];
  /**
   * The type is, or is a struct with a member that is, an array of ≥ 8 unsigned 64-bit
   * counters named like slots, buckets or hist (a log2 histogram, as the profiler keeps them).
   */
  log2Histogram?: boolean;
  /** On a struct flagged log2Histogram: the member holding the counters. */
  histogramField?: string;
  /** Nested layout left out: the shape grew past MAX_SHAPE_NODES. */
  elided?: boolean;
}

export const MAX_SHAPE_NODES = 4096;
export const MAX_COLUMNS = 64;
const HISTOGRAM_NAME = /slot|bucket|hist/i;

/** The layout of a type; a DfsError(BadRequest) for types without bytes (void, functions, forward declarations). */
export function shapeOf(btf: Btf, typeId: number): TypeShape {
  const budget = { nodes: MAX_SHAPE_NODES };
  const shape = build(btf, typeId, budget);
  if (isCounterArray(btf, typeId, typedefNames(btf, typeId))) shape.log2Histogram = true;
  return shape;
}

/** The names a type goes by through its typedefs (a histogram's array may be named by one). */
function typedefNames(btf: Btf, id: number): string {
  const names: string[] = [];
  let t = btf.type(id);
  for (
    let i = 0;
    i <= 64 &&
    (t.kind === BtfKind.Typedef ||
      t.kind === BtfKind.Const ||
      t.kind === BtfKind.Volatile ||
      t.kind === BtfKind.TypeTag ||
      t.kind === BtfKind.Restrict);
    i++
  ) {
    names.push(t.name);
    t = btf.type(t.type);
  }
  return names.join(' ');
}

function isCounterArray(btf: Btf, id: number, name: string): boolean {
  const t = btf.type(btf.resolve(id));
  if (t.kind !== BtfKind.Array || t.length < 8 || !HISTOGRAM_NAME.test(name)) return false;
  const e = btf.type(btf.resolve(t.type));
  return e.kind === BtfKind.Int && e.size === 8 && e.bits === 64 && !e.signed && !e.bool && !e.char;
}

function isCharElement(btf: Btf, id: number): boolean {
  let t = btf.type(id);
  for (
    let i = 0;
    i <= 64 &&
    (t.kind === BtfKind.Const ||
      t.kind === BtfKind.Volatile ||
      t.kind === BtfKind.Restrict ||
      t.kind === BtfKind.TypeTag);
    i++
  ) {
    t = btf.type(t.type);
  }
  return t.kind === BtfKind.Int && t.size === 1 && (t.char || t.name === 'char');
}

function enumValue(x: bigint, size: number): number | string {
  const v = BigInt.asIntN(size * 8, x);
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

function build(btf: Btf, id: number, budget: { nodes: number }): TypeShape {
  const name = btf.typeName(id);
  const size = btf.sizeOf(id); // refuses types without bytes
  const t = btf.type(btf.resolve(id));
  const elided = --budget.nodes < 0;
  switch (t.kind) {
    case BtfKind.Int:
      if (t.bool) return { kind: 'bool', name, size };
      if (t.char && t.size === 1) return { kind: 'char', name, size };
      return { kind: 'int', name, size, bits: t.bits, signed: t.signed };
    case BtfKind.Enum:
    case BtfKind.Enum64:
      return {
        kind: 'enum',
        name,
        size,
        signed: true,
        values: t.values.map((v) => ({ name: v.name, value: enumValue(v.value, t.size) })),
      };
    case BtfKind.Float:
      return { kind: 'float', name, size };
    case BtfKind.Ptr:
      return { kind: 'pointer', name, size };
    case BtfKind.Array: {
      const chars = isCharElement(btf, t.type);
      if (elided) return { kind: 'array', name, size, length: t.length, ...(chars ? { chars } : {}), elided };
      return {
        kind: 'array',
        name,
        size,
        length: t.length,
        element: build(btf, t.type, budget),
        ...(chars ? { chars } : {}),
      };
    }
    case BtfKind.Struct:
    case BtfKind.Union: {
      const kind = t.kind === BtfKind.Struct ? 'struct' : 'union';
      if (elided) return { kind, name, size, elided };
      const keys = fieldKeys(t.members.map((m) => m.name));
      const shape: TypeShape = {
        kind,
        name,
        size,
        fields: t.members.map((m, i) => ({
          key: keys[i] as string,
          offset: m.bitOffset >> 3,
          bitOffset: m.bitOffset,
          ...(m.bitSize > 0 ? { bitSize: m.bitSize } : {}),
          shape: build(btf, m.type, budget),
        })),
      };
      const hist = t.members.findIndex((m) => m.bitSize === 0 && isCounterArray(btf, m.type, m.name));
      if (hist >= 0) {
        shape.log2Histogram = true;
        shape.histogramField = keys[hist];
      }
      return shape;
    }
    case BtfKind.Datasec: {
      if (elided) return { kind: 'datasec', name, size, elided };
      const vars = t.vars.map((v) => ({ v, variable: btf.type(v.type) }));
      const keys = fieldKeys(vars.map((x) => x.variable.name));
      return {
        kind: 'datasec',
        name,
        size,
        fields: vars.map(({ v }, i) => ({
          key: keys[i] as string,
          offset: v.offset,
          bitOffset: v.offset * 8,
          shape: build(btf, v.type, budget),
        })),
      };
    }
    default:
      // sizeOf refused the kinds without bytes; modifiers, typedefs and variables were resolved.
      return { kind: 'int', name, size, elided: true };
  }
}

export interface ColumnDescriptor {
  /** "peer.port", "bytes[1][2]", "" for a value that is one scalar, "…" for the rest column. */
  path: string;
  /** The same path as keys into the decoded value. */
  keys: (string | number)[];
  /** The leaf's kind; 'json' for the rest column. A chars array is one column (string or numbers). */
  kind: ShapeKind | 'json';
  /** C spelling of the leaf's type. */
  name: string;
  bitSize?: number;
  /**
   * Only on the rest column, last, when the value has more leaves than columns: the top-level
   * keys (or, for an array, the leading indices) shown by earlier columns; this column shows
   * the value without them, as JSON (`cellValue` does that).
   */
  except?: (string | number)[];
}

function isLeaf(s: TypeShape): boolean {
  if (s.elided) return true;
  if (s.kind === 'array') return s.chars === true || !s.element || (s.length ?? 0) === 0;
  if (s.kind === 'struct' || s.kind === 'union' || s.kind === 'datasec') return (s.fields ?? []).length === 0;
  return true;
}

/** Leaves of a shape, saturating just above `cap`. */
function leafCount(s: TypeShape, cap: number, memo: Map<TypeShape, number>): number {
  const known = memo.get(s);
  if (known !== undefined) return known;
  let n: number;
  if (isLeaf(s)) n = 1;
  else if (s.kind === 'array') n = Math.min(cap + 1, (s.length ?? 0) * leafCount(s.element as TypeShape, cap, memo));
  else n = (s.fields ?? []).reduce((sum, f) => Math.min(cap + 1, sum + leafCount(f.shape, cap, memo)), 0);
  memo.set(s, n);
  return n;
}

function expand(
  s: TypeShape,
  keys: (string | number)[],
  path: string,
  out: ColumnDescriptor[],
  bitSize?: number,
): void {
  if (isLeaf(s)) {
    out.push({ path, keys, kind: s.kind, name: s.name, ...(bitSize !== undefined ? { bitSize } : {}) });
  } else if (s.kind === 'array') {
    for (let i = 0; i < (s.length ?? 0); i++) expand(s.element as TypeShape, [...keys, i], joinPath(path, i), out);
  } else {
    for (const f of s.fields ?? []) expand(f.shape, [...keys, f.key], joinPath(path, f.key), out, f.bitSize);
  }
}

/**
 * Table columns of a shape: one per leaf (scalar, enum, pointer, char array) in layout order,
 * or, when there are more than `max`, the top-level entries that fit whole in `max - 1`
 * columns, then one JSON column of the rest.
 */
export function flattenColumns(shape: TypeShape, max: number = MAX_COLUMNS): ColumnDescriptor[] {
  const limit = Math.max(1, Math.floor(max));
  const memo = new Map<TypeShape, number>();
  const out: ColumnDescriptor[] = [];
  if (leafCount(shape, limit, memo) <= limit) {
    expand(shape, [], '', out);
    return out;
  }
  let budget = limit - 1;
  const shown: (string | number)[] = [];
  if (shape.kind === 'array') {
    const each = leafCount(shape.element as TypeShape, limit, memo);
    const fit = Math.min(shape.length ?? 0, Math.floor(budget / each));
    for (let i = 0; i < fit; i++) {
      expand(shape.element as TypeShape, [i], joinPath('', i), out);
      shown.push(i);
    }
  } else {
    for (const f of shape.fields ?? []) {
      const n = leafCount(f.shape, limit, memo);
      if (n > budget) continue;
      budget -= n;
      expand(f.shape, [f.key], joinPath('', f.key), out, f.bitSize);
      shown.push(f.key);
    }
  }
  out.push({ path: '…', keys: [], kind: 'json', name: shape.name, except: shown });
  return out;
}

/** A column's cell in a decoded value (undefined when the value does not have that path). */
export function cellValue(value: JsonValue, column: ColumnDescriptor): JsonValue | undefined {
  let cur: JsonValue | undefined = value;
  for (const k of column.keys) {
    if (typeof k === 'number') cur = Array.isArray(cur) ? cur[k] : undefined;
    else
      cur =
        cur !== null && typeof cur === 'object' && !Array.isArray(cur) && Object.hasOwn(cur, k) ? cur[k] : undefined;
    if (cur === undefined) return undefined;
  }
  const except = column.except;
  if (!except || cur === null || typeof cur !== 'object') return cur;
  if (Array.isArray(cur)) return cur.slice(except.length);
  const hidden = new Set(except);
  const rest: { [key: string]: JsonValue } = {};
  for (const [k, v] of Object.entries(cur)) if (!hidden.has(k)) rest[k] = v;
  return rest;
}
