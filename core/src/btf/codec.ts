/**
 * Map keys and values ⇄ JSON through BTF, in pure TypeScript (no Node, no DOM, no vscode).
 * `codecFor(btf, id)` compiles a type once into closures (one per field, shared by every type
 * that uses it), so decoding 100,000 entries is a loop over closures, not a walk of the BTF.
 *
 * Decoded JSON follows `bpftool map dump -j`'s "formatted" field, with these exceptions, each
 * because JSON has to survive a round trip through JavaScript:
 * - Integers that fit a JS safe integer (|n| ≤ 2^53 - 1) are numbers; wider ones (64- and
 *   128-bit) are decimal strings. bpftool prints every integer as a bare JSON number (even
 *   2^64 - 1, which JSON.parse rounds) and 128-bit ones as "0x…" strings.
 * - Bitfields are their value, sign-extended when the field's integer type is signed.
 *   bpftool prints bitfields as "0x…" strings of the raw bits. A bitfield of an enum type shows
 *   the enumerator's name, like a whole enum, else its bits unsigned (bpftool: raw bits).
 * - A second, third… anonymous member of one struct is keyed "(anon 2)", "(anon 3)"…: bpftool
 *   keys every anonymous member "" (the first one is "" here too), and JSON keeps only one of
 *   equal keys. Two members of the same name (damaged BTF) are keyed "x (2)"….
 * - Floats are numbers (NaN and the infinities as the strings "NaN", "Infinity", "-Infinity");
 *   bpftool does not print floats at all. Floats other than 4 or 8 bytes are "0x…" strings of
 *   their bits, and cannot be written.
 * - A DATASEC (.bss, .data, .rodata maps) is an object of its variables by name; bpftool
 *   prints `{".bss": [{"var": value}, …]}`.
 * As bpftool does: structs and unions are objects of every member, in order (a union shows
 * each member decoded from the same bytes); arrays are arrays; a `char` array (element `char`
 * or of char encoding, through const/volatile but not typedefs) is a string when its bytes up to
 * a NUL are printable ASCII (0x20–0x7e), else an array of numbers; an enum is the name of the
 * first enumerator with its value, else the number, read as signed (bpftool ignores the BTF's
 * signedness, which clang < 15 does not record); `_Bool` is true/false; a char-encoded integer
 * is a one-character string; pointers are their value as an unsigned integer.
 *
 * Encoding takes that JSON back (decode → encode → decode is the identity), and for integers
 * also numbers, decimal strings and "0x…" strings, enums by name or number, char arrays from a
 * string. It refuses, with a DfsError(BadRequest) whose message starts with the exact path of
 * the field ("value.peer.port: …"), any wrong JSON type, value out of range for the field's
 * width and signedness, unknown or missing field, array of the wrong length, unknown
 * enumerator, union whose members disagree (a decoded union gives every member; they must all
 * say the same bytes, which one member alone always does), and pointers. Nothing is returned
 * on error: encode fills a new buffer and hands it over only when every field was written.
 */

import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import {
  BtfKind,
  type Btf,
  kindName,
  type BtfArray,
  type BtfComposite,
  type BtfDatasec,
  type BtfEnum,
  type BtfInt,
  type BtfMember,
} from './parse';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface Codec {
  readonly typeId: number;
  /** C spelling of the type, for messages and headers. */
  readonly typeName: string;
  /** Bytes one value takes. */
  readonly size: number;
  /** The value at `offset` of `bytes` as JSON (see the header for the conventions). */
  decode(bytes: Uint8Array, offset?: number): JsonValue;
  /** A new buffer of `size` bytes holding `value`; `path` labels errors ("value", "key"). */
  encode(value: unknown, path: string): Uint8Array;
}

/** Most JSON values one decode may make (only arrays of zero-size elements come near it). */
export const MAX_VALUES = 1 << 24;

type IntValue = number | bigint;

interface Node {
  readonly size: number;
  /** JSON values one read makes (saturates above MAX_VALUES). */
  readonly values: number;
  read(b: Uint8Array, at: number): JsonValue;
  /** Writes `v` at `at` of `b` (a new, zeroed buffer), or throws a DfsError naming `path`. */
  write(v: unknown, b: Uint8Array, at: number, path: string): void;
}

const TWO32 = 4294967296;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const UTF8 = new TextDecoder();

function refuse(path: string, problem: string): DfsError {
  return new DfsError(ErrorCode.BadRequest, `${path}: ${problem}`);
}

