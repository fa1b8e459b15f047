/**
 * vmlinux.h for the kernel a program will run on: generated with bpftool from that kernel's
 * BTF and cached per kernel release and BTF digest under ~/.cache/dfs-ebpf/vmlinux/. The
 * local kernel's BTF is read directly; a node's comes from its agent (`kernel/btf`).
 */

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, release } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ErrorCode, KernelBtfRequest } from '@dfs/protocol';
import { DfsError } from '../errors';
import type { AgentRequester } from '../verifier/verify';
import { exec } from '../util/exec';

function cacheRoot(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'dfs-ebpf', 'vmlinux');
}

/** The directory holding vmlinux.h for a BTF blob, generating it on first use. */
async function vmlinuxDirFor(kernelRelease: string, btf: Buffer): Promise<string> {
  const digest = createHash('sha256').update(btf).digest('hex').slice(0, 16);
  const dir = join(cacheRoot(), `${kernelRelease}-${digest}`);
  const header = join(dir, 'vmlinux.h');
  if (existsSync(header)) return dir;
  mkdirSync(dir, { recursive: true });
  const btfFile = join(dir, `vmlinux.btf.${process.pid}`);
  writeFileSync(btfFile, btf);
  try {
    const { stdout } = await exec('bpftool', ['btf', 'dump', 'file', btfFile, 'format', 'c'], { timeoutMs: 120_000 }).catch(
      (err: unknown) => {
        if (err instanceof DfsError && err.code === ErrorCode.ToolMissing) {
          throw new DfsError(ErrorCode.ToolMissing, 'bpftool is not installed (apt-get install bpftool)');
        }
        throw err;
      },
    );
    const tmp = `${header}.${process.pid}.tmp`;
    writeFileSync(tmp, stdout);
    renameSync(tmp, header);
  } finally {
    rmSync(btfFile, { force: true });
  }
  return dir;
}

/** vmlinux.h of this machine's kernel. */
export async function localVmlinuxDir(): Promise<string> {
  let btf: Buffer;
  try {
    btf = readFileSync('/sys/kernel/btf/vmlinux');
  } catch {
    throw new DfsError(ErrorCode.KernelFeatureMissing, 'this kernel has no BTF (/sys/kernel/btf/vmlinux), so vmlinux.h cannot be generated');
  }
  return vmlinuxDirFor(release(), btf);
}

/** vmlinux.h of a node's kernel, fetched through its agent. */
export async function nodeVmlinuxDir(agent: AgentRequester): Promise<string> {
  const r = await agent.request(KernelBtfRequest, {});
  return vmlinuxDirFor(r.release, gunzipSync(Buffer.from(r.btfGz, 'base64')));
}
