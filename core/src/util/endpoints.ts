/** `ip:port` strings from settings and CLI flags → protocol endpoints, with clear errors. */

import { ErrorCode, type Endpoint } from '@dfs/protocol';
import { DfsError } from '../errors';

/** Parse IPv4 `host:port` items; `where` names the setting or flag in the error. */
export function parseEndpoints(items: readonly string[], where: string): Endpoint[] {
  return items.map((s) => {
    const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(s.trim());
    const port = Number(m?.[2]);
    const octetsOk = (m?.[1] ?? '').split('.').every((o) => Number(o) <= 255);
    if (!m || !octetsOk || port < 1 || port > 65535) {
      throw new DfsError(ErrorCode.BadRequest, `${where}: "${s}" is not an IPv4 host:port`);
    }
    return { host: m[1] ?? '', port };
  });
}