/** `path.key`, or `path["key"]` when the key is not an identifier; `path[i]` for an index. */
export function joinPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (/^[A-Za-z_$][\w$]*$/.test(key)) return path === '' ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key)}]`;
}

/**
 * The JSON keys of members (or section variables): their names, "" for the first anonymous
 * one, "(anon 2)"… for later ones, "x (2)"… for a repeated name.
 */
export function fieldKeys(names: readonly string[]): string[] {
  const used = new Set<string>();
  let anon = 0;
  return names.map((name) => {
    let key = name;
    if (name === '') key = ++anon === 1 ? '' : `(anon ${anon})`;
    for (let n = 2; used.has(key); n++) key = `${name || '(anon)'} (${n})`;
    used.add(key);
    return key;
  });
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
    case 'number':
    case 'boolean':
      return String(v);
    case 'undefined':
      return 'nothing';
    case 'object':
      return 'an object';
    default:
      return `a ${typeof v}`;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (Array.isArray(a))
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i] as JsonValue));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return (
      ka.length === Object.keys(b).length &&
      ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k] as JsonValue, b[k] as JsonValue))
    );
  }
  return false;
}

/** "an 11-bit", "a 32-bit": the article as the number is spoken. */
function bitsLabel(bits: number): string {
  const an = bits === 8 || bits === 11 || bits === 18 || (bits >= 80 && bits <= 89);
  return `${an ? 'an' : 'a'} ${bits}-bit`;
}

// ---- integers ----

function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** `n` little-endian bytes as an unsigned bigint. */
function readBig(b: Uint8Array, at: number, n: number): bigint {
  let x = 0n;
  for (let i = n - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[at + i]!);
  return x;
}

function writeBig(b: Uint8Array, at: number, n: number, x: bigint): void {
  let u = BigInt.asUintN(n * 8, x);
  for (let i = 0; i < n; i++, u >>= 8n) b[at + i] = Number(u & 0xffn);
}

/** A number when safe, else a decimal string (JSON has no integers beyond 2^53). */
function intJson(x: IntValue): number | string {
  if (typeof x === 'number') return x;
  return x <= BigInt(MAX_SAFE) && x >= -BigInt(MAX_SAFE) ? Number(x) : x.toString();
}

/** bigint → number when safe (for Map keys and comparisons). */
function narrow(x: bigint): IntValue {
  return x <= BigInt(MAX_SAFE) && x >= -BigInt(MAX_SAFE) ? Number(x) : x;
}

type IntReader = (b: Uint8Array, at: number) => IntValue;

function u64(b: Uint8Array, at: number): IntValue {
  const lo = u32(b, at);
  const hi = u32(b, at + 4);
  const v = hi * TWO32 + lo; // exact whenever the result is ≤ 2^53 - 1; over it, so is the rounding
  return v <= MAX_SAFE ? v : (BigInt(hi) << 32n) | BigInt(lo);
}

function s64(b: Uint8Array, at: number): IntValue {
  const lo = u32(b, at);
  const hi = u32(b, at + 4) | 0;
  const v = hi * TWO32 + lo;
  return v <= MAX_SAFE && v >= -MAX_SAFE ? v : BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo));
}

/** Reader of a whole, byte-sized little-endian integer. */
function wholeInt(size: number, signed: boolean): IntReader {
  switch (size) {
    case 1:
      return signed ? (b, at) => (b[at]! << 24) >> 24 : (b, at) => b[at]!;
    case 2:
      return signed ? (b, at) => ((b[at]! | (b[at + 1]! << 8)) << 16) >> 16 : (b, at) => b[at]! | (b[at + 1]! << 8);
    case 4:
      return signed ? (b, at) => u32(b, at) | 0 : u32;
    case 8:
      return signed ? s64 : u64;
    default:
      return signed
        ? (b, at) => narrow(BigInt.asIntN(size * 8, readBig(b, at, size)))
        : (b, at) => narrow(readBig(b, at, size));
  }
}

/** Reader of `width` bits at bit `shift` of byte `byte` (shift < 8). */
function bitsReader(byte: number, shift: number, width: number, signed: boolean): IntReader {
  const span = Math.ceil((shift + width) / 8);
  if (span <= 6) {
    // Fewer than 2^48: exact in doubles, no bigint.
    const div = 2 ** shift;
    const mod = 2 ** width;
    const half = 2 ** (width - 1);
    return (b, at) => {
      let raw = 0;
      for (let i = at + byte + span - 1; i >= at + byte; i--) raw = raw * 256 + b[i]!;
      const v = Math.floor(raw / div) % mod;
      return signed && v >= half ? v - mod : v;
    };
  }
  return (b, at) => {
    const v = BigInt.asUintN(width, readBig(b, at + byte, span) >> BigInt(shift));
    return narrow(signed ? BigInt.asIntN(width, v) : v);
  };
}

function writeBits(b: Uint8Array, at: number, shift: number, width: number, x: bigint): void {
  const span = Math.ceil((shift + width) / 8);
  const mask = ((1n << BigInt(width)) - 1n) << BigInt(shift);
  const word = (readBig(b, at, span) & ~mask) | ((BigInt.asUintN(width, x) << BigInt(shift)) & mask);
  writeBig(b, at, span, word);
}

const INTEGER_STRING = /^-?(?:0[xX][0-9a-fA-F]+|[0-9]+)$/;
const INTEGER_FORMS = 'a number, a decimal string or a "0x…" string';

/** An integer from JSON: a safe integer number, a decimal string, or a (signed) 0x… string. */
function parseInteger(v: unknown, path: string, what: string): bigint {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw refuse(path, `${v} is not an integer (${what})`);
    if (!Number.isSafeInteger(v)) {
      throw refuse(path, `${v} is beyond 2^53 and may have lost digits as a JSON number; give it as a decimal string`);
    }
    return BigInt(v);
  }
  if (typeof v === 'string') {
    const m = /^(-?)(?:0[xX]([0-9a-fA-F]{1,40})|([0-9]{1,45}))$/.exec(v);
    if (m) {
      const magnitude = m[2] !== undefined ? BigInt(`0x${m[2]}`) : BigInt(m[3] as string);
      return m[1] ? -magnitude : magnitude;
    }
    throw refuse(path, `${describe(v)} is not an integer (${what}: ${INTEGER_FORMS})`);
  }
  throw refuse(path, `expected an integer for ${what} (${INTEGER_FORMS}), got ${describe(v)}`);
}

function checkFit(x: bigint, bits: number, signed: boolean, path: string, label: string): void {
  const min = signed ? -(1n << BigInt(bits - 1)) : 0n;
  const max = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  if (x < min || x > max) throw refuse(path, `${x} does not fit ${label} (${min}..${max})`);
}

function intLabel(bits: number, signed: boolean, bitfield: boolean): string {
  return `${bitsLabel(bits)} ${signed ? 'signed' : 'unsigned'} ${bitfield ? 'bitfield' : 'integer'}`;
}

/** Where an integer lives: whole bytes at the node's start, or a bit range from it. */
interface IntPlace {
  size: number;
  byte: number;
  shift: number;
  width: number;
  whole: boolean;
}

function wholePlace(size: number): IntPlace {
  return { size, byte: 0, shift: 0, width: size * 8, whole: true };
}

function bitPlace(size: number, bitOffset: number, width: number): IntPlace {
  return { size, byte: bitOffset >> 3, shift: bitOffset & 7, width, whole: false };
}

function placeReader(p: IntPlace, signed: boolean): IntReader {
  return p.whole ? wholeInt(p.size, signed) : bitsReader(p.byte, p.shift, p.width, signed);
}

function placeWrite(p: IntPlace, b: Uint8Array, at: number, x: bigint): void {
  if (p.whole) writeBig(b, at, p.size, x);
  else writeBits(b, at + p.byte, p.shift, p.width, x);
}

function intNode(t: BtfInt, p: IntPlace): Node {
  if (t.bool) {
    const read = placeReader(p, false);
    return {
      size: p.size,
      values: 1,
      read: (b, at) => Number(read(b, at)) !== 0,
      write(v, b, at, path) {
        if (v !== true && v !== false && v !== 0 && v !== 1)
          throw refuse(path, `expected true or false for ${t.name}, got ${describe(v)}`);
        placeWrite(p, b, at, v === true || v === 1 ? 1n : 0n);
      },
    };
  }
  if (t.char && p.whole && p.size === 1) {
    return {
      size: 1,
      values: 1,
      read: (b, at) => String.fromCharCode(b[at]!),
      write(v, b, at, path) {
        if (typeof v === 'string' && v.length === 1 && v.charCodeAt(0) <= 0xff) b[at] = v.charCodeAt(0);
        else if (typeof v === 'string' && !INTEGER_STRING.test(v)) {
          throw refuse(path, `${describe(v)} is not one character of code 0–255 (${t.name})`);
        } else {
          const x = parseInteger(v, path, t.name);
          if (x < -128n || x > 255n) throw refuse(path, `${x} does not fit a char (-128..255)`);
          b[at] = Number(BigInt.asUintN(8, x));
        }
      },
    };
  }
  const read = placeReader(p, t.signed);
  const label = intLabel(p.width, t.signed, !p.whole);
  return {
    size: p.size,
    values: 1,
    read: p.whole && p.size <= 4 ? (read as (b: Uint8Array, at: number) => number) : (b, at) => intJson(read(b, at)),
    write(v, b, at, path) {
      const x = parseInteger(v, path, label);
      checkFit(x, p.width, t.signed, path, label);
      placeWrite(p, b, at, x);
    },
  };
}

function enumNode(t: BtfEnum, p: IntPlace, name: string): Node {
  // Whole enums read signed, as bpftool does; bitfields compare their raw bits and show them unsigned.
  const read = placeReader(p, p.whole);
  const norm = (x: bigint): IntValue => narrow(p.whole ? BigInt.asIntN(p.width, x) : BigInt.asUintN(p.width, x));
  const byValue = new Map<IntValue, string>();
  const byName = new Map<string, bigint>();
  for (const e of t.values) {
    const k = norm(e.value);
    if (!byValue.has(k)) byValue.set(k, e.name);
    if (!byName.has(e.name)) byName.set(e.name, e.value);
  }
  const label = `${name} (${p.whole ? `${p.size} bytes` : `${p.width}-bit bitfield`})`;
  const min = -(1n << BigInt(p.width - 1));
  const max = (1n << BigInt(p.width)) - 1n;
  return {
    size: p.size,
    values: 1,
    read(b, at) {
      const v = read(b, at);
      return byValue.get(v) ?? intJson(v);
    },
    write(v, b, at, path) {
      let x: bigint;
      const named = typeof v === 'string' ? byName.get(v) : undefined;
      if (named !== undefined)
        x = BigInt.asIntN(t.size * 8, named); // clang < 15 records -2 as 4294967294
      else if (typeof v === 'string' && !INTEGER_STRING.test(v)) {
        const names = [...byName.keys()];
        const list = names.length > 12 ? `${names.slice(0, 12).join(', ')}, …` : names.join(', ');
        throw refuse(path, `unknown enumerator ${describe(v)} of ${name} (${list || 'it has none'})`);
      } else x = parseInteger(v, path, name);
      if (BigInt.asIntN(p.width, x) !== x && BigInt.asUintN(p.width, x) !== x) {
        throw refuse(path, `${x} does not fit ${label} (${min}..${max})`);
      }
      placeWrite(p, b, at, x);
    },
  };
}

// ---- the compiler ----

interface Field {
  key: string;
  byte: number;
  node: Node;
  /** Bits of the value this field covers (for union members that overlap). */
  bits: number;
}

function saturate(n: number): number {
  return Math.min(n, MAX_VALUES + 1);
}

/** Fields as an object, in order; `what` is "field" or "variable", `owner` the type's name. */
function objectNode(size: number, fields: Field[], owner: string, what: string, union: boolean): Node {
  const keys = new Map(fields.map((f) => [f.key, f]));
  const values = saturate(1 + fields.reduce((n, f) => n + f.node.values, 0));
  const proto = keys.has('__proto__');
  const list = (ks: string[]): string => ks.map((k) => (k === '' ? '""' : k)).join(', ');
  const readObject = (b: Uint8Array, at: number): JsonValue => {
    const o: { [key: string]: JsonValue } = {};
    for (const f of fields) {
      if (proto && f.key === '__proto__') {
        Object.defineProperty(o, f.key, {
          value: f.node.read(b, at + f.byte),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else o[f.key] = f.node.read(b, at + f.byte);
    }
    return o;
  };
  const check = (v: unknown, path: string): Field[] => {
    if (!isObject(v)) throw refuse(path, `expected an object (${owner}), got ${describe(v)}`);
    const unknown = Object.keys(v).filter((k) => !keys.has(k));
    const given = fields.filter((f) => Object.hasOwn(v, f.key));
    const problems: string[] = [];
    if (unknown.length) {
      problems.push(
        `unknown ${what}${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')}`,
      );
    }
    if (!union && given.length < fields.length) {
      const missing = fields.filter((f) => !Object.hasOwn(v, f.key)).map((f) => f.key);
      problems.push(`missing ${what}${missing.length > 1 ? 's' : ''} ${list(missing)}`);
    }
    if (union && given.length === 0 && !unknown.length) problems.push('give one member');
    if (problems.length)
      throw refuse(path, `${problems.join('; ')} of ${owner} (its ${what}s: ${list([...keys.keys()]) || 'none'})`);
    return given;
  };
  if (!union) {
    return {
      size,
      values,
      read: readObject,
      write(v, b, at, path) {
        check(v, path);
        const o = v as Record<string, unknown>;
        for (const f of fields) f.node.write(o[f.key], b, at + f.byte, joinPath(path, f.key));
      },
    };
  }
  return {
    size,
    values,
    read: readObject,
    write(v, b, at, path) {
      const given = check(v, path);
      const o = v as Record<string, unknown>;
      // The widest given member makes the bytes; every other one given must read back as given.
      const first = given.reduce((w, f) => (f.bits > w.bits ? f : w));
      first.node.write(o[first.key], b, at + first.byte, joinPath(path, first.key));
      for (const f of given) {
        if (f === first) continue;
        const alone = new Uint8Array(size);
        f.node.write(o[f.key], alone, f.byte, joinPath(path, f.key));
        if (!jsonEqual(f.node.read(alone, f.byte), f.node.read(b, at + f.byte))) {
          throw refuse(
            path,
            `members ${list([first.key])} and ${list([f.key])} of ${owner} disagree: a union holds one value, give one member`,
          );
        }
      }
    },
  };
}

