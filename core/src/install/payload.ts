/**
 * The install payload: one gzipped tar with everything a bare node needs to run the agent
 * (the pinned Node runtime, the agent bundle with its addon — libbpf, libelf and zlib linked
 * in — and the BPF objects), a `files.sha256` over all of it for the node to check after
 * unpacking, and `payload.json` (versions and unpacked size). Built on the client from
 * dist/agent and the cached runtime, and cached itself by content (the runtime compresses
 * slowly), so a second install of the same build costs no packing.
 */

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { Progress } from '../log';
import { readBundle } from '../agent/bundle';
import { clientCacheRoot } from '../testnode/paths';
import { NODE_RUNTIME } from './layout';
import { ensureRuntime } from './runtime';

export interface PayloadInfo {
  /** Agent version and build digest (dist/agent/manifest.json). */
  version: string;
  build: string;
  arch: string;
  /** Node runtime version. */
  runtime: string;
  /** Bytes once unpacked (what the node's disk must hold, twice during an upgrade). */
  unpackedBytes: number;
}

export interface Payload {
  file: string;
  sha256: string;
  bytes: number;
  info: PayloadInfo;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** The payload for this client's agent bundle, built (or taken from the cache). */
export async function buildPayload(
  bundleDir: string,
  opts: { progress?: Progress; env?: NodeJS.ProcessEnv } = {},
): Promise<Payload> {
  const env = opts.env ?? process.env;
  const bundle = readBundle(bundleDir);
  const nodeBin = await ensureRuntime({ env, ...(opts.progress ? { progress: opts.progress } : {}) });
  const key = sha256(
    Buffer.from(
      JSON.stringify([
        NODE_RUNTIME.integrity,
        bundle.version,
        bundle.build,
        bundle.files.map((f) => [f.path, f.sha256]),
      ]),
    ),
  ).slice(0, 24);
  const dir = join(clientCacheRoot(env), 'payloads');
  const file = join(dir, `dfs-ebpf-agent-${bundle.version}-${key}.tgz`);
  const infoFile = `${file}.json`;
  if (existsSync(file) && existsSync(infoFile)) {
    const cached = JSON.parse(readFileSync(infoFile, 'utf8')) as Omit<Payload, 'file'>;
    return { ...cached, file };
  }

  opts.progress?.(`packing the agent ${bundle.version} with Node ${NODE_RUNTIME.version} for nodes`);
  mkdirSync(dir, { recursive: true });
  const stage = mkdtempSync(join(dir, '.stage-'));
  try {
    const sums: string[] = [];
    let unpacked = 0;
    const put = (rel: string, data: Buffer | null, from?: string): void => {
      const abs = join(stage, rel);
      mkdirSync(dirname(abs), { recursive: true });
      if (from) copyFileSync(from, abs);
      else writeFileSync(abs, data ?? Buffer.alloc(0));
      const bytes = readFileSync(abs);
      sums.push(`${sha256(bytes)}  ${rel}`);
      unpacked += bytes.length;
    };
    put('runtime/bin/node', null, nodeBin);
    for (const f of bundle.files) put(join('agent', f.path), Buffer.from(f.data, 'base64'));
    const info: PayloadInfo = {
      version: bundle.version,
      build: bundle.build,
      arch: bundle.arch,
      runtime: NODE_RUNTIME.version,
      unpackedBytes: unpacked,
    };
    writeFileSync(
      join(stage, 'files.sha256'),
      sums.sort((a, b) => a.slice(66).localeCompare(b.slice(66))).join('\n') + '\n',
    );
    writeFileSync(join(stage, 'payload.json'), JSON.stringify(info) + '\n');
    const tmp = `${file}.tmp`;
    execFileSync('tar', ['--owner=0', '--group=0', '--numeric-owner', '-czf', tmp, '-C', stage, '.'], {
      stdio: 'pipe',
    });
    const data = readFileSync(tmp);
    const payload = { sha256: sha256(data), bytes: data.length, info };
    // One payload per build is enough: older ones go.
    for (const old of readdirSync(dir))
      if (old.startsWith('dfs-ebpf-agent-') && join(dir, old) !== tmp) rmSync(join(dir, old), { force: true });
    renameSync(tmp, file);
    writeFileSync(infoFile, JSON.stringify(payload) + '\n');
    return { ...payload, file };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
