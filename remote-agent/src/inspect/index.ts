/**
 * The node explorer and map inspector of one connection: the kernel's objects, map pages,
 * entry writes, ring-buffer positions, sockets by cookie, link detach. Holds one thing across
 * requests: the kernel's BPF run-time statistics while an explorer asks for them (holdStatsS),
 * released when the hold runs out or the connection closes (dispose).
 */

import {
  ErrorCode,
  MAP_PAGE_MAX,
  type MapBtf,
  type MapDescription,
  type MapPage,
  type MapSummary,
  type NodeObjects,
  type NodeObjectsParams,
  type SocketInfo,
} from '@dfs/protocol';
import { AgentError, fromNative } from '../errors';
import type { AgentLog } from '../log';
import type { Addon } from '../native';
import { MAX_STATS_HOLD_S } from './limits';
import { deleteEntry, describeMap, mapBtf, readPage, updateEntry } from './maps';
import { kernelObjects } from './objects';

export class Inspector {
  private statsFd = -1;
  private statsTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly addon: Addon,
    private readonly log: AgentLog,
  ) {}

  objects(params: NodeObjectsParams): NodeObjects {
    const hold = Math.min(params.holdStatsS ?? 0, MAX_STATS_HOLD_S);
    if (hold > 0) this.holdStats(hold);
    const { programs, maps, links } = kernelObjects(this.addon);
    return {
      programs,
      maps,
      links,
      stats_on: this.statsFd >= 0,
      at_ms: Date.now(),
      cpus: this.addon.numPossibleCpus(),
    };
  }

  mapsList(): { maps: MapSummary[] } {
    return { maps: kernelObjects(this.addon).maps };
  }

  btf(id: number): MapBtf {
    return mapBtf(this.addon, id);
  }

  read(id: number, cursor: string | undefined, max: number | undefined): MapPage {
    if (max !== undefined && (max < 1 || max > MAP_PAGE_MAX)) {
      throw new AgentError(ErrorCode.BadRequest, `maps/read: max must be 1..${MAP_PAGE_MAX}`);
    }
    return readPage(this.addon, id, cursor, max);
  }

  update(id: number, key: Buffer, value: Buffer, mode: 'any' | 'noexist' | 'exist', confirmed?: boolean): void {
    updateEntry(this.addon, id, key, value, mode, confirmed);
    this.log.info('inspect', `map ${id}: entry written (${mode})`);
  }

  delete(id: number, key: Buffer, confirmed?: boolean): void {
    deleteEntry(this.addon, id, key, confirmed);
    this.log.info('inspect', `map ${id}: entry deleted`);
  }

  describe(id: number): MapDescription {
    return describeMap(this.addon, id);
  }

  sockets(cookies: string[]): SocketInfo[] {
    let found;
    try {
      found = this.addon.socketsByCookie(cookies.map((c) => BigInt(c)));
    } catch (err) {
      throw fromNative(err, 'looking sockets up by cookie');
    }
    return found.map((s) => ({
      cookie: s.cookie.toString(),
      state: s.state,
      src: s.src,
      sport: s.sport,
      dst: s.dst,
      dport: s.dport,
    }));
  }

  detachLink(id: number): void {
    const link = kernelObjects(this.addon).links.find((l) => l.id === id);
    if (!link) throw new AgentError(ErrorCode.NotFound, `link ${id} does not exist (any more) on this node`);
    if (!link.ours) {
      throw new AgentError(
        ErrorCode.PermissionDenied,
        `link ${id} (${link.attach}) is not ours; the agent detaches only its own`,
      );
    }
    try {
      if (!this.addon.linkDetachById(id)) throw new AgentError(ErrorCode.NotFound, `link ${id} vanished`);
    } catch (err) {
      throw fromNative(err, `detaching link ${id} (${link.attach})`);
    }
    this.log.info('inspect', `link ${id} (${link.attach}) detached`);
  }

  private holdStats(seconds: number): void {
    if (this.statsFd < 0) {
      try {
        this.statsFd = this.addon.enableRunTimeStats();
      } catch (err) {
        this.log.warn('inspect', `run-time statistics: ${(err as Error).message}`);
        return;
      }
    }
    clearTimeout(this.statsTimer);
    this.statsTimer = setTimeout(() => this.releaseStats(), seconds * 1000);
  }

  private releaseStats(): void {
    clearTimeout(this.statsTimer);
    this.statsTimer = undefined;
    if (this.statsFd >= 0) this.addon.closeFd(this.statsFd);
    this.statsFd = -1;
  }

  /** Release what this connection holds (idempotent, synchronous). */
  dispose(): void {
    this.releaseStats();
  }
}