/** Compiles types to nodes, each once (a type used by many fields shares its node). */
class Compiler {
  private readonly memo = new Map<number, Node>();

  constructor(private readonly btf: Btf) {}

  node(id: number): Node {
    const known = this.memo.get(id);
    if (known) return known;
    const node = this.compile(id);
    this.memo.set(id, node);
    return node;
  }

  private compile(id: number): Node {
    const t = this.btf.type(id);
    const name = this.btf.typeName(id);
    switch (t.kind) {
      case BtfKind.Typedef:
      case BtfKind.Volatile:
      case BtfKind.Const:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
      case BtfKind.Var:
        if (t.type === 0) throw noBytes(name, 'void');
        return this.node(t.type);
      case BtfKind.Int:
        return intNode(
          t,
          t.bits === t.size * 8 && t.bitOffset === 0 ? wholePlace(t.size) : bitPlace(t.size, t.bitOffset, t.bits),
        );
      case BtfKind.Enum:
      case BtfKind.Enum64:
        return enumNode(t, wholePlace(t.size), name);
      case BtfKind.Ptr:
        return pointerNode(name);
      case BtfKind.Float:
        return floatNode(t.size, name);
      case BtfKind.Array:
        return this.array(t, name);
      case BtfKind.Struct:
      case BtfKind.Union:
        return this.composite(t, name);
      case BtfKind.Datasec:
        return this.datasec(t, name);
      case BtfKind.Void:
      case BtfKind.Fwd:
      case BtfKind.Func:
      case BtfKind.FuncProto:
      case BtfKind.DeclTag:
        throw noBytes(name, kindName(t.kind));
    }
  }

