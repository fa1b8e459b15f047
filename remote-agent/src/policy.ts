/**
 * The bypass policy: which TCP endpoints' local connections are redirected. Built from the
 * JuiceFS mount's metadata URL and object-store bucket URL (plus extra endpoints from the
 * client), resolved to IPv4, and encoded as keys of the `bypass_policy` map (bpf/bypass.h).
 */

import { lookup } from 'node:dns/promises';
import { isIPv4 } from 'node:net';
import { ErrorCode, type Endpoint, type EndpointSource, type PolicyEndpoint } from '@dfs/protocol';
import { BYPASS_ENDPOINT_KEY_SIZE, BYPASS_POLICY_SELECTED, BYPASS_POLICY_VALUE_SIZE } from '@dfs/protocol';
import { AgentError } from './errors';

const DEFAULT_PORTS: Record<string, number> = {
  redis: 6379,
  rediss: 6379,
  tikv: 2379,
  etcd: 2379,
  mysql: 3306,
  postgres: 5432,
  http: 80,
  https: 443,
  minio: 9000,
};

/**
 * host:port of a network URL (`redis://u:p@host:6379/1`, `mysql://u:p@(host:3306)/db`,
 * `http://minio:9000/bucket`), or null for local-only schemes (file, unix, sqlite3, badger, mem).
 */
export function endpointOfUrl(url: string): { host: string; port: number } | null {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(url);
  if (!m) return null;
  const scheme = (m[1] ?? '').toLowerCase();
  let rest = m[2] ?? '';
  const at = rest.lastIndexOf('@'); // passwords may hold '/' or ':', hosts never hold '@'
  if (at >= 0) rest = rest.slice(at + 1);
  const paren = /^\(([^)]*)\)/.exec(rest); // mysql://user:pw@(host:port)/db
  const hostport = paren ? (paren[1] ?? '') : (rest.split(/[/?,]/)[0] ?? '');
  if (!hostport) return null;
  const hp = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(hostport);
  if (!hp) return null;
  const host = hp[1] ?? '';
  const port = hp[2] ? Number(hp[2]) : (DEFAULT_PORTS[scheme] ?? 0);
  if (!host || !port) return null;
  return { host, port };
}

async function resolveIPv4(host: string): Promise<string> {
  if (isIPv4(host)) return host;
  try {
    const { address } = await lookup(host, { family: 4 });
    return address;
  } catch (err) {
    throw new AgentError(ErrorCode.BadRequest, `cannot resolve ${host} to an IPv4 address: ${String(err)}`);
  }
}

export async function buildPolicy(metaUrl: string, bucketUrl: string, extra: Endpoint[]): Promise<PolicyEndpoint[]> {
  const wanted: { ep: { host: string; port: number } | null; source: EndpointSource }[] = [
    { ep: endpointOfUrl(metaUrl), source: 'meta' },
    { ep: endpointOfUrl(bucketUrl), source: 'object' },
    ...extra.map((ep) => ({ ep, source: 'extra' as const })),
  ];
  const out: PolicyEndpoint[] = [];
  for (const { ep, source } of wanted) {
    if (!ep) continue;
    const host = await resolveIPv4(ep.host);
    if (!out.some((o) => o.host === host && o.port === ep.port)) out.push({ host, port: ep.port, source });
  }
  return out;
}

export function policyKey(ep: Endpoint): Buffer {
  const key = Buffer.alloc(BYPASS_ENDPOINT_KEY_SIZE);
  const octets = ep.host.split('.').map(Number);
  // ip4 in network order: the bytes in address order.
  key.set(octets, 0);
  key.writeUInt32LE(ep.port, 4); // host order on a little-endian host (x86_64, arm64)
  return key;
}

export function policyValue(): Buffer {
  const v = Buffer.alloc(BYPASS_POLICY_VALUE_SIZE);
  v.writeUInt32LE(BYPASS_POLICY_SELECTED, 0);
  return v;
}
