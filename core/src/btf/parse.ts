/**
 * BTF read from raw bytes in pure TypeScript (no Node, no DOM, no vscode): a standalone
 * little-endian blob, header + type section + string section, as the kernel returns it in
 * `bpf_btf_info.btf` for a map's `btf_id` and as clang writes it into an object's `.BTF`
 * section. `parseBtf` gives every type of every kind as data (`Btf.types`, indexed by type id),
 * their C spelling (`typeName`) and resolved sizes (`sizeOf`); codec.ts compiles decoders from it.
 *
 * The bytes are untrusted (they come from the node, or from any object a user opens): every
 * read is checked against the section it belongs to, every loop is bounded by the bytes it
 * walks, every type reference is checked to name a type, and loops and over-deep chains of type
 * references are refused here, once, so that later walks (names, sizes, codecs, shapes) recurse
 * at most MAX_DEPTH levels. A damaged blob throws a DfsError(BadRequest) saying what is wrong,
 * never a RangeError, and never loops. Split BTF (kernel modules, ids after vmlinux's) is not
 * read: a map's BTF is standalone.
 */

import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';

/** BTF_KIND_* of linux/btf.h; the numbers are the wire values. */
export enum BtfKind {
  Void = 0,
  Int = 1,
  Ptr = 2,
  Array = 3,
  Struct = 4,
  Union = 5,
  Enum = 6,
  Fwd = 7,
  Typedef = 8,
  Volatile = 9,
  Const = 10,
  Restrict = 11,
  Func = 12,
  FuncProto = 13,
  Var = 14,
  Datasec = 15,
  Float = 16,
  DeclTag = 17,
  TypeTag = 18,
  Enum64 = 19,
}

interface Named {
  id: number;
  /** '' when anonymous. */
  name: string;
}

export interface BtfVoid extends Named {
  kind: BtfKind.Void;
}
export interface BtfInt extends Named {
  kind: BtfKind.Int;
  size: number;
  /** Width in bits and its offset inside `size` bytes (not byte-sized: an old-style bitfield). */
  bits: number;
  bitOffset: number;
  signed: boolean;
  char: boolean;
  bool: boolean;
}
/** PTR, TYPEDEF and the modifiers: one reference; `type` 0 is void. */
export interface BtfRef extends Named {
  kind: BtfKind.Ptr | BtfKind.Typedef | BtfKind.Volatile | BtfKind.Const | BtfKind.Restrict | BtfKind.TypeTag;
  type: number;
}
export interface BtfArray extends Named {
  kind: BtfKind.Array;
  type: number;
  indexType: number;
  length: number;
}
export interface BtfMember {
  name: string;
  type: number;
  /** From the start of the struct. */
  bitOffset: number;
  /** 0 unless a bitfield declared with kind_flag. */
  bitSize: number;
}
export interface BtfComposite extends Named {
  kind: BtfKind.Struct | BtfKind.Union;
  size: number;
  members: BtfMember[];
}
export interface BtfEnumerator {
  name: string;
  /** As recorded: signed or unsigned per the kind_flag (clang < 15 writes negative ones unsigned). */
  value: bigint;
}
export interface BtfEnum extends Named {
  kind: BtfKind.Enum | BtfKind.Enum64;
  size: number;
  signed: boolean;
  values: BtfEnumerator[];
}
export interface BtfFwd extends Named {
  kind: BtfKind.Fwd;
  union: boolean;
}
export interface BtfFunc extends Named {
  kind: BtfKind.Func;
  type: number;
  linkage: number;
}
export interface BtfParam {
  name: string;
  /** 0 for the `...` of a variadic function (last parameter). */
  type: number;
}
export interface BtfFuncProto extends Named {
  kind: BtfKind.FuncProto;
  /** The return type; 0 is void. */
  type: number;
  params: BtfParam[];
}
export interface BtfVar extends Named {
  kind: BtfKind.Var;
  type: number;
  linkage: number;
}
export interface BtfVarSecinfo {
  type: number;
  offset: number;
  size: number;
}
export interface BtfDatasec extends Named {
  kind: BtfKind.Datasec;
  /** 0 in an object's .BTF (libbpf fills sizes and offsets in at load); right in the kernel's. */
  size: number;
  vars: BtfVarSecinfo[];
}
export interface BtfFloat extends Named {
  kind: BtfKind.Float;
  size: number;
}
export interface BtfDeclTag extends Named {
  kind: BtfKind.DeclTag;
  type: number;
  /** -1: the tag is on `type` itself; else on its member or parameter of that index. */
  componentIdx: number;
}

