/**
 * One command on several nodes (`--node a,b,c` or `--node all`, DESIGN.md §7): the command runs
 * for every node at once, each run with its own Io (its node, progress lines prefixed with the
 * node's name, its result collected instead of printed). One node's failure is that node's
 * result, with its reason; the others finish. Output: `{"nodes":[{"name","ok","error"?, …the
 * single-node result…}]}`, or a block of lines per node; exit 1 when any node failed.
 */

import { describeError, DfsError } from '@dfs/core/errors';
import { namesSeveral, nodeSpecList } from '@dfs/core/ssh/target';
import { ErrorCode, errorCodeName } from '@dfs/protocol';
import { value, type Parsed } from './args';
import { printJson, printLines, type Io } from './output';

export type NodeCommand = (p: Parsed, io: Io) => Promise<number>;

interface NodeOutcome {
  name: string;
  ok: boolean;
  error?: string;
  code?: string;
  doc: Record<string, unknown>;
  lines: string[];
}

/** Runs `command` once (one node), or for every node `--node` names and reports per node. */
export async function perNode(p: Parsed, io: Io, command: NodeCommand): Promise<number> {
  const spec = value(p, 'node');
  if (!namesSeveral(spec)) return command(p, io);
  const nodes = nodeSpecList(spec);
  const outcomes = await Promise.all(
    nodes.map(async (name): Promise<NodeOutcome> => {
      let doc: Record<string, unknown> = {};
      let lines: string[] = [];
      const sub: Io = {
        ...io,
        node: name,
        collect: (d, l) => {
          doc = d;
          lines = l;
        },
      };
      try {
        const code = await command(p, sub);
        return { name, ok: code === 0, doc, lines, ...(code !== 0 ? { error: `exit ${code}` } : {}) };
      } catch (err) {
        const code = errorCodeName(err instanceof DfsError ? err.code : ErrorCode.Internal);
        return { name, ok: false, error: describeError(err).split('\n')[0] ?? '', code, doc, lines };
      }
    }),
  );
  if (io.json) {
    printJson({
      nodes: outcomes.map((o) => ({
        name: o.name,
        ok: o.ok,
        ...(o.error !== undefined ? { error: o.error, code: o.code } : {}),
        ...o.doc,
      })),
    });
  } else {
    printLines(
      outcomes.flatMap((o) => [
        `== ${o.name}: ${o.ok ? 'ok' : `FAILED: ${o.error ?? ''}${o.code ? ` [${o.code}]` : ''}`}`,
        ...o.lines.map((l) => `   ${l}`),
      ]),
    );
  }
  const failed = outcomes.filter((o) => !o.ok).length;
  if (failed > 0) process.stderr.write(`dfs-ebpf: ${failed} of ${outcomes.length} nodes failed\n`);
  return failed > 0 ? 1 : 0;
}