  private array(t: BtfArray, name: string): Node {
    const elem = this.node(t.type);
    const n = t.length;
    const stride = elem.size;
    const chars = this.isCharElement(t.type);
    const readArray = (b: Uint8Array, at: number): JsonValue => {
      const out = new Array<JsonValue>(n);
      for (let i = 0; i < n; i++) out[i] = elem.read(b, at + i * stride);
      return out;
    };
    return {
      size: n * stride,
      values: saturate(1 + n * elem.values),
      read: chars
        ? (b, at) => {
            let i = 0;
            for (; i < n; i++) {
              const c = b[at + i]!;
              if (c === 0) return asciiString(b, at, i);
              if (c < 0x20 || c >= 0x7f) break;
            }
            return readArray(b, at); // not NUL-terminated printable text: the numbers
          }
        : readArray,
      write(v, b, at, path) {
        if (chars && typeof v === 'string') return writeChars(v, n, b, at, path, name);
        if (!Array.isArray(v)) {
          throw refuse(path, `expected an array of ${n}${chars ? ' or a string' : ''} (${name}), got ${describe(v)}`);
        }
        if (v.length !== n) throw refuse(path, `expected ${n} elements (${name}), got ${v.length}`);
        v.forEach((x, i) => elem.write(x, b, at + i * stride, `${path}[${i}]`));
      },
    };
  }