export type BtfType =
  | BtfVoid
  | BtfInt
  | BtfRef
  | BtfArray
  | BtfComposite
  | BtfEnum
  | BtfFwd
  | BtfFunc
  | BtfFuncProto
  | BtfVar
  | BtfDatasec
  | BtfFloat
  | BtfDeclTag;

const BTF_MAGIC = 0xeb9f;
const HEADER_SIZE = 24;
/** Longest chain of type references accepted (the kernel's own limit is 32). */
export const MAX_DEPTH = 64;
/** The kernel refuses types larger than this. */
const MAX_SIZE = 0xffffffff;
/** typeName gives up on names longer than this (a damaged blob can make them exponential). */
const MAX_NAME_PARTS = 256;
const UTF8 = new TextDecoder();

/** A DfsError(BadRequest) about damaged BTF. */
export function damaged(message: string): DfsError {
  return new DfsError(ErrorCode.BadRequest, `damaged BTF: ${message}`);
}

const KIND_NAMES: Record<BtfKind, string> = {
  [BtfKind.Void]: 'void',
  [BtfKind.Int]: 'int',
  [BtfKind.Ptr]: 'pointer',
  [BtfKind.Array]: 'array',
  [BtfKind.Struct]: 'struct',
  [BtfKind.Union]: 'union',
  [BtfKind.Enum]: 'enum',
  [BtfKind.Fwd]: 'forward declaration',
  [BtfKind.Typedef]: 'typedef',
  [BtfKind.Volatile]: 'volatile',
  [BtfKind.Const]: 'const',
  [BtfKind.Restrict]: 'restrict',
  [BtfKind.Func]: 'function',
  [BtfKind.FuncProto]: 'function prototype',
  [BtfKind.Var]: 'variable',
  [BtfKind.Datasec]: 'data section',
  [BtfKind.Float]: 'float',
  [BtfKind.DeclTag]: 'decl tag',
  [BtfKind.TypeTag]: 'type tag',
  [BtfKind.Enum64]: 'enum64',
};

export function kindName(kind: BtfKind): string {
  return KIND_NAMES[kind];
}

/** Bytes after the 12-byte btf_type of each kind, or -1 for a kind this reader does not know. */
function extraBytes(kind: BtfKind, vlen: number): number {
  switch (kind) {
    case BtfKind.Int:
    case BtfKind.Var:
    case BtfKind.DeclTag:
      return 4;
    case BtfKind.Array:
      return 12;
    case BtfKind.Struct:
    case BtfKind.Union:
    case BtfKind.Datasec:
    case BtfKind.Enum64:
      return vlen * 12;
    case BtfKind.Enum:
    case BtfKind.FuncProto:
      return vlen * 8;
    case BtfKind.Ptr:
    case BtfKind.Fwd:
    case BtfKind.Typedef:
    case BtfKind.Volatile:
    case BtfKind.Const:
    case BtfKind.Restrict:
    case BtfKind.Func:
    case BtfKind.Float:
    case BtfKind.TypeTag:
      return 0;
    default:
      return -1;
  }
}

/** Kinds that only qualify another type: resolving strips them (and typedefs). */
function isModifier(kind: BtfKind): boolean {
  return (
    kind === BtfKind.Typedef ||
    kind === BtfKind.Volatile ||
    kind === BtfKind.Const ||
    kind === BtfKind.Restrict ||
    kind === BtfKind.TypeTag
  );
}

/**
 * References that make a type's bytes (sizes, codecs, shapes): through modifiers, arrays,
 * members, variables and section variables, never through a pointer (a struct may point at itself).
 */
