/**
 * Connecting to a node with a version check: resolve the node spec, open a session, and
 * compare the agent's version and build digest with the agent bundle this client ships. When
 * they differ (or the installed agent speaks another protocol), the bundle is signed with this
 * client's update key (signing.ts) and deployed through the installed agent itself
 * (`agent/update`), and the session reopened, for local and remote nodes alike. A node that
 * does not trust the key refuses; the error then says which key to pin and where.
 */

import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import { resolveTarget, type NodeTarget, type TargetOverrides } from '../ssh/target';
import { bundledAgentBuild, bundledAgentVersion, readBundle } from './bundle';
import { deployAgent, NodeSession, type SessionOptions } from './session';
import { ensureUpdateKey, signBundle } from './signing';

export { bundledAgentVersion } from './bundle';

export interface ConnectNodeOptions extends SessionOptions {
  /** Directory of the agent bundle this client ships (dist/agent). */
  bundleDir: string;
}

async function redeploy(target: NodeTarget, opts: ConnectNodeOptions, why: string): Promise<NodeSession> {
  opts.log.info(`deploying the agent to ${target.label}: ${why}`);
  opts.progress?.(`Updating the agent on ${target.label}`);
  const key = ensureUpdateKey();
  let res;
  try {
    res = await deployAgent(target, signBundle(readBundle(opts.bundleDir), key), opts);
  } catch (err) {
    if (!(err instanceof DfsError)) throw err;
    if (err.code === ErrorCode.PermissionDenied) {
      throw new DfsError(
        err.code,
        `${err.message}. This client's update key is ${key.fingerprint}, in ${key.paths.publicKey}: ${key.line}`,
        err.detail,
      );
    }
    if (err.code === ErrorCode.BadRequest && /unknown field (build|signature)/.test(err.message)) {
      throw new DfsError(
        ErrorCode.AgentVersionMismatch,
        `the agent on ${target.label} predates signed updates and cannot be updated remotely; install the agent on it again and pin this client's key (${key.paths.publicKey}), see README (remote node)`,
        err.message,
      );
    }
    throw err;
  }
  opts.log.info(`agent on ${target.label}: ${res.previous} → ${res.installed}`);
  return NodeSession.open(target, opts);
}

export async function connectNode(
  spec: string | undefined,
  overrides: TargetOverrides,
  opts: ConnectNodeOptions,
): Promise<NodeSession> {
  const target = resolveTarget(spec, overrides);
  const expected = bundledAgentVersion(opts.bundleDir);
  const expectedBuild = bundledAgentBuild(opts.bundleDir);
  const current = (s: NodeSession): boolean =>
    s.info.agentVersion === expected && (expectedBuild === '' || s.info.agentBuild === expectedBuild);
  let session: NodeSession;
  try {
    session = await NodeSession.open(target, opts);
  } catch (err) {
    if (err instanceof DfsError && err.code === ErrorCode.AgentVersionMismatch && expected !== null) {
      return redeploy(target, opts, err.message);
    }
    throw err;
  }
  if (expected === null || current(session)) return session;
  const installed = `${session.info.agentVersion} (build ${session.info.agentBuild || 'unknown'})`;
  session.close();
  const updated = await redeploy(
    target,
    opts,
    `node has ${installed}, this client ships ${expected} (build ${expectedBuild})`,
  );
  if (!current(updated)) {
    updated.close();
    throw new DfsError(
      ErrorCode.AgentVersionMismatch,
      `the agent on ${target.label} still reports ${updated.info.agentVersion} after deploying ${expected}`,
    );
  }
  return updated;
}
