/**
 * Raw map access for the inspector: open a map by id for one request, read a page of
 * entries, write or delete one entry, describe maps that have no entries (ring buffers), and
 * hand out the map's BTF. Bytes only: core checks keys and values against BTF before they get
 * here; this module checks what the kernel would otherwise trust (sizes) and who owns the map
 * (a map that is not ours is written only when the client says its user confirmed).
 */

import {
  ErrorCode,
  MAP_PAGE_DEFAULT,
  MAP_TYPES_WITHOUT_ENTRIES,
  PER_CPU_MAP_TYPES,
  type MapBtf,
  type MapDescription,
  type MapPage,
  type MapSummary,
} from '@dfs/protocol';
import { AgentError, fromNative, isNativeError } from '../errors';
import type { Addon, MapDetails } from '../native';
import { kernelObjects, mapSummary } from './objects';

const EEXIST = 17;

/** Update flags of bpf_map_update_elem. */
const MODE_FLAGS = { any: 0, noexist: 1, exist: 2 } as const;

/** The map with this id, open for the duration of `fn`; NotFound when it is gone. */
function withMap<T>(addon: Addon, id: number, fn: (fd: number, d: MapDetails) => T): T {
  let fd: number;
  try {
    fd = addon.mapFdById(id);
  } catch (err) {
    const e = fromNative(err, `opening map ${id}`);
    if (e.code === ErrorCode.NotFound) {
      throw new AgentError(ErrorCode.NotFound, `map ${id} does not exist (any more) on this node`);
    }
    throw e;
  }
  try {
    return fn(fd, addon.mapInfoByFd(fd));
  } finally {
    addon.closeFd(fd);
  }
}

/** The summary of one map (ours or not, its programs), from a fresh look at the kernel. */
function summaryOf(addon: Addon, id: number): MapSummary {
  const found = kernelObjects(addon).maps.find((m) => m.id === id);
  if (!found) throw new AgentError(ErrorCode.NotFound, `map ${id} does not exist (any more) on this node`);
  return found;
}

function refuseStub(m: MapSummary): void {
  if (m.max_entries === 0 && m.type === 'prog_array' && m.btf_id === 0 && m.name.startsWith('(')) {
    throw new AgentError(
      ErrorCode.Conflict,
      `map ${m.id} is a bypass stub's program array that is not pinned by us; it is never opened by id (a kernel bug leaks it)`,
    );
  }
}

export function mapBtf(addon: Addon, id: number): MapBtf {
  const map = summaryOf(addon, id);
  refuseStub(map);
  let btf: string | null = null;
  if (map.btf_id !== 0) {
    const b = addon.btfInfoById(map.btf_id);
    btf = b ? b.data.toString('base64') : null;
  }
  return { map, btf, cpus: addon.numPossibleCpus() };
}

export function readPage(addon: Addon, id: number, cursor: string | undefined, max: number | undefined): MapPage {
  return withMap(addon, id, (fd, d) => {
    if (d.keySize === 0 || MAP_TYPES_WITHOUT_ENTRIES[d.type] !== undefined) {
      throw new AgentError(
        ErrorCode.BadRequest,
        `map ${id} (${d.type}) has no entries to list; maps/describe tells what it holds`,
      );
    }
    const at = Date.now();
    let page;
    try {
      page = addon.mapReadPage(
        fd,
        cursor === undefined ? null : Buffer.from(cursor, 'base64'),
        max ?? MAP_PAGE_DEFAULT,
      );
    } catch (err) {
      throw fromNative(err, `reading map ${id}`);
    }
    return {
      keys: page.keys.toString('base64'),
      values: page.values.toString('base64'),
      count: page.count,
      value_stride: page.count > 0 ? page.values.length / page.count : 0,
      cursor: page.cursor ? page.cursor.toString('base64') : null,
      at_ms: at,
    };
  });
}

function checkWrite(addon: Addon, id: number, confirmed: boolean | undefined): void {
  const m = summaryOf(addon, id);
  refuseStub(m);
  if (!m.ours && confirmed !== true) {
    throw new AgentError(
      ErrorCode.PermissionDenied,
      `map ${id} (${m.name}) is not ours: its programs belong to someone else; confirm the write to change it`,
    );
  }
}

/** The value bytes a write needs: value_size, or every CPU's slot of a per-CPU map. */
function valueBytes(addon: Addon, d: MapDetails): number {
  return PER_CPU_MAP_TYPES.includes(d.type) ? Math.ceil(d.valueSize / 8) * 8 * addon.numPossibleCpus() : d.valueSize;
}

export function updateEntry(
  addon: Addon,
  id: number,
  key: Buffer,
  value: Buffer,
  mode: keyof typeof MODE_FLAGS,
  confirmed: boolean | undefined,
): void {
  checkWrite(addon, id, confirmed);
  withMap(addon, id, (fd, d) => {
    if (key.length !== d.keySize) {
      throw new AgentError(ErrorCode.BadRequest, `map ${id} (${d.name}) has ${d.keySize}-byte keys, not ${key.length}`);
    }
    const want = valueBytes(addon, d);
    if (value.length !== want) {
      throw new AgentError(
        ErrorCode.BadRequest,
        `map ${id} (${d.name}) takes ${want}-byte values${want !== d.valueSize ? " (every CPU's slot)" : ''}, not ${value.length}`,
      );
    }
    try {
      addon.mapUpdate(fd, key, value, MODE_FLAGS[mode]);
    } catch (err) {
      const e = fromNative(err, `writing map ${id}`);
      if (isNativeError(err) && err.errno === EEXIST) {
        throw new AgentError(ErrorCode.Conflict, `map ${id} (${d.name}) already has that key`);
      }
      if (e.code === ErrorCode.NotFound) {
        throw new AgentError(ErrorCode.NotFound, `map ${id} (${d.name}) has no such key`);
      }
      throw e;
    }
  });
}

export function deleteEntry(addon: Addon, id: number, key: Buffer, confirmed: boolean | undefined): void {
  checkWrite(addon, id, confirmed);
  withMap(addon, id, (fd, d) => {
    if (key.length !== d.keySize) {
      throw new AgentError(ErrorCode.BadRequest, `map ${id} (${d.name}) has ${d.keySize}-byte keys, not ${key.length}`);
    }
    let deleted: boolean;
    try {
      deleted = addon.mapDelete(fd, key);
    } catch (err) {
      throw fromNative(err, `deleting from map ${id}`);
    }
    if (!deleted) throw new AgentError(ErrorCode.NotFound, `map ${id} (${d.name}) has no such key`);
  });
}

export function describeMap(addon: Addon, id: number): MapDescription {
  const map = summaryOf(addon, id);
  refuseStub(map);
  if (map.type !== 'ringbuf') return { map };
  return withMap(addon, id, (fd, d) => {
    const p = addon.ringBufferPositions(fd);
    const consumer = Number(p.consumer);
    const producer = Number(p.producer);
    return {
      map: mapSummary(d, map.ours, map.prog_ids),
      ringbuf: { size: p.size, consumer, producer, pending: producer - consumer },
    };
  });
}
