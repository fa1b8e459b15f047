/**
 * The pinned Node runtime for nodes (layout.ts NODE_RUNTIME), on the client: fetched once from
 * the npm registry (or taken from a .tgz the user points DFS_EBPF_NODE_RUNTIME_TGZ at, for
 * machines without the registry), checked against the pinned sha512 integrity before anything
 * is unpacked, and cached as one executable under $XDG_CACHE_HOME/dfs-ebpf/runtime/. A tarball
 * that does not match is refused and never cached.
 */

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import type { Progress } from '../log';
import { clientCacheRoot } from '../testnode/paths';
import { NODE_RUNTIME, runtimeTarballUrl } from './layout';

export const RUNTIME_TGZ_ENV = 'DFS_EBPF_NODE_RUNTIME_TGZ';

export interface RuntimeOptions {
  progress?: Progress;
  env?: NodeJS.ProcessEnv;
}

/** `sha512-<base64>` of the bytes, as npm records integrity. */
export function integrityOf(data: Buffer): string {
  return `sha512-${createHash('sha512').update(data).digest('base64')}`;
}

function cacheDir(env: NodeJS.ProcessEnv): string {
  return join(clientCacheRoot(env), 'runtime', `${NODE_RUNTIME.package}-${NODE_RUNTIME.version}`);
}

async function download(env: NodeJS.ProcessEnv, progress: Progress | undefined): Promise<Buffer> {
  const local = env[RUNTIME_TGZ_ENV];
  if (local) {
    try {
      return readFileSync(local);
    } catch (err) {
      throw new DfsError(ErrorCode.ToolMissing, `${RUNTIME_TGZ_ENV}=${local}: ${(err as Error).message}`);
    }
  }
  const url = runtimeTarballUrl(env.npm_config_registry || undefined);
  progress?.(`downloading the Node ${NODE_RUNTIME.version} runtime for nodes (${url})`);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(300_000) });
  } catch (err) {
    throw new DfsError(
      ErrorCode.ToolMissing,
      `cannot download the node runtime from ${url} (${(err as Error).message}); set ${RUNTIME_TGZ_ENV} to a downloaded ${NODE_RUNTIME.package}-${NODE_RUNTIME.version}.tgz`,
    );
  }
  if (!res.ok) throw new DfsError(ErrorCode.ToolMissing, `downloading ${url}: HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

/** Path of the cached, verified runtime executable (downloaded and checked on first use). */
export async function ensureRuntime(opts: RuntimeOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const dir = cacheDir(env);
  const node = join(dir, 'node');
  const stamp = join(dir, 'integrity');
  if (existsSync(node) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === NODE_RUNTIME.integrity)
    return node;

  const tgz = await download(env, opts.progress);
  const got = integrityOf(tgz);
  if (got !== NODE_RUNTIME.integrity) {
    throw new DfsError(
      ErrorCode.BadObject,
      `the ${NODE_RUNTIME.package} ${NODE_RUNTIME.version} tarball does not match its pinned integrity (got ${got.slice(0, 24)}…); refusing it`,
    );
  }
  mkdirSync(join(dir, '..'), { recursive: true });
  const tmp = mkdtempSync(`${dir}.tmp-`);
  try {
    writeFileSync(join(tmp, 'runtime.tgz'), tgz);
    execFileSync('tar', ['-xzf', join(tmp, 'runtime.tgz'), '-C', tmp, 'package/bin/node'], { stdio: 'pipe' });
    chmodSync(join(tmp, 'package', 'bin', 'node'), 0o755);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    renameSync(join(tmp, 'package', 'bin', 'node'), node);
    writeFileSync(stamp, `${NODE_RUNTIME.integrity}\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return node;
}