  /** bpftool's rule: the element, through const/volatile/restrict/type tags but not typedefs, is a 1-byte char. */
  private isCharElement(id: number): boolean {
    let t = this.btf.type(id);
    for (
      let i = 0;
      i <= 64 &&
      (t.kind === BtfKind.Const ||
        t.kind === BtfKind.Volatile ||
        t.kind === BtfKind.Restrict ||
        t.kind === BtfKind.TypeTag);
      i++
    ) {
      t = this.btf.type(t.type);
    }
    return t.kind === BtfKind.Int && t.size === 1 && (t.char || t.name === 'char');
  }

  private composite(t: BtfComposite, name: string): Node {
    const keys = fieldKeys(t.members.map((m) => m.name));
    const fields = t.members.map((m, i) => this.member(t, m, keys[i] as string, name));
    return objectNode(t.size, fields, name, t.kind === BtfKind.Union ? 'member' : 'field', t.kind === BtfKind.Union);
  }

  private member(owner: BtfComposite, m: BtfMember, key: string, ownerName: string): Field {
    const where = `${ownerName}: member ${m.name || '(anon)'}`;
    const resolved = this.btf.type(this.btf.resolve(m.type));
    const explicit = m.bitSize > 0;
    const oldStyle =
      !explicit &&
      resolved.kind === BtfKind.Int &&
      (resolved.bits !== resolved.size * 8 || resolved.bitOffset !== 0 || m.bitOffset % 8 !== 0);
    if (explicit || oldStyle) {
      const width = explicit ? m.bitSize : (resolved as BtfInt).bits;
      const bitOffset = explicit ? m.bitOffset : m.bitOffset + (resolved as BtfInt).bitOffset;
      const place = bitPlace(0, bitOffset & 7, width);
      const field = { key, byte: bitOffset >> 3, bits: width };
      if (bitOffset + width > owner.size * 8)
        throw damagedLayout(`${where} (bits ${bitOffset}..${bitOffset + width}) lies outside its ${owner.size} bytes`);
      if (resolved.kind === BtfKind.Int) {
        if (width > resolved.bits)
          throw damagedLayout(`${where} is ${width} bits of a ${resolved.bits}-bit ${resolved.name}`);
        return { ...field, node: intNode(resolved, place) };
      }
      if (resolved.kind === BtfKind.Enum || resolved.kind === BtfKind.Enum64) {
        if (width > resolved.size * 8) throw damagedLayout(`${where} is ${width} bits of a ${resolved.size}-byte enum`);
        return { ...field, node: enumNode(resolved, place, this.btf.typeName(m.type)) };
      }
      throw damagedLayout(`${where} is a bitfield of ${this.btf.typeName(m.type)}, not of an integer or enum`);
    }
    if (m.bitOffset % 8 !== 0) throw damagedLayout(`${where} starts at bit ${m.bitOffset}, not on a byte`);
    const node = this.node(m.type);
    if (m.bitOffset / 8 + node.size > owner.size) throw damagedLayout(`${where} lies outside its ${owner.size} bytes`);
    return { key, byte: m.bitOffset / 8, bits: node.size * 8, node };
  }