function valueEdges(t: BtfType): number[] {
  switch (t.kind) {
    case BtfKind.Typedef:
    case BtfKind.Volatile:
    case BtfKind.Const:
    case BtfKind.Restrict:
    case BtfKind.TypeTag:
    case BtfKind.Var:
    case BtfKind.Array:
      return [t.type];
    case BtfKind.Struct:
    case BtfKind.Union:
      return t.members.map((m) => m.type);
    case BtfKind.Datasec:
      return t.vars.map((v) => v.type);
    default:
      return [];
  }
}

/** References that make a type's C spelling: a typedef, struct, union or enum is named, not expanded. */
function nameEdges(t: BtfType): number[] {
  switch (t.kind) {
    case BtfKind.Ptr:
    case BtfKind.Volatile:
    case BtfKind.Const:
    case BtfKind.Restrict:
    case BtfKind.TypeTag:
    case BtfKind.Var:
    case BtfKind.Func:
    case BtfKind.Array:
      return [t.type];
    case BtfKind.FuncProto:
      return [t.type, ...t.params.map((p) => p.type)];
    default:
      return [];
  }
}

/** Every type id a type mentions (all must exist). */
function allRefs(t: BtfType): number[] {
  switch (t.kind) {
    case BtfKind.Array:
      return [t.type, t.indexType];
    case BtfKind.DeclTag:
      return [t.type];
    default:
      return [...valueEdges(t), ...nameEdges(t)];
  }
}

function describeType(t: BtfType): string {
  return `type ${t.id} (${kindName(t.kind)}${t.name ? ` ${t.name}` : ''})`;
}

/**
 * Refuses loops and chains longer than MAX_DEPTH along `edges`, by an iterative depth-first
 * walk (a recursive one could overflow the stack on a long damaged chain).
 */
function checkChains(types: readonly BtfType[], edges: (t: BtfType) => number[], what: string): void {
  const count = types.length;
  const state = new Uint8Array(count); // 0 unseen, 1 on the walk, 2 done
  const depth = new Uint16Array(count);
  const stack: number[] = [];
  const frames: { edges: number[]; next: number }[] = [];
  const enter = (id: number): void => {
    state[id] = 1;
    stack.push(id);
    frames.push({ edges: edges(types[id] as BtfType), next: 0 });
  };
  for (let root = 1; root < count; root++) {
    if (state[root] !== 0) continue;
    enter(root);
    for (let frame = frames.at(-1); frame; frame = frames.at(-1)) {
      const to = frame.edges[frame.next++];
      if (to !== undefined) {
        if (to === 0) continue;
        if (state[to] === 1) {
          const loop = [...stack.slice(stack.indexOf(to)), to];
          throw damaged(`${describeType(types[to] as BtfType)} refers back to itself (${what}: ${loop.join(' → ')})`);
        }
        if (state[to] === 0) {
          if (stack.length >= MAX_DEPTH) {
            throw damaged(
              `types nest more than ${MAX_DEPTH} deep (${what}, from ${describeType(types[root] as BtfType)})`,
            );
          }
          enter(to);
        }
        continue;
      }
      const id = stack.pop() as number;
      frames.pop();
      let d = 0;
      for (const to2 of frame.edges) if (to2 !== 0) d = Math.max(d, (depth[to2] ?? 0) + 1);
      if (d > MAX_DEPTH) {
        throw damaged(`types nest more than ${MAX_DEPTH} deep (${what}, from ${describeType(types[id] as BtfType)})`);
      }
      depth[id] = d;
      state[id] = 2;
    }
  }
}

/** Parsed BTF: every type by id (0 is void), with names and sizes resolved. */
export class Btf {
  private readonly sizes: (number | null)[];
  private readonly names = new Map<number, string>();

  constructor(readonly types: readonly BtfType[]) {
    this.sizes = new Array<number | null>(types.length).fill(null);
    types.forEach((t, id) => {
      if (t.id !== id) throw damaged(`type ${id} says it is type ${t.id}`);
      for (const ref of allRefs(t)) {
        if (ref >= types.length)
          throw damaged(`${describeType(t)} refers to type ${ref}; the last is ${types.length - 1}`);
      }
    });
    checkChains(types, valueEdges, 'by value');
    checkChains(types, nameEdges, 'by name');
    // Chains are now acyclic and at most MAX_DEPTH long: the recursions below are bounded.
    for (let id = 1; id < types.length; id++) this.sizes[id] = this.computeSize(id);
    for (const t of types) if (t.kind === BtfKind.Struct || t.kind === BtfKind.Union) this.checkMembers(t);
  }

