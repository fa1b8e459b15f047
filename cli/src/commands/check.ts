/**
 * `dfs-ebpf check [FILE.bpf.c ...]` (DESIGN.md §7): the checks before the verifier
 * (core/src/editing/check.ts) against the node's kernel — unknown sections, attach targets the
 * kernel lacks, helpers the program type may not call, map definitions libbpf or the kernel
 * refuse. `{"diagnostics":[DIAG]}` with a `code` each; exit 1 when there is an error. When the
 * default local node is not up, the checks that need no kernel (sections, maps) still run and
 * stderr says which did not.
 */

import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { ErrorCode } from '@dfs/protocol';
import type { NodeSession } from '@dfs/core/agent/session';
import { findBpfSources } from '@dfs/core/build/workspace';
import type { CheckDiagnostic } from '@dfs/core/editing/check';
import { checkText, loadNodeFacts, type NodeFacts } from '@dfs/core/editing/facts';
import { DfsError } from '@dfs/core/errors';
import type { Parsed } from '../args';
import { printJson, printLines, type Io } from '../output';
import { nodeSpec, openSession } from '../session';

export async function checkCommand(p: Parsed, io: Io): Promise<number> {
  const given = p.positionals.slice(1);
  const sources = given.length > 0 ? given : findBpfSources(process.cwd());
  if (sources.length === 0) throw new DfsError(ErrorCode.NotFound, `no *.bpf.c under ${process.cwd()}`);
  const texts = sources.map((file) => {
    try {
      return { file, text: readFileSync(file, 'utf8') };
    } catch (err) {
      throw new DfsError(ErrorCode.NotFound, `cannot read ${file}: ${(err as Error).message}`);
    }
  });
  let session: NodeSession | undefined;
  let node: NodeFacts | null = null;
  try {
    try {
      session = await openSession(p, io);
      node = await loadNodeFacts(session);
    } catch (err) {
      // Only the default node may be missing: a node the user named must answer.
      if (nodeSpec(p, io) !== undefined || !(err instanceof DfsError && err.code === ErrorCode.NodeNotUp)) throw err;
      process.stderr.write(
        `dfs-ebpf: ${(err as Error).message}; checked sections and maps only (helpers and attach targets need a node)\n`,
      );
    }
    const diagnostics: (CheckDiagnostic & { file: string; insn: null })[] = [];
    for (const { file, text } of texts) {
      const shown = given.includes(file) ? file : basename(resolve(file));
      for (const d of await checkText(text, node)) diagnostics.push({ file: shown, ...d, insn: null });
    }
    if (io.json) printJson({ diagnostics, kernel: node?.facts.release ?? null });
    else
      printLines([
        ...diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message} [${d.code}]`),
        `${texts.length} file${texts.length === 1 ? '' : 's'} checked${node ? ` against ${node.facts.release}` : ''}: ` +
          `${diagnostics.filter((d) => d.severity === 'error').length} errors, ${diagnostics.filter((d) => d.severity === 'warning').length} warnings`,
      ]);
    return diagnostics.some((d) => d.severity === 'error') ? 1 : 0;
  } finally {
    session?.close();
  }
}