  private datasec(t: BtfDatasec, name: string): Node {
    const vars = t.vars.map((v) => {
      const variable = this.btf.type(v.type);
      if (variable.kind !== BtfKind.Var)
        throw damagedLayout(`${name}: entry type ${v.type} is a ${kindName(variable.kind)}, not a variable`);
      return { v, variable };
    });
    const keys = fieldKeys(vars.map((x) => x.variable.name));
    let end = 0;
    const fields = vars.map(({ v, variable }, i): Field => {
      // As the kernel checks: variables in order, none overlapping (an encoder writes them in turn).
      if (v.offset < end)
        throw damagedLayout(`${name}: variable ${variable.name} at ${v.offset} overlaps the one before it`);
      end = v.offset + v.size;
      const node = this.node(variable.id);
      if (v.size !== node.size)
        throw damagedLayout(`${name}: variable ${variable.name} is ${v.size} bytes, its type ${node.size}`);
      if (v.offset + v.size > t.size) {
        throw damagedLayout(
          `${name}: variable ${variable.name} (${v.size} bytes at ${v.offset}) lies outside the section's ${t.size} bytes` +
            (t.size === 0 ? " (an object's .BTF: libbpf fills section sizes in at load)" : ''),
        );
      }
      return { key: keys[i] as string, byte: v.offset, bits: v.size * 8, node };
    });
    return objectNode(t.size, fields, name, 'variable', false);
  }
}

