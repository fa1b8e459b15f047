// Test support for tests on a real local test node: bring one up (named per test file so
// files never share a node), open sessions through the real SSH path, and move verifiable
// data through its JuiceFS mount.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connectNode } from '../../core/src/agent/connect';
import type { NodeSession } from '../../core/src/agent/session';
import { nullLogger } from '../../core/src/log';
import { nodeUp, type LocalNode } from '../../core/src/testnode';
import { repoRoot } from './repo';

export const agentBundle = (): string => join(repoRoot(), 'dist', 'agent');

export function upNode(name: string): Promise<LocalNode> {
  return nodeUp({ name, agentBundleDir: agentBundle() });
}

export function openSession(
  name: string,
  extra: { onAuthStart?: () => void; knownHostsFile?: string } = {},
): Promise<NodeSession> {
  return connectNode(`local:${name}`, extra.knownHostsFile ? { knownHostsFile: extra.knownHostsFile } : {}, {
    log: nullLogger,
    clientName: 'integration-test',
    bundleDir: agentBundle(),
    ...(extra.onAuthStart ? { onAuthStart: extra.onAuthStart } : {}),
  });
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Drop the page cache so the next reads go through JuiceFS to its object store. */
export async function dropCaches(): Promise<void> {
  await writeFile('/proc/sys/vm/drop_caches', '3');
}

export interface WrittenFile {
  path: string;
  sha: string;
  size: number;
}

/** Write `sizes` random files under dir, `parallel` at a time; returns their hashes. */
export async function writeRandomFiles(dir: string, sizes: number[], parallel = 16): Promise<WrittenFile[]> {
  await mkdir(dir, { recursive: true });
  const out: WrittenFile[] = new Array<WrittenFile>(sizes.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < sizes.length) {
      const i = next++;
      const data = randomBytes(sizes[i] ?? 0);
      const path = join(dir, `f${i}-${data.length}`);
      await writeFile(path, data);
      out[i] = { path, sha: sha256(data), size: data.length };
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return out;
}

/** Read every file back and return the ones whose content differs (empty = all identical). */
export async function corruptFiles(files: WrittenFile[], parallel = 16): Promise<string[]> {
  const bad: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const f = files[next++];
      if (!f) continue;
      const data = await readFile(f.path).catch(() => undefined);
      if (!data || data.length !== f.size || sha256(data) !== f.sha) bad.push(f.path);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return bad;
}

/**
 * Keep writing and verifying small files on the mount until `stop()` is called (bounded by
 * `maxMs` in any case); resolves with everything written, for a later full re-check.
 */
export function backgroundIo(dir: string, maxMs = 60_000): { stop: () => Promise<WrittenFile[]> } {
  let stopped = false;
  const written: WrittenFile[] = [];
  const deadline = Date.now() + maxMs;
  const loop = (async () => {
    let round = 0;
    while (!stopped && Date.now() < deadline) {
      const files = await writeRandomFiles(
        join(dir, `r${round++}`),
        Array.from({ length: 32 }, (_, i) => 1 + ((i * 7919) % 65536)),
        8,
      );
      written.push(...files);
      const bad = await corruptFiles(files, 8);
      if (bad.length > 0) throw new Error(`corrupt while I/O was running: ${bad.join(', ')}`);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return written;
    },
  };
}

export async function clean(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
