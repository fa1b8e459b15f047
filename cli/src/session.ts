/**
 * The CLI's one way to open a session with a node: `--node` (or the default local node)
 * resolved and connected through core's connectNode, progress and logs on stderr, the agent
 * bundle that ships beside the CLI. Every command that talks to a node calls openSession.
 */

import { connectNode } from '@dfs/core/agent/connect';
import type { NodeSession } from '@dfs/core/agent/session';
import { value, type Parsed } from './args';
import { stderrLogger, stderrProgress, type Io } from './output';
import { agentBundleDir } from './paths';

/** The node this run is for: the fan-out's one (fleet.ts), else `--node` (absent: the default local node). */
export function nodeSpec(p: Parsed, io: Io): string | undefined {
  return io.node ?? value(p, 'node');
}

export async function openSession(p: Parsed, io: Io): Promise<NodeSession> {
  return connectNode(
    nodeSpec(p, io),
    {},
    { log: stderrLogger(io), progress: stderrProgress(io), clientName: 'dfs-ebpf cli', bundleDir: agentBundleDir() },
  );
}
