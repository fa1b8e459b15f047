/**
 * vmlinux.h for the kernel a program will run on: generated with bpftool from that kernel's
 * BTF and cached, with that BTF (`vmlinux.btf`), per kernel release and BTF digest under
 * ~/.cache/dfs-ebpf/vmlinux/ (`<release>-<first 16 hex of the BTF's sha256>`). This machine's BTF is read directly. A
 * node is asked for its digest first (`kernel/btf {digestOnly}`, a few bytes) and for its BTF
 * (megabytes) only when that cache entry is missing; the answer is kept for the session, so a
 * connection asks at most once, and a save asks nothing.
 */

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, release } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ErrorCode, KernelBtfRequest, type RequestSpec } from '@dfs/protocol';
import { DfsError } from '../errors';
import { exec } from '../util/exec';

/** Anything that can send agent requests (a NodeSession). */
export interface AgentRequester {
  request<P, R>(spec: RequestSpec<P, R>, params: P): Promise<R>;
}

/** The vmlinux.h a build used, and whose kernel it describes. */
export interface KernelHeaders {
  /** The directory holding vmlinux.h (the cache entry). */
  dir: string;
  release: string;
  /** sha256 (hex) of the kernel's raw BTF: the cache key, with the release. */
  btfSha256: string;
  /** Where the BTF came from: this machine's /sys/kernel/btf/vmlinux, or a node's agent. */
  from: 'this machine' | 'node';
}

function cacheRoot(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'dfs-ebpf', 'vmlinux');
}

/** The cache entry of a kernel: the directory its vmlinux.h is (or will be) in. */
export function vmlinuxCacheDir(kernelRelease: string, btfSha256: string): string {
  return join(cacheRoot(), `${kernelRelease}-${btfSha256.slice(0, 16)}`);
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * Writes `dir/vmlinux.h` from a BTF blob (bpftool btf dump), atomically, and keeps the blob
 * beside it as `vmlinux.btf` (the editor's checks read kfuncs and events from it: editing/facts.ts).
 */
async function generate(dir: string, btf: Buffer): Promise<void> {
  const header = join(dir, 'vmlinux.h');
  mkdirSync(dir, { recursive: true });
  const btfFile = join(dir, `vmlinux.btf.${process.pid}`);
  writeFileSync(btfFile, btf);
  try {
    const { stdout } = await exec('bpftool', ['btf', 'dump', 'file', btfFile, 'format', 'c'], {
      timeoutMs: 120_000,
    }).catch((err: unknown) => {
      if (err instanceof DfsError && err.code === ErrorCode.ToolMissing) {
        throw new DfsError(ErrorCode.ToolMissing, 'bpftool is not installed (apt-get install bpftool)');
      }
      throw err;
    });
    const tmp = `${header}.${process.pid}.tmp`;
    writeFileSync(tmp, stdout);
    renameSync(tmp, header);
    renameSync(btfFile, join(dir, 'vmlinux.btf'));
  } finally {
    rmSync(btfFile, { force: true });
  }
}

/** A complete cache entry: the header and the BTF it was made from (older entries lack the BTF). */
const hasHeader = (dir: string): boolean => existsSync(join(dir, 'vmlinux.h')) && existsSync(join(dir, 'vmlinux.btf'));

/** vmlinux.h of this machine's kernel (also the local test nodes' kernel). */
export async function localKernelHeaders(): Promise<KernelHeaders> {
  let btf: Buffer;
  try {
    btf = readFileSync('/sys/kernel/btf/vmlinux');
  } catch {
    throw new DfsError(
      ErrorCode.KernelFeatureMissing,
      'this kernel has no BTF (/sys/kernel/btf/vmlinux), so vmlinux.h cannot be generated',
    );
  }
  const btfSha256 = sha256(btf);
  const dir = vmlinuxCacheDir(release(), btfSha256);
  if (!hasHeader(dir)) await generate(dir, btf);
  return { dir, release: release(), btfSha256, from: 'this machine' };
}

/** vmlinux.h of this machine's kernel: its directory. */
export async function localVmlinuxDir(): Promise<string> {
  return (await localKernelHeaders()).dir;
}

/** Per session (the requester), what its node's kernel/btf said: asked once per connection. */
const nodeHeaders = new WeakMap<AgentRequester, Promise<KernelHeaders>>();

/**
 * vmlinux.h of a node's kernel. The first call on a session asks the agent for the digest and,
 * only when this client has no vmlinux.h for it, for the BTF; later calls ask nothing (unless
 * the cache entry was deleted meanwhile).
 */
export function nodeKernelHeaders(agent: AgentRequester): Promise<KernelHeaders> {
  const known = nodeHeaders.get(agent);
  const fresh = known?.then((h) => (hasHeader(h.dir) ? h : null)).catch(() => null);
  const next = (fresh ?? Promise.resolve(null)).then((h) => h ?? fetchNodeHeaders(agent));
  nodeHeaders.set(agent, next);
  void next.catch(() => {
    if (nodeHeaders.get(agent) === next) nodeHeaders.delete(agent); // a failure is not remembered
  });
  return next;
}

async function fetchNodeHeaders(agent: AgentRequester): Promise<KernelHeaders> {
  const { release: rel, sha256: digest } = await agent.request(KernelBtfRequest, { digestOnly: true });
  let dir = vmlinuxCacheDir(rel, digest);
  if (hasHeader(dir)) return { dir, release: rel, btfSha256: digest, from: 'node' };
  const full = await agent.request(KernelBtfRequest, {});
  const btf = gunzipSync(Buffer.from(full.btfGz ?? '', 'base64'));
  if (btf.length === 0 || sha256(btf) !== full.sha256) {
    throw new DfsError(
      ErrorCode.Internal,
      `the BTF from ${full.release} does not match the digest its agent gave (${full.sha256.slice(0, 16)})`,
    );
  }
  dir = vmlinuxCacheDir(full.release, full.sha256);
  await generate(dir, btf);
  return { dir, release: full.release, btfSha256: full.sha256, from: 'node' };
}

/** vmlinux.h of a node's kernel: its directory. */
export async function nodeVmlinuxDir(agent: AgentRequester): Promise<string> {
  return (await nodeKernelHeaders(agent)).dir;
}
