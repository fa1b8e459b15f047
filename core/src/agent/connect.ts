/**
 * Connecting to a node with a version check: resolve the node spec, open a session, and
 * compare the agent's version with the agent bundle this client ships. A local test node
 * is brought up to date in place (its agent is reinstalled from the bundle, as root, and the
 * session reopened); a remote node with another version is reported, or refused when the
 * protocol differs.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import { resolveTarget, type TargetOverrides } from '../ssh/target';
import { nodeUp } from '../testnode';
import { NodeSession, type SessionOptions } from './session';

export interface ConnectNodeOptions extends SessionOptions {
  /** Directory of the agent bundle this client ships (dist/agent). */
  bundleDir: string;
}

/** The version in `<bundleDir>/manifest.json`, or null when the bundle is missing. */
export function bundledAgentVersion(bundleDir: string): string | null {
  try {
    const m = JSON.parse(readFileSync(join(bundleDir, 'manifest.json'), 'utf8')) as { version?: unknown };
    return typeof m.version === 'string' ? m.version : null;
  } catch {
    return null;
  }
}

export async function connectNode(
  spec: string | undefined,
  overrides: TargetOverrides,
  opts: ConnectNodeOptions,
): Promise<NodeSession> {
  const target = resolveTarget(spec, overrides);
  const expected = bundledAgentVersion(opts.bundleDir);
  const redeployLocal = async (why: string): Promise<NodeSession> => {
    opts.log.info(`updating the agent on local node ${target.localNode}: ${why}`);
    opts.progress?.(`Updating the agent on ${target.localNode}`);
    const args = { agentBundleDir: opts.bundleDir, log: opts.log };
    await nodeUp(target.localNode ? { ...args, name: target.localNode } : args);
    return NodeSession.open(target, opts);
  };

  let session: NodeSession;
  try {
    session = await NodeSession.open(target, opts);
  } catch (err) {
    if (err instanceof DfsError && err.code === ErrorCode.AgentVersionMismatch && target.localNode) {
      return redeployLocal(err.message);
    }
    throw err;
  }
  if (expected !== null && session.info.agentVersion !== expected) {
    if (target.localNode) {
      session.close();
      return redeployLocal(`node has ${session.info.agentVersion}, this client ships ${expected}`);
    }
    opts.log.warn(
      `agent ${session.info.agentVersion} on ${target.label} differs from the bundled ${expected}; the protocol matches, continuing`,
    );
  }
  return session;
}
