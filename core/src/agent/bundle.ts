/**
 * The agent bundle this client ships (dist/agent: agent.js, dfs_bpf.node, BPF objects,
 * manifest.json with version, architecture and build digest), read into an unsigned
 * `agent/update` request (signing.ts signs it).
 */

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ErrorCode, type AgentUpdateParams } from '@dfs/protocol';
import { DfsError } from '../errors';

interface Manifest {
  version?: unknown;
  arch?: unknown;
  build?: unknown;
}

function readManifest(bundleDir: string): Manifest | null {
  try {
    return JSON.parse(readFileSync(join(bundleDir, 'manifest.json'), 'utf8')) as Manifest;
  } catch {
    return null;
  }
}

/** The version in `<bundleDir>/manifest.json`, or null when the bundle is missing. */
export function bundledAgentVersion(bundleDir: string): string | null {
  const v = readManifest(bundleDir)?.version;
  return typeof v === 'string' ? v : null;
}

/** The bundle's content digest (manifest "build"), or '' when it has none. */
export function bundledAgentBuild(bundleDir: string): string {
  const b = readManifest(bundleDir)?.build;
  return typeof b === 'string' ? b : '';
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

export function readBundle(bundleDir: string): AgentUpdateParams {
  const m = readManifest(bundleDir);
  if (!m || typeof m.version !== 'string' || typeof m.arch !== 'string') {
    throw new DfsError(
      ErrorCode.NotFound,
      `no agent bundle in ${bundleDir} (manifest.json with version and arch); run npm run build`,
    );
  }
  const files = walk(bundleDir)
    .filter((p) => !p.endsWith('.map'))
    .map((p) => {
      const data = readFileSync(p);
      return {
        path: relative(bundleDir, p),
        sha256: createHash('sha256').update(data).digest('hex'),
        data: data.toString('base64'),
      };
    });
  return { version: m.version, arch: m.arch, build: typeof m.build === 'string' ? m.build : '', files };
}