  /** Type ids are 0 (void) … count - 1. */
  get count(): number {
    return this.types.length;
  }

  /** The type of an id; a DfsError(BadRequest) when there is none. */
  type(id: number): BtfType {
    const t = Number.isInteger(id) ? this.types[id] : undefined;
    if (!t) throw new DfsError(ErrorCode.BadRequest, `BTF has no type ${id} (it has ${this.types.length - 1})`);
    return t;
  }

  /** The id with typedefs, const, volatile, restrict and type tags stripped. */
  resolve(id: number): number {
    let t = this.type(id);
    while (isModifier(t.kind)) t = this.type((t as BtfRef).type);
    return t.id;
  }

  /** The first type of this name (and kind), if any: `find('fx_record', BtfKind.Struct)`. */
  find(name: string, kind?: BtfKind): number | undefined {
    return this.types.find((t) => t.name === name && (kind === undefined || t.kind === kind))?.id;
  }

  /** Size in bytes of a type's value; a DfsError(BadRequest) for void, functions, forward declarations, tags. */
  sizeOf(id: number): number {
    const size = this.sizes[this.type(id).id];
    if (size === null || size === undefined) {
      throw new DfsError(ErrorCode.BadRequest, `${this.typeName(id)} has no size (a ${kindName(this.type(id).kind)})`);
    }
    return size;
  }

  /** Whether a type has bytes (sizeOf succeeds). */
  hasSize(id: number): boolean {
    return (this.sizes[id] ?? null) !== null;
  }

  /** The C spelling of a type: "struct fx_record", "__u32", "__u64[2][3]", "int (*)(void *)". */
  typeName(id: number): string {
    const cached = this.names.get(id);
    if (cached !== undefined) return cached;
    const budget = { parts: MAX_NAME_PARTS };
    const name = this.declarator(this.type(id).id, '', budget);
    this.names.set(id, name);
    return name;
  }

  private computeSize(id: number): number | null {
    const t = this.types[id];
    if (!t) return null;
    const known = this.sizes[id];
    if (known !== null && known !== undefined) return known;
    let size: number | null;
    switch (t.kind) {
      case BtfKind.Int:
      case BtfKind.Struct:
      case BtfKind.Union:
      case BtfKind.Enum:
      case BtfKind.Enum64:
      case BtfKind.Float:
      case BtfKind.Datasec:
        size = t.size;
        break;
      case BtfKind.Ptr:
        size = 8; // BPF is 64-bit
        break;
      case BtfKind.Typedef:
      case BtfKind.Volatile:
      case BtfKind.Const:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
      case BtfKind.Var:
        size = t.type === 0 ? null : this.computeSize(t.type);
        break;
      case BtfKind.Array: {
        const elem = t.type === 0 ? null : this.computeSize(t.type);
        if (elem === null)
          throw damaged(`${describeType(t)} has elements of ${this.typeName(t.type)}, which has no size`);
        size = elem * t.length;
        if (size > MAX_SIZE) throw damaged(`${describeType(t)} is ${t.length} × ${elem} bytes, over 4 GiB`);
        break;
      }
      default:
        size = null;
    }
    this.sizes[id] = size;
    return size;
  }

  private checkMembers(t: BtfComposite): void {
    let last = 0;
    for (const m of t.members) {
      const where = `${describeType(t)}: member ${m.name || '(anon)'}`;
      if (m.type === 0) throw damaged(`${where} is void`);
      // As the kernel checks: struct members come in layout order (an encoder writes them in turn).
      if (t.kind === BtfKind.Struct && m.bitOffset < last) {
        throw damaged(`${where} at bit ${m.bitOffset} comes before the member before it (bit ${last})`);
      }
      last = m.bitOffset;
      // An old-style bitfield (no kind_flag) is an int type narrower than its bytes.
      const int = this.types[this.resolve(m.type)];
      const bits =
        m.bitSize > 0
          ? m.bitSize
          : int?.kind === BtfKind.Int
            ? int.bitOffset + int.bits
            : (this.sizes[m.type] ?? 0) * 8;
      if (m.bitOffset + bits > t.size * 8) {
        throw damaged(`${where} (${bits} bits at bit ${m.bitOffset}) lies outside its ${t.size} bytes`);
      }
    }
  }