function noBytes(name: string, kind: string): DfsError {
  return new DfsError(ErrorCode.BadRequest, `${name} (a ${kind}) has no bytes to decode or encode`);
}

function damagedLayout(message: string): DfsError {
  return new DfsError(ErrorCode.BadRequest, `damaged BTF: ${message}`);
}

function asciiString(b: Uint8Array, at: number, n: number): string {
  if (n > 64) return UTF8.decode(b.subarray(at, at + n)); // printable ASCII: UTF-8 decodes it as is
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(b[at + i]!);
  return s;
}

function writeChars(v: string, n: number, b: Uint8Array, at: number, path: string, name: string): void {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x20 || c >= 0x7f) {
      throw refuse(
        path,
        `character U+${c.toString(16).toUpperCase().padStart(4, '0')} at index ${i} is not printable ASCII, so it would not read back as text; give ${name} as an array of numbers`,
      );
    }
  }
  if (v.length > n - 1) {
    throw refuse(
      path,
      `${describe(v)} is ${v.length} characters; ${name} holds at most ${Math.max(n - 1, 0)} and a NUL`,
    );
  }
  for (let i = 0; i < v.length; i++) b[at + i] = v.charCodeAt(i);
}

function pointerNode(name: string): Node {
  return {
    size: 8,
    values: 1,
    read: (b, at) => intJson(u64(b, at)),
    write(_v, _b, _at, path) {
      throw refuse(path, `${name} is a pointer, which cannot be written`);
    },
  };
}

function floatNode(size: number, name: string): Node {
  if (size !== 4 && size !== 8) {
    return {
      size,
      values: 1,
      read: (b, at) => `0x${readBig(b, at, size).toString(16)}`,
      write(_v, _b, _at, path) {
        throw refuse(path, `${name} is a ${size}-byte float, which cannot be written`);
      },
    };
  }
  const scratch = new DataView(new ArrayBuffer(8));
  const special: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };
  return {
    size,
    values: 1,
    read(b, at) {
      for (let i = 0; i < size; i++) scratch.setUint8(i, b[at + i]!);
      const f = size === 4 ? scratch.getFloat32(0, true) : scratch.getFloat64(0, true);
      return Number.isFinite(f) ? f : String(f);
    },
    write(v, b, at, path) {
      const f = typeof v === 'number' ? v : typeof v === 'string' ? special[v] : undefined;
      if (f === undefined)
        throw refuse(path, `expected a number (or "NaN", "Infinity", "-Infinity") for ${name}, got ${describe(v)}`);
      if (size === 4) {
        if (Number.isFinite(f) && !Number.isFinite(Math.fround(f)))
          throw refuse(path, `${f} does not fit a 32-bit float`);
        scratch.setFloat32(0, f, true);
      } else scratch.setFloat64(0, f, true);
      for (let i = 0; i < size; i++) b[at + i] = scratch.getUint8(i);
    },
  };
}

/** The codec of a type, compiled once; a DfsError(BadRequest) for types without bytes or with a damaged layout. */
export function codecFor(btf: Btf, typeId: number): Codec {
  const node = new Compiler(btf).node(typeId);
  const typeName = btf.typeName(typeId);
  if (node.values > MAX_VALUES) {
    throw new DfsError(ErrorCode.BadRequest, `${typeName} decodes to more than ${MAX_VALUES} JSON values`);
  }
  const size = node.size;
  return {
    typeId,
    typeName,
    size,
    decode(bytes: Uint8Array, offset = 0): JsonValue {
      if (!Number.isSafeInteger(offset) || offset < 0 || offset + size > bytes.length) {
        throw new DfsError(
          ErrorCode.BadRequest,
          `${typeName} needs ${size} bytes at offset ${offset}, but there are ${bytes.length}`,
        );
      }
      return node.read(bytes, offset);
    },
    encode(value: unknown, path: string): Uint8Array {
      const out = new Uint8Array(size);
      node.write(value, out, 0, path);
      return out;
    },
  };
}
