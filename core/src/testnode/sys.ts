/**
 * Small system helpers shared by the test-node modules: the per-call context (log, progress),
 * logged command execution, bounded polling, and file writes that change nothing when the
 * content is already right (so a second `node up` is a no-op).
 */

import {
  accessSync,
  chmodSync,
  constants,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import type { Logger, Progress } from '../log';
import { exec, type ExecOptions, type ExecResult } from '../util/exec';
import { TOOLS } from './paths';

/** What every step gets: where to log and where to report progress. */
export interface NodeCtx {
  log: Logger;
  progress: Progress;
}

export function run(ctx: NodeCtx, file: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  ctx.log.debug(`$ ${[file, ...args].join(' ')}`);
  return exec(file, args, opts);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `probe` until it returns true or `timeoutMs` passes; returns the last answer. */
export async function waitUntil(
  timeoutMs: number,
  probe: () => boolean | Promise<boolean>,
  intervalMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}

/** The file's text, or undefined when it does not exist (also when it goes away as it is read: /proc). */
export function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH')
      return undefined;
    throw err;
  }
}

/** The last non-empty lines of a log file, for error messages. */
export function logTail(path: string, lines = 3): string {
  const text = readIfExists(path) ?? '';
  return text
    .trim()
    .split('\n')
    .slice(-lines)
    .map((l) => l.trim())
    .join(' | ')
    .slice(0, 400);
}

export interface WriteOpts {
  mode: number;
  uid?: number;
  gid?: number;
}

/**
 * Writes `content` atomically (temp file + rename) unless the file already holds it with the
 * right mode; returns whether anything changed.
 */
export function writeIfChanged(path: string, content: string, opts: WriteOpts): boolean {
  if (existsSync(path)) {
    const st = statSync(path);
    const same =
      readFileSync(path, 'utf8') === content &&
      (st.mode & 0o7777) === opts.mode &&
      (opts.uid === undefined || st.uid === opts.uid) &&
      (opts.gid === undefined || st.gid === opts.gid);
    if (same) return false;
  }
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode: opts.mode });
  chmodSync(tmp, opts.mode);
  if (opts.uid !== undefined && opts.gid !== undefined) chownSync(tmp, opts.uid, opts.gid);
  renameSync(tmp, path);
  return true;
}

/**
 * mkdir -p that gives every directory it creates `mode` (and owner, when given); existing
 * directories are left alone. Returns the directories it created, outermost first.
 */
export function mkdirs(path: string, mode: number, owner?: { uid: number; gid: number }): string[] {
  const missing: string[] = [];
  for (let d = path; !existsSync(d); d = dirname(d)) missing.unshift(d);
  for (const d of missing) {
    mkdirSync(d, { mode });
    chmodSync(d, mode);
    if (owner) chownSync(d, owner.uid, owner.gid);
  }
  return missing;
}

/** Ensures an existing root-owned directory has exactly `mode`. */
export function ensureDir(path: string, mode: number): void {
  mkdirs(path, mode);
  const st = statSync(path);
  if ((st.mode & 0o7777) !== mode) chmodSync(path, mode);
  if (st.uid !== 0 || st.gid !== 0) chownSync(path, 0, 0);
}

/** Ensures a directory exists with exactly `mode` and owner (a service that runs unprivileged writes there). */
export function ensureOwnedDir(path: string, mode: number, owner: { uid: number; gid: number }): void {
  mkdirs(path, mode, owner);
  const st = statSync(path);
  if ((st.mode & 0o7777) !== mode) chmodSync(path, mode);
  if (st.uid !== owner.uid || st.gid !== owner.gid) chownSync(path, owner.uid, owner.gid);
}

export function removeTree(ctx: NodeCtx, path: string): void {
  if (!existsSync(path)) return;
  ctx.log.debug(`removing ${path}`);
  rmSync(path, { recursive: true, force: true });
}

/** rmdir of each path in order while it is empty; stops at the first non-empty one. */
export function removeEmptyDirs(ctx: NodeCtx, paths: readonly string[]): void {
  for (const p of paths) {
    if (!existsSync(p)) continue;
    try {
      rmdirSync(p);
      ctx.log.debug(`removed empty ${p}`);
    } catch (e) {
      // Not empty (another node still uses it) or not a directory we may remove: keep it.
      ctx.log.debug(`keeping ${p}: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
  }
}

/** Fails with the apt-get line to run when a program the node needs is missing. */
export function requireTools(): void {
  const missing = Object.values(TOOLS).filter((t) => !isExecutable(t.path));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((t) => t.pkg))].join(' ');
  throw new DfsError(
    ErrorCode.ToolMissing,
    `the local node needs ${missing.map((t) => t.path).join(', ')}: install them with \`apt-get install ${pkgs}\``,
  );
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch (e) {
    if (e instanceof Error && 'code' in e) return false;
    throw e;
  }
}

export const isRoot = (): boolean => process.getuid?.() === 0;

export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new DfsError(ErrorCode.PermissionDenied, `${what} needs root: run it with sudo`);
  }
}

/**
 * Steps of a teardown: each runs even when an earlier one failed; a failure is logged with
 * `label` and kept in `left` ("what (why)"), so the caller can name exactly what is left.
 */
export function teardownSteps(
  ctx: NodeCtx,
  label: string,
): { step: (what: string, fn: () => unknown) => Promise<void>; left: string[] } {
  const left: string[] = [];
  const step = async (what: string, fn: () => unknown): Promise<void> => {
    try {
      await fn();
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      ctx.log.warn(`${label}: ${what}: ${why}`);
      left.push(`${what} (${why})`);
    }
  };
  return { step, left };
}