  /** C declarator: `inner` is what the type applies to ("*", "[3]", a name, or ''). */
  private declarator(id: number, inner: string, budget: { parts: number }): string {
    if (--budget.parts < 0) return `… ${inner}`.trimEnd();
    const t = this.types[id];
    const withBase = (base: string): string =>
      inner === '' ? base : inner.startsWith('[') ? `${base}${inner}` : `${base} ${inner}`;
    if (!t) return withBase(`<type ${id}>`);
    switch (t.kind) {
      case BtfKind.Void:
        return withBase('void');
      case BtfKind.Int:
      case BtfKind.Float:
      case BtfKind.Typedef:
        return withBase(t.name || '(anon)');
      case BtfKind.Struct:
        return withBase(`struct ${t.name || '(anon)'}`);
      case BtfKind.Union:
        return withBase(`union ${t.name || '(anon)'}`);
      case BtfKind.Enum:
      case BtfKind.Enum64:
        return withBase(`enum ${t.name || '(anon)'}`);
      case BtfKind.Fwd:
        return withBase(`${t.union ? 'union' : 'struct'} ${t.name || '(anon)'}`);
      case BtfKind.Ptr: {
        const target = this.types[t.type];
        const wrap = target && (target.kind === BtfKind.Array || target.kind === BtfKind.FuncProto);
        return this.declarator(t.type, wrap ? `(*${inner})` : `*${inner}`, budget);
      }
      case BtfKind.Const:
      case BtfKind.Volatile:
      case BtfKind.Restrict: {
        const q = t.kind === BtfKind.Const ? 'const' : t.kind === BtfKind.Volatile ? 'volatile' : 'restrict';
        const target = this.types[t.type];
        // After a pointer the qualifier follows the star ("char * const"); else it leads ("const char").
        if (target?.kind === BtfKind.Ptr) return this.declarator(t.type, inner === '' ? q : `${q} ${inner}`, budget);
        return `${q} ${this.declarator(t.type, inner, budget)}`;
      }
      case BtfKind.TypeTag:
        return this.declarator(t.type, inner, budget); // an annotation, not part of the C type
      case BtfKind.Array:
        return this.declarator(t.type, `${inner}[${t.length}]`, budget);
      case BtfKind.FuncProto: {
        const params = t.params.map((p) => (p.type === 0 ? '...' : this.declarator(p.type, '', budget)));
        return this.declarator(t.type, `${inner}(${params.length ? params.join(', ') : 'void'})`, budget);
      }
      case BtfKind.Func:
        return this.declarator(t.type, t.name, budget);
      case BtfKind.Var:
        return this.declarator(t.type, t.name, budget);
      case BtfKind.Datasec:
        return `SEC("${t.name}")`;
      case BtfKind.DeclTag:
        return `__attribute__((btf_decl_tag("${t.name}")))`;
    }
  }
}

/** Reads the records of one type section; `at` only moves forward, by at least 12 bytes. */
class Reader {
  private readonly view: DataView;
  private readonly names = new Map<number, string>();

  constructor(
    private readonly raw: Uint8Array,
    private readonly strings: { start: number; end: number },
  ) {
    this.view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  }

  u32(at: number): number {
    return this.view.getUint32(at, true);
  }
  i32(at: number): number {
    return this.view.getInt32(at, true);
  }

  /** The string at `off` of the string section (which ends in a NUL, so the scan is bounded). */
  name(off: number, where: string): string {
    const cached = this.names.get(off);
    if (cached !== undefined) return cached;
    const at = this.strings.start + off;
    if (off >= this.strings.end - this.strings.start) {
      throw damaged(
        `${where} names string ${off}, past the ${this.strings.end - this.strings.start}-byte string section`,
      );
    }
    const end = this.raw.indexOf(0, at);
    const s = UTF8.decode(this.raw.subarray(at, end));
    this.names.set(off, s);
    return s;
  }
}

