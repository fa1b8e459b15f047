/**
 * The map inspector on a connected node: find a map by name or id, read all its entries page
 * by page and decode them, and write or delete one entry after checking it against BTF (so a
 * wrong value never reaches the kernel). Used by the CLI's `maps` commands, `bench maps` and
 * the extension's inspector.
 */

import {
  ErrorCode,
  MAP_PAGE_MAX,
  MapBtfRequest,
  MapDeleteRequest,
  MapReadRequest,
  MapsListRequest,
  MapUpdateRequest,
  SOCKETS_BY_COOKIE_MAX,
  SocketsByCookieRequest,
  type MapSummary,
  type SocketInfo,
} from '@dfs/protocol';
import type { NodeSession } from '../agent/session';
import { DfsError } from '../errors';
import type { JsonValue } from '../btf';
import { decodePage, encodeKey, encodeValue, mapCodecs, type Entry, type MapCodecs } from './entries';

export async function listMaps(session: NodeSession): Promise<MapSummary[]> {
  return (await session.request(MapsListRequest, {})).maps;
}

/** A map named by its kernel id ("42") or its name; a name held by several maps is refused with their ids. */
export async function resolveMap(session: NodeSession, ref: string): Promise<MapSummary> {
  const maps = await listMaps(session);
  if (/^\d+$/.test(ref)) {
    const byId = maps.find((m) => m.id === Number(ref));
    if (!byId) throw new DfsError(ErrorCode.NotFound, `no map with id ${ref} on this node`);
    return byId;
  }
  const named = maps.filter((m) => m.name === ref);
  if (named.length === 0) {
    throw new DfsError(ErrorCode.NotFound, `no map named ${ref} on this node (dfs-ebpf maps list shows them)`);
  }
  const [only, ...more] = named;
  if (more.length > 0 || !only) {
    throw new DfsError(
      ErrorCode.BadRequest,
      `several maps are named ${ref} (ids ${named.map((m) => m.id).join(', ')}); give the id`,
    );
  }
  return only;
}

export async function openCodecs(session: NodeSession, id: number): Promise<MapCodecs> {
  return mapCodecs(await session.request(MapBtfRequest, { id }));
}

export interface DumpOptions {
  /** Entries per agent request (default: the largest page). */
  pageSize?: number;
  /** Stop after this many entries. */
  limit?: number;
}

/** Every entry of a map, decoded, read in pages. */
export async function dumpEntries(session: NodeSession, codecs: MapCodecs, opts: DumpOptions = {}): Promise<Entry[]> {
  const out: Entry[] = [];
  let cursor: string | undefined;
  const limit = opts.limit ?? Infinity;
  for (;;) {
    const page = await session.request(MapReadRequest, {
      id: codecs.map.id,
      ...(cursor !== undefined ? { cursor } : {}),
      max: Math.min(opts.pageSize ?? MAP_PAGE_MAX, MAP_PAGE_MAX),
    });
    for (const e of decodePage(codecs, page)) {
      if (out.length >= limit) return out;
      out.push(e);
    }
    if (page.cursor === null) return out;
    cursor = page.cursor;
  }
}

export interface WriteOptions {
  mode?: 'any' | 'noexist' | 'exist';
  /** The user confirmed a write to a map that is not ours. */
  confirmedNotOurs?: boolean;
}

/** Write one entry; the key and value are checked against the map's types first. */
export async function updateEntry(
  session: NodeSession,
  codecs: MapCodecs,
  key: unknown,
  value: unknown,
  opts: WriteOptions = {},
): Promise<void> {
  const k = encodeKey(codecs, key);
  const v = encodeValue(codecs, value);
  await session.request(MapUpdateRequest, {
    id: codecs.map.id,
    key: k.toString('base64'),
    value: v.toString('base64'),
    mode: opts.mode ?? 'any',
    ...(opts.confirmedNotOurs ? { confirmedNotOurs: true } : {}),
  });
}

export async function deleteEntry(
  session: NodeSession,
  codecs: MapCodecs,
  key: unknown,
  opts: WriteOptions = {},
): Promise<void> {
  const k = encodeKey(codecs, key);
  await session.request(MapDeleteRequest, {
    id: codecs.map.id,
    key: k.toString('base64'),
    ...(opts.confirmedNotOurs ? { confirmedNotOurs: true } : {}),
  });
}

/**
 * The socket cookie a socket map's value holds, as a decimal string: a number or decimal
 * string through BTF, or (the kernel keeps no BTF for socket maps) the value's 8 bytes as
 * "0x…" hex, little-endian. Null for anything else (a 4-byte value holds no cookie).
 */
export function socketCookie(v: JsonValue): string | null {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string' && /^\d+$/.test(v)) return v;
  if (typeof v === 'string' && /^0x[0-9a-f]{16}$/i.test(v))
    return Buffer.from(v.slice(2), 'hex').readBigUInt64LE(0).toString();
  return null;
}

/** The TCP sockets (both endpoints and state) behind a socket map's entries, by cookie. */
export async function socketsOf(session: NodeSession, entries: Entry[]): Promise<Map<string, SocketInfo>> {
  const cookies = entries.map((e) => socketCookie(e.value)).filter((c): c is string => c !== null);
  const found = new Map<string, SocketInfo>();
  for (let i = 0; i < cookies.length; i += SOCKETS_BY_COOKIE_MAX) {
    const { sockets } = await session.request(SocketsByCookieRequest, {
      cookies: cookies.slice(i, i + SOCKETS_BY_COOKIE_MAX),
    });
    for (const s of sockets) found.set(s.cookie, s);
  }
  return found;
}
