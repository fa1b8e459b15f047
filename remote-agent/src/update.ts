/**
 * Self-update (`agent/update`): the client ships its agent bundle over the authenticated
 * channel; the agent accepts only the bundle's known file names, checks each sha256, the
 * architecture and the manifest, writes everything to a staging directory beside its own
 * install directory, and swaps the two with renames. The running process keeps its loaded
 * code; the next connection starts the new agent. Nothing else on the node is touched, and no
 * new sudo rule is needed: whoever may run the agent may already load BPF programs.
 */

import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ErrorCode, type AgentUpdateParams, type AgentUpdateResult } from '@dfs/protocol';
import { AgentError } from './errors';
import type { AgentLog } from './log';
import { AGENT_VERSION } from './version';

const ALLOWED = /^(agent\.js|dfs_bpf\.node|manifest\.json|bpf\/[a-z0-9_]+\.bpf\.o|bpf\/probes\/[a-z0-9_]+\.bpf\.o)$/;
const REQUIRED = ['agent.js', 'dfs_bpf.node', 'manifest.json', 'bpf/bypass.bpf.o'];
const MAX_BUNDLE_BYTES = 64 << 20;

function bad(msg: string): AgentError {
  return new AgentError(ErrorCode.BadRequest, `agent/update: ${msg}`);
}

/** Check a bundle completely before anything is written; returns the decoded files. */
export function checkBundle(p: AgentUpdateParams, arch: string = process.arch): Map<string, Buffer> {
  if (p.arch !== arch) throw bad(`the bundle is built for ${p.arch}, this node runs ${arch}`);
  const files = new Map<string, Buffer>();
  let total = 0;
  for (const f of p.files) {
    if (!ALLOWED.test(f.path)) throw bad(`unexpected file ${JSON.stringify(f.path)} in the bundle`);
    if (files.has(f.path)) throw bad(`${f.path} appears twice`);
    const data = Buffer.from(f.data, 'base64');
    total += data.length;
    if (total > MAX_BUNDLE_BYTES) throw bad(`the bundle exceeds ${MAX_BUNDLE_BYTES >> 20} MiB`);
    const sha = createHash('sha256').update(data).digest('hex');
    if (sha !== f.sha256) throw bad(`${f.path} does not match its sha256 (damaged in transit?)`);
    files.set(f.path, data);
  }
  for (const r of REQUIRED) if (!files.has(r)) throw bad(`the bundle lacks ${r}`);
  let manifest: { version?: unknown };
  try {
    manifest = JSON.parse((files.get('manifest.json') ?? Buffer.alloc(0)).toString('utf8')) as { version?: unknown };
  } catch {
    throw bad('manifest.json is not JSON');
  }
  if (manifest.version !== p.version)
    throw bad(`manifest.json says ${String(manifest.version)}, the request ${p.version}`);
  return files;
}

/** Install a checked bundle over `installDir` (the directory holding the running agent.js). */
export function installBundle(p: AgentUpdateParams, installDir: string, log: AgentLog): AgentUpdateResult {
  const files = checkBundle(p);
  const parent = dirname(installDir);
  const staging = join(parent, `.update-${process.pid}`);
  const old = join(parent, `.old-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  try {
    for (const [path, data] of files) {
      mkdirSync(dirname(join(staging, path)), { recursive: true, mode: 0o755 });
      writeFileSync(join(staging, path), data, { mode: 0o644 });
    }
    renameSync(installDir, old);
    try {
      renameSync(staging, installDir);
    } catch (err) {
      renameSync(old, installDir); // put the working agent back
      throw err;
    }
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw new AgentError(
      ErrorCode.Internal,
      `agent/update: installing into ${installDir} failed: ${(err as Error).message}`,
    );
  }
  rmSync(old, { recursive: true, force: true });
  log.info('agent', `updated the agent in ${installDir}: ${AGENT_VERSION} → ${p.version}`);
  return { installed: p.version, previous: AGENT_VERSION };
}