function u32At(raw: Uint8Array, at: number): number {
  return ((raw[at] ?? 0) | ((raw[at + 1] ?? 0) << 8) | ((raw[at + 2] ?? 0) << 16) | ((raw[at + 3] ?? 0) << 24)) >>> 0;
}

/** Parses a standalone little-endian BTF blob; a DfsError(BadRequest) saying what is wrong when damaged. */
export function parseBtf(raw: Uint8Array): Btf {
  if (raw.length < HEADER_SIZE) throw damaged(`${raw.length} bytes, shorter than the ${HEADER_SIZE}-byte header`);
  const magic = (raw[0] ?? 0) | ((raw[1] ?? 0) << 8);
  if (magic === 0x9feb) throw damaged('big-endian BTF (magic 0xeb9f byte-swapped): only little-endian BTF is read');
  if (magic !== BTF_MAGIC) throw damaged(`bad magic 0x${magic.toString(16).padStart(4, '0')} (expected 0xeb9f)`);
  if (raw[2] !== 1) throw damaged(`version ${raw[2]} (only version 1 exists)`);
  const hdrLen = u32At(raw, 4);
  const [typeOff, typeLen, strOff, strLen] = [8, 12, 16, 20].map((at) => u32At(raw, at)) as [
    number,
    number,
    number,
    number,
  ];
  if (hdrLen < HEADER_SIZE || hdrLen > raw.length) {
    throw damaged(`header length ${hdrLen} (must be ${HEADER_SIZE}..${raw.length}, the blob's size)`);
  }
  const data = raw.length - hdrLen;
  const section = (name: string, off: number, len: number): { start: number; end: number } => {
    if (off + len > data)
      throw damaged(`${name} section (${len} bytes at ${off}) runs past the ${data} bytes after the header`);
    return { start: hdrLen + off, end: hdrLen + off + len };
  };
  const typesAt = section('type', typeOff, typeLen);
  const strings = section('string', strOff, strLen);
  if (typesAt.start < strings.end && strings.start < typesAt.end) throw damaged('the type and string sections overlap');
  if (typeOff % 4 !== 0) throw damaged(`type section at ${typeOff}, not 4-byte aligned`);
  if (strLen === 0 || raw[strings.start] !== 0 || raw[strings.end - 1] !== 0) {
    throw damaged('the string section must start and end with a NUL');
  }

  const r = new Reader(raw, strings);
  const types: BtfType[] = [{ kind: BtfKind.Void, id: 0, name: '' }];
  for (let at = typesAt.start; at < typesAt.end;) {
    const id = types.length;
    if (typesAt.end - at < 12)
      throw damaged(`type ${id} at byte ${at - typesAt.start} is cut off (${typesAt.end - at} bytes left)`);
    const info = r.u32(at + 4);
    const kind = ((info >>> 24) & 0x1f) as BtfKind;
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    if ((info & 0x60ff0000) !== 0) throw damaged(`type ${id} has unused info bits set (0x${info.toString(16)})`);
    const extra = extraBytes(kind, vlen);
    if (extra < 0) throw damaged(`type ${id} has unknown kind ${kind}`);
    const end = at + 12 + extra;
    if (end > typesAt.end) {
      throw damaged(
        `type ${id} (${kindName(kind)}, ${vlen} entries) runs ${end - typesAt.end} bytes past the type section`,
      );
    }
    const where = `type ${id} (${kindName(kind)})`;
    const name = r.name(r.u32(at), where);
    const sizeOrType = r.u32(at + 8);
    const body = at + 12;
    types.push(readType(r, { id, kind, vlen, kflag, name, sizeOrType, body, where }));
    at = end;
  }
  return new Btf(types);
}

interface RawType {
  id: number;
  kind: BtfKind;
  vlen: number;
  kflag: boolean;
  name: string;
  sizeOrType: number;
  body: number;
  where: string;
}

