/**
 * What a profile is about, from the chosen JuiceFS mount: its superblock device in the
 * kernel's encoding (the FUSE connection and the files on the mount are recognised by it) and
 * the metadata-engine and object-store endpoints that classify the daemon's round trips,
 * from the same URLs the bypass policy uses (juicefs.ts, policy.ts).
 */

import { lookup } from 'node:dns/promises';
import { isIPv4 } from 'node:net';
import { readFileSync } from 'node:fs';
import { ErrorCode } from '@dfs/protocol';
import { AgentError } from '../errors';
import { endpointOfUrl } from '../policy';
import type { ProfileEndpoint } from './read';

/**
 * s_dev of the mount at `mountpoint` as the kernel stores it (MKDEV: major << 20 | minor),
 * from the "major:minor" field of /proc/self/mountinfo (the topmost mount there).
 */
export function mountDevice(mountpoint: string, mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): number {
  let dev: number | null = null;
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const mp = f[4]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mp !== mountpoint) continue;
    const m = /^(\d+):(\d+)$/.exec(f[2] ?? '');
    if (m) dev = ((Number(m[1]) << 20) | Number(m[2])) >>> 0;
  }
  if (dev === null) throw new AgentError(ErrorCode.JuiceFsNotFound, `${mountpoint} is not in this agent's mount table`);
  return dev;
}

async function ipv4(host: string): Promise<string | null> {
  if (isIPv4(host)) return host;
  try {
    return (await lookup(host, { family: 4 })).address;
  } catch {
    return null;
  }
}

/** The endpoints of a metadata URL and a bucket URL; a Unix-socket meta URL is one Unix endpoint. */
export async function profileEndpoints(metaUrl: string, bucketUrl: string): Promise<ProfileEndpoint[]> {
  const out: ProfileEndpoint[] = [];
  for (const [url, layer] of [
    [metaUrl, 'meta'],
    [bucketUrl, 'object'],
  ] as const) {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
    if (!scheme) continue;
    if (scheme === 'unix') {
      const path = url
        .replace(/^unix:\/\/(?:[^@/]*@)?/i, '/')
        .replace(/\?.*$/, '')
        .replace(/^\/+/, '/');
      if (!out.some((e) => e.ip4 === null)) out.push({ ip4: null, port: 0, layer, label: `unix ${path}` });
      continue;
    }
    const ep = endpointOfUrl(url);
    if (!ep) continue;
    const ip4 = await ipv4(ep.host);
    if (ip4 === null || out.some((e) => e.ip4 === ip4 && e.port === ep.port)) continue;
    out.push({ ip4, port: ep.port, layer, label: `${scheme} ${ip4}:${ep.port}` });
  }
  return out;
}
