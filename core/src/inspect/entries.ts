/**
 * A map's entries as JSON and back (pure): the key and value codecs of a map from its BTF
 * (core/src/btf), per-CPU values as one element per CPU, and a hex fallback for maps without
 * BTF (keys and values as "0x…" strings of their exact size). Decoding a page of raw bytes
 * and encoding a user's key and value both go through here, for the CLI and the extension.
 */

import { ErrorCode, PER_CPU_MAP_TYPES, type MapBtf, type MapPage, type MapSummary } from '@dfs/protocol';
import { codecFor, parseBtf, shapeOf, type Codec, type JsonValue, type TypeShape } from '../btf';
import { DfsError } from '../errors';

/** How the bytes of one key or value become JSON and back. */
export interface Part {
  size: number;
  /** "struct fx_record", or "8 bytes (no BTF)". */
  typeName: string;
  decode(bytes: Uint8Array, offset: number): JsonValue;
  encode(value: unknown, path: string): Uint8Array;
}

export interface MapCodecs {
  map: MapSummary;
  key: Part;
  value: Part;
  /** Per-CPU map: a value is an array with one element per CPU. */
  perCpu: boolean;
  cpus: number;
  /** Bytes of one entry's value as the kernel hands it out (every CPU's slot, each rounded to 8). */
  stride: number;
  /** Whether the types came from BTF (false: hex). */
  btf: boolean;
  /** Layouts for the inspector's table (null: hex). */
  keyShape: TypeShape | null;
  valueShape: TypeShape | null;
}

function hexPart(size: number): Part {
  return {
    size,
    typeName: `${size} bytes (no BTF)`,
    decode: (bytes, offset) => '0x' + Buffer.from(bytes.subarray(offset, offset + size)).toString('hex'),
    encode: (value, path) => {
      const hex = typeof value === 'string' ? value.replace(/^0x/i, '') : undefined;
      if (hex === undefined || hex.length !== size * 2 || !/^[0-9a-fA-F]*$/.test(hex)) {
        throw new DfsError(
          ErrorCode.BadRequest,
          `${path}: this map has no BTF, so give "0x" and ${size * 2} hex digits (${size} bytes)`,
        );
      }
      return Uint8Array.from(Buffer.from(hex, 'hex'));
    },
  };
}

function btfPart(codec: Codec): Part {
  return {
    size: codec.size,
    typeName: codec.typeName,
    decode: (bytes, offset) => codec.decode(bytes, offset),
    encode: (value, path) => codec.encode(value, path),
  };
}

/** The codecs of a map from maps/btf; types whose size disagrees with the map's fall back to hex. */
export function mapCodecs(info: MapBtf): MapCodecs {
  const { map, cpus } = info;
  const perCpu = PER_CPU_MAP_TYPES.includes(map.type);
  let key: Part = hexPart(map.key_size);
  let value: Part = hexPart(map.value_size);
  let btf = false;
  let keyShape: TypeShape | null = null;
  let valueShape: TypeShape | null = null;
  if (info.btf !== null && map.btf_value_type_id !== 0) {
    const types = parseBtf(Uint8Array.from(Buffer.from(info.btf, 'base64')));
    const v = codecFor(types, map.btf_value_type_id);
    if (v.size === map.value_size) {
      value = btfPart(v);
      valueShape = shapeOf(types, map.btf_value_type_id);
      btf = true;
    }
    if (map.btf_key_type_id !== 0) {
      const k = codecFor(types, map.btf_key_type_id);
      if (k.size === map.key_size) {
        key = btfPart(k);
        keyShape = shapeOf(types, map.btf_key_type_id);
      }
    }
  }
  const slot = Math.ceil(map.value_size / 8) * 8;
  return { map, key, value, perCpu, cpus, stride: perCpu ? slot * cpus : map.value_size, btf, keyShape, valueShape };
}

export interface Entry {
  key: JsonValue;
  /** Per-CPU maps: one element per CPU. */
  value: JsonValue;
}

/** The bytes of base64 text, as a plain Uint8Array view of the decoded buffer (no second copy). */
function base64Bytes(text: string): Uint8Array {
  const b = Buffer.from(text, 'base64');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Decode one page of raw entries. */
export function decodePage(c: MapCodecs, page: MapPage): Entry[] {
  const keys = base64Bytes(page.keys);
  const values = base64Bytes(page.values);
  const count = page.count;
  const stride = count > 0 ? values.length / count : c.stride;
  if (count > 0 && (keys.length !== count * c.key.size || stride !== c.stride)) {
    throw new DfsError(
      ErrorCode.Internal,
      `map ${c.map.id}: the agent sent ${keys.length} key bytes and ${values.length} value bytes for ${count} entries (expected ${c.key.size} and ${c.stride} each)`,
    );
  }
  // The loop runs once per entry (100,000 for a large map): invariants hoisted out of it.
  const { key: keyPart, value: valuePart, cpus } = c;
  const keySize = keyPart.size;
  const slot = Math.ceil(c.map.value_size / 8) * 8;
  const out: Entry[] = new Array<Entry>(count);
  if (!c.perCpu) {
    for (let i = 0; i < count; i++) {
      out[i] = { key: keyPart.decode(keys, i * keySize), value: valuePart.decode(values, i * stride) };
    }
    return out;
  }
  for (let i = 0; i < count; i++) {
    const key = keyPart.decode(keys, i * keySize);
    const base = i * stride;
    const per: JsonValue[] = new Array<JsonValue>(cpus);
    for (let cpu = 0; cpu < cpus; cpu++) per[cpu] = valuePart.decode(values, base + cpu * slot);
    out[i] = { key, value: per };
  }
  return out;
}

/** A key from JSON, checked against the map's key type. */
export function encodeKey(c: MapCodecs, key: unknown): Buffer {
  return Buffer.from(c.key.encode(key, 'key'));
}

/**
 * A value from JSON, checked against the map's value type; per-CPU maps take an array with
 * one element per CPU (the shape `maps dump` prints).
 */
export function encodeValue(c: MapCodecs, value: unknown): Buffer {
  if (!c.perCpu) return Buffer.from(c.value.encode(value, 'value'));
  if (!Array.isArray(value) || value.length !== c.cpus) {
    throw new DfsError(
      ErrorCode.BadRequest,
      `value: map ${c.map.name} is per-CPU, so give an array of ${c.cpus} values (one per CPU), as maps dump prints it`,
    );
  }
  const slot = Math.ceil(c.map.value_size / 8) * 8;
  const out = Buffer.alloc(c.stride);
  value.forEach((v, cpu) => out.set(c.value.encode(v, `value[${cpu}]`), cpu * slot));
  return out;
}