function readType(r: Reader, x: RawType): BtfType {
  const { id, name, sizeOrType, body, vlen, kflag, where } = x;
  const requireSize = (ok: boolean): number => {
    if (!ok) throw damaged(`${where} has size ${sizeOrType}`);
    return sizeOrType;
  };
  switch (x.kind) {
    case BtfKind.Int: {
      const v = r.u32(body);
      const encoding = v >>> 24;
      const bitOffset = (v >>> 16) & 0xff;
      const bits = v & 0xff;
      const size = requireSize([1, 2, 4, 8, 16].includes(sizeOrType));
      if ((v & 0x0000ff00) !== 0 || encoding & ~0x7 || [3, 5, 6, 7].includes(encoding)) {
        throw damaged(`${where} has a bad encoding word 0x${v.toString(16)}`);
      }
      if (bits === 0 || bits > 128 || bitOffset + bits > size * 8) {
        throw damaged(`${where} has ${bits} bits at bit ${bitOffset} in ${size} bytes`);
      }
      return {
        kind: BtfKind.Int,
        id,
        name,
        size,
        bits,
        bitOffset,
        signed: (encoding & 1) !== 0,
        char: (encoding & 2) !== 0,
        bool: (encoding & 4) !== 0,
      };
    }
    case BtfKind.Ptr:
    case BtfKind.Typedef:
    case BtfKind.Volatile:
    case BtfKind.Const:
    case BtfKind.Restrict:
    case BtfKind.TypeTag:
      return { kind: x.kind, id, name, type: sizeOrType };
    case BtfKind.Array: {
      const length = r.u32(body + 8);
      return { kind: BtfKind.Array, id, name, type: r.u32(body), indexType: r.u32(body + 4), length };
    }
    case BtfKind.Struct:
    case BtfKind.Union: {
      const members: BtfMember[] = [];
      for (let i = 0, at = body; i < vlen; i++, at += 12) {
        const offset = r.u32(at + 8);
        members.push({
          name: r.name(r.u32(at), `${where} member ${i}`),
          type: r.u32(at + 4),
          bitOffset: kflag ? offset & 0xffffff : offset,
          bitSize: kflag ? offset >>> 24 : 0,
        });
      }
      return { kind: x.kind, id, name, size: sizeOrType, members };
    }
    case BtfKind.Enum:
    case BtfKind.Enum64: {
      const size = requireSize([1, 2, 4, 8].includes(sizeOrType));
      const values: BtfEnumerator[] = [];
      const wide = x.kind === BtfKind.Enum64;
      for (let i = 0, at = body; i < vlen; i++, at += wide ? 12 : 8) {
        let value: bigint;
        if (wide) {
          const raw = (BigInt(r.u32(at + 8)) << 32n) | BigInt(r.u32(at + 4));
          value = kflag ? BigInt.asIntN(64, raw) : raw;
        } else value = BigInt(kflag ? r.i32(at + 4) : r.u32(at + 4));
        values.push({ name: r.name(r.u32(at), `${where} enumerator ${i}`), value });
      }
      return { kind: x.kind, id, name, size, signed: kflag, values };
    }
    case BtfKind.Fwd:
      return { kind: BtfKind.Fwd, id, name, union: kflag };
    case BtfKind.Func:
      return { kind: BtfKind.Func, id, name, type: sizeOrType, linkage: vlen };
    case BtfKind.FuncProto: {
      const params: BtfParam[] = [];
      for (let i = 0, at = body; i < vlen; i++, at += 8) {
        params.push({ name: r.name(r.u32(at), `${where} parameter ${i}`), type: r.u32(at + 4) });
      }
      return { kind: BtfKind.FuncProto, id, name, type: sizeOrType, params };
    }
    case BtfKind.Var:
      return { kind: BtfKind.Var, id, name, type: sizeOrType, linkage: r.u32(body) };
    case BtfKind.Datasec: {
      const vars: BtfVarSecinfo[] = [];
      for (let i = 0, at = body; i < vlen; i++, at += 12) {
        vars.push({ type: r.u32(at), offset: r.u32(at + 4), size: r.u32(at + 8) });
      }
      return { kind: BtfKind.Datasec, id, name, size: sizeOrType, vars };
    }
    case BtfKind.Float:
      return { kind: BtfKind.Float, id, name, size: requireSize([2, 4, 8, 12, 16].includes(sizeOrType)) };
    case BtfKind.DeclTag:
      return { kind: BtfKind.DeclTag, id, name, type: sizeOrType, componentIdx: r.i32(body) };
    case BtfKind.Void:
      throw damaged(`${where}: kind 0 is not a type`);
  }
}
